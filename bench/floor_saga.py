"""The order saga by hand, for ``bench.order_floor``: the shop's messages and
transactions for one order with pika and psycopg2 alone, on the shop's own
broker objects and tables (the steps are listed in ``bench.order_floor``).
"""

import json
import uuid

import pika
import psycopg2

HANDLER_QUEUES = {  # name -> (queue, exchange, routing key)
    "inventory-events": (
        "evt-orders-order_created--inventory.reserve_stock",
        "orders.events",
        "order_created",
    ),
    "orders-events": (
        "evt-inventory-stock_reserved--orders.confirm_order",
        "inventory.events",
        "stock_reserved",
    ),
}


def _dsn(uri):
    return uri.replace("postgresql+psycopg2://", "postgresql://", 1)


class Saga:
    def __init__(self, amqp_uri, db_uris):
        url = amqp_uri.replace("pyamqp://", "amqp://", 1)
        self.connection = pika.BlockingConnection(pika.URLParameters(url))
        self.rpc = self.connection.channel()
        self.events = self.connection.channel()
        self.events.confirm_delivery()
        self.published = self.statements = self.commits = 0
        self.rpc.exchange_declare("nameko-rpc", "topic", durable=True)
        self.inbox = {}
        for name, (queue, exchange, key) in HANDLER_QUEUES.items():
            self.rpc.exchange_declare(exchange, "topic", durable=True)
            self.rpc.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
            self.rpc.queue_bind(queue, exchange, key)
            self._consume(name, queue)
        self.rpc.queue_declare("rpc-orders", durable=True, arguments={"x-queue-type": "quorum"})
        self.rpc.queue_bind("rpc-orders", "nameko-rpc", "orders.*")
        self._consume("orders-rpc", "rpc-orders")
        self.replies = self.rpc.queue_declare("", exclusive=True).method.queue
        self.rpc.queue_bind(self.replies, "nameko-rpc", self.replies)
        self._consume("client-replies", self.replies)
        self.orders_db = psycopg2.connect(_dsn(db_uris["orders:Base"]))
        self.inventory_db = psycopg2.connect(_dsn(db_uris["inventory:Base"]))
        self.unmarked = {"orders": [], "inventory": []}

    def _consume(self, name, queue):
        channel = self.connection.channel()
        self.inbox[name] = (channel, channel.consume(queue))

    def send(self, exchange, key, payload, reply_to=None, event=False):
        properties = pika.BasicProperties(
            content_type="application/json",
            delivery_mode=2 if event else 1,
            reply_to=reply_to,
            correlation_id=uuid.uuid4().hex,
        )
        channel = self.events if event else self.rpc  # events wait for their confirm
        channel.basic_publish(exchange, key, json.dumps(payload), properties)
        self.published += 1

    def take(self, name):
        channel, messages = self.inbox[name]
        method, properties, body = next(messages)
        channel.basic_ack(method.delivery_tag)
        return properties, json.loads(body)

    def sql(self, cursor, statement, *params):
        cursor.execute(statement, params)
        self.statements += 1
        return cursor

    def commit(self, db):
        db.commit()
        self.commits += 1

    def outbox(self, cursor, event_type, data):
        payload = {"event_id": str(uuid.uuid4()), "occurred_at": "now", "data": data}
        self.sql(
            cursor,
            "INSERT INTO outbox (event_type, payload, headers, created_at)"
            " VALUES (%s, %s, '{}', now()) RETURNING id",
            event_type,
            json.dumps(payload),
        )
        return cursor.fetchone()[0], payload

    def publish(self, service, row_id, event_type, payload):
        self.send(f"{service}.events", event_type, payload, event=True)
        self.unmarked[service].append(row_id)

    def mark(self):
        for service, db in (("orders", self.orders_db), ("inventory", self.inventory_db)):
            if self.unmarked[service]:
                with db.cursor() as cursor:
                    self.sql(
                        cursor,
                        "UPDATE outbox SET published_at = now() WHERE id = ANY(%s)",
                        self.unmarked[service],
                    )
                self.commit(db)
                self.unmarked[service] = []

    def order(self, user_id, product_id):
        self.send(
            "nameko-rpc",
            "orders.create_order",
            {"user_id": user_id, "items": [{"product_id": product_id, "quantity": 1}]},
            reply_to=self.replies,
        )
        request, create = self.take("orders-rpc")
        with self.orders_db.cursor() as cursor:
            self.sql(
                cursor,
                "SELECT product_id, price_cents FROM known_prices WHERE product_id = ANY(%s)",
                [product_id],
            )
            prices = dict(cursor.fetchall())
            self.sql(cursor, "SELECT deleted_at FROM known_users WHERE user_id = %s", user_id)
            self.sql(
                cursor,
                "INSERT INTO orders (user_id, status, total_cents, created_at, updated_at)"
                " VALUES (%s, 'pending', %s, now(), now()) RETURNING id",
                user_id,
                prices[product_id],
            )
            order_id = cursor.fetchone()[0]
            self.sql(
                cursor,
                "INSERT INTO order_items VALUES (%s, %s, 1, %s)",
                order_id,
                product_id,
                prices[product_id],
            )
            created = self.outbox(cursor, "order_created", {"order_id": order_id, **create})
        self.commit(self.orders_db)
        self.send("nameko-rpc", request.reply_to, {"result": {"id": order_id}})
        self.publish("orders", created[0], "order_created", created[1])
        self.take("client-replies")
        self.reserve()
        self.confirm()
        return order_id

    def reserve(self):
        _, event = self.take("inventory-events")
        order_id, items = event["data"]["order_id"], event["data"]["items"]
        with self.inventory_db.cursor() as cursor:
            self.sql(
                cursor,
                "INSERT INTO processed_events VALUES (%s, 'reserve_stock', now())"
                " ON CONFLICT DO NOTHING",
                event["event_id"],
            )
            self.sql(cursor, "SELECT status FROM reservations WHERE order_id = %s", order_id)
            self.sql(
                cursor,
                "SELECT id, stock FROM products WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
                [i["product_id"] for i in items],
            )
            for item in items:
                self.sql(
                    cursor,
                    "UPDATE products SET stock = stock - %s, reserved = reserved + %s,"
                    " updated_at = now() WHERE id = %s",
                    item["quantity"],
                    item["quantity"],
                    item["product_id"],
                )
            self.sql(
                cursor,
                "INSERT INTO reservations VALUES (%s, 'reserved', now(), now())",
                order_id,
            )
            for item in items:
                self.sql(
                    cursor,
                    "INSERT INTO reservation_lines VALUES (%s, %s, %s)",
                    order_id,
                    item["product_id"],
                    item["quantity"],
                )
            reserved = self.outbox(cursor, "stock_reserved", {"order_id": order_id})
        self.commit(self.inventory_db)
        self.publish("inventory", reserved[0], "stock_reserved", reserved[1])

    def confirm(self):
        _, event = self.take("orders-events")
        order_id = event["data"]["order_id"]
        with self.orders_db.cursor() as cursor:
            self.sql(
                cursor,
                "INSERT INTO processed_events VALUES (%s, 'confirmed_order', now())"
                " ON CONFLICT DO NOTHING",
                event["event_id"],
            )
            self.sql(
                cursor,
                "UPDATE orders SET status = 'confirmed', updated_at = now()"
                " WHERE id = %s AND status = 'pending' RETURNING user_id, total_cents",
                order_id,
            )
            self.sql(
                cursor,
                "SELECT product_id, quantity FROM order_items WHERE order_id = %s",
                order_id,
            )
            confirmed = self.outbox(cursor, "order_confirmed", {"order_id": order_id})
        self.commit(self.orders_db)
        self.publish("orders", confirmed[0], "order_confirmed", confirmed[1])
