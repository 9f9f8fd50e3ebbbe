"""``python -m bench.order_floor``: the order saga's floor on this machine.

The shop's messages and transactions for one order, done by one plain script
with pika and psycopg2 and nothing else: no HTTP, no Nameko, no ORM, no
eventlet, no tracing, metrics or logs. The same broker objects (topic
exchanges, quorum RPC and handler queues, persistent events with
publisher confirms, transient RPC messages without) and the shop's own tables
(migrated as the services' are), one order at a time:

1. the client's ``create_order`` request; orders reads the price and checks the
   user in its replicas, and writes the order, its line and its ``order_created``
   row in the same transaction, replies, publishes the event;
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

from bench import cpu
from bench.floor_saga import Saga
from bench.stack import databases, vhost

MARK_EVERY = 20


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
        cursor.execute("INSERT INTO known_prices VALUES (%s, 100, 1)", [product_id])
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
