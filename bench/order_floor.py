"""``python -m bench.order_floor``: the order saga's floor on this machine.

The shop's messages and transactions for one order, done by one plain script
with pika and psycopg2 and nothing else: no HTTP, no Nameko, no ORM, no
eventlet, no tracing, metrics or logs. The same broker objects (topic
exchanges, classic RPC queues, quorum handler queues, persistent events with
publisher confirms, transient RPC messages without) and the shop's own tables
(migrated as the services' are), one order at a time:

1. the client's ``create_order`` request; orders asks inventory for the price
   (request, ``SELECT``, reply), checks the user and writes the order, its line
   and its ``order_created`` row in one transaction, replies, publishes the event;
2. inventory claims the event, locks the product, moves the stock, writes the
   reservation, its line and its ``stock_reserved`` row in one transaction,
   publishes, acknowledges;
3. orders claims that event, confirms the order, writes ``order_confirmed`` in
   one transaction, publishes, acknowledges.

Published outbox rows are marked in one ``UPDATE`` per ``MARK_EVERY`` orders, as
the shop's relay batches them. CPU is this process's, the broker's and
PostgreSQL's, read as ``bench.order_path`` reads them.
"""

import json
import sys
import uuid

import pika
import psycopg2

from bench import cpu
from bench.stack import databases, vhost

MARK_EVERY = 20
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
        for service in ("orders", "inventory"):
            self.rpc.queue_declare(f"rpc-{service}", durable=True)
            self.rpc.queue_bind(f"rpc-{service}", "nameko-rpc", f"{service}.*")
            self._consume(f"{service}-rpc", f"rpc-{service}")
        self.reply_queues = {}
        for caller in ("client", "orders"):
            queue = self.rpc.queue_declare("", exclusive=True).method.queue
            self.rpc.queue_bind(queue, "nameko-rpc", queue)
            self.reply_queues[caller] = queue
            self._consume(f"{caller}-replies", queue)
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
            reply_to=self.reply_queues["client"],
        )
        request, create = self.take("orders-rpc")
        self.send(
            "nameko-rpc",
            "inventory.get_products",
            {"ids": [product_id]},
            reply_to=self.reply_queues["orders"],
        )
        asked, _ = self.take("inventory-rpc")
        with self.inventory_db.cursor() as cursor:
            self.sql(
                cursor, "SELECT id, price_cents FROM products WHERE id = ANY(%s)", [product_id]
            )
            prices = dict(cursor.fetchall())
        self.commit(self.inventory_db)
        self.send("nameko-rpc", asked.reply_to, {"result": prices})
        self.take("orders-replies")
        with self.orders_db.cursor() as cursor:
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


def _seed(saga):
    with saga.inventory_db.cursor() as cursor:
        cursor.execute(
            "INSERT INTO products (sku, name, price_cents, stock, reserved, created_at,"
            " updated_at) VALUES ('FLOOR-1', 'Floor', 100, 1000000000, 0, now(), now())"
            " RETURNING id"
        )
        product_id = cursor.fetchone()[0]
    saga.inventory_db.commit()
    with saga.orders_db.cursor() as cursor:
        cursor.execute("INSERT INTO known_users VALUES (1, NULL)")
    saga.orders_db.commit()
    return product_id


def measure(total):
    """CPU ms and counts per order of ``total`` orders (after 50 to warm up)."""
    with vhost() as amqp_uri, databases() as db_uris:
        saga = Saga(amqp_uri, db_uris)
        product_id = _seed(saga)
        for number in range(50):
            saga.order(1, product_id)
            if number % MARK_EVERY == 0:
                saga.mark()
        saga.mark()
        counts = (saga.published, saga.statements, saga.commits)
        before = cpu.sample({})
        for number in range(total):
            saga.order(1, product_id)
            if number % MARK_EVERY == MARK_EVERY - 1:
                saga.mark()
        saga.mark()
        after = cpu.sample({})
        saga.connection.close()
        saga.orders_db.close()
        saga.inventory_db.close()
    used = cpu.per_request_ms(before, after, total)
    published, statements, commits = (
        (now - then) / total
        for now, then in zip((saga.published, saga.statements, saga.commits), counts, strict=True)
    )
    return {
        "cpu_services_ms": used["load"],  # this script plays every service
        "cpu_broker_ms": used["broker"],
        "cpu_postgres_ms": used["postgres"],
        "cpu_total_ms": round(used["load"] + used["broker"] + used["postgres"], 3),
        "amqp_published": round(published, 2),
        "sql_statements": round(statements, 2),
        "sql_commits": round(commits, 2),
    }


if __name__ == "__main__":
    result = measure(int(sys.argv[1]) if len(sys.argv) > 1 else 600)
    print(json.dumps(result, indent=1))
