"""What every fault must leave intact, read from the databases and the broker.

DESIGN.md's "Failure semantics": each accepted order ends in a final state;
for each product, initial stock = stock + reserved + fulfilled; points are
the sum of floor(total) over a user's completed orders; each (event_id,
handler) takes effect once; every outbox row is published; no message waits
in a dead-letter queue.
"""

import collections
import time
from decimal import Decimal

from kombu import Connection
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.faults.inject import queues
from tests.rabbitmqctl import MANAGEMENT

# Which reservation state each order state must have in inventory.
RESERVATION_FOR = {
    "confirmed": {"reserved"},
    "completed": {"fulfilled"},
    "rejected": {"failed"},
    # A cancel either released the reservation, or overtook it and left a tombstone.
    "cancelled": {"released", "cancelled"},
}


def query(db_uri, sql, **params):
    engine = create_engine(db_uri, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return connection.execute(text(sql), params).all()
    finally:
        engine.dispose()


def queue_depths(amqp_uri, prefix="", management=MANAGEMENT):
    """``{queue: messages}`` in the vhost of ``amqp_uri``, from the management API."""
    return {
        q["name"]: q.get("messages", 0)
        for q in queues(amqp_uri, management)
        if q["name"].startswith(prefix)
    }


def ready_messages(amqp_uri, prefixes, management=MANAGEMENT):
    """``{queue: ready messages}`` for the non-empty queues named with ``prefixes``,
    counted by the broker now (the management API's figures lag by seconds)."""
    names = [name for name in queue_depths(amqp_uri, "", management) if name.startswith(prefixes)]
    with Connection(amqp_uri) as connection:
        channel = connection.default_channel
        counts = {name: channel.queue_declare(name, passive=True).message_count for name in names}
    return {name: n for name, n in counts.items() if n}


def wait_until_settled(db_uris, amqp_uri, order_ids, timeout, management=MANAGEMENT):
    """Until none of ``order_ids`` is pending and the saga has gone quiet: every
    outbox row published and no event waiting in a handler or delay queue
    (a handler still retrying would settle later). Returns the seconds it took."""
    started = time.monotonic()
    while True:
        rows = query(db_uris["orders:Base"], "SELECT id FROM orders WHERE status = 'pending'")
        waiting = {
            "pending orders": sorted({row.id for row in rows} & set(order_ids)),
            "unpublished events": sum(
                query(db_uris[key], "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL")[
                    0
                ].n
                for key in ("orders:Base", "inventory:Base")
            ),
            "queued events": ready_messages(amqp_uri, ("evt-", "shop.retry."), management),
        }
        if not any(waiting.values()):
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not settled after {timeout}s: {waiting}")
        time.sleep(0.2)


def check(
    db_uris, amqp_uri, load, initial_stock, dead_letters_allowed=False, management=MANAGEMENT
):
    """Assert every invariant; returns the lost and doubled effects (both empty)
    and counts for the scenario's report."""
    lost, doubled = [], []
    orders = {
        row.id: row
        for row in query(
            db_uris["orders:Base"],
            "SELECT id, user_id, status, total_cents, idempotency_key FROM orders",
        )
    }
    # Accepted orders exist, and nothing exists that no client was told of.
    lost += [f"order {i} was accepted but is gone" for i in set(load.accepted) - set(orders)]
    lost += [f"order {o.id} is still pending" for o in orders.values() if o.status == "pending"]
    lost += [f"a client gave up on order key {key}" for key in load.abandoned]
    doubled += [
        f"order {i}: no client was answered for it" for i in set(orders) - set(load.accepted)
    ]

    reservations = {
        row.order_id: row.status
        for row in query(db_uris["inventory:Base"], "SELECT order_id, status FROM reservations")
    }
    for order in orders.values():
        if (
            order.status != "pending"
            and reservations.get(order.id) not in RESERVATION_FOR[order.status]
        ):
            lost.append(
                f"order {order.id} is {order.status}, its reservation {reservations.get(order.id)}"
            )

    held = collections.Counter()
    for row in query(
        db_uris["inventory:Base"],
        "SELECT r.status, l.product_id, l.quantity FROM reservation_lines l "
        "JOIN reservations r ON r.order_id = l.order_id "
        "WHERE r.status IN ('reserved', 'fulfilled')",
    ):
        held[(row.product_id, row.status)] += row.quantity
    for row in query(db_uris["inventory:Base"], "SELECT id, stock, reserved FROM products"):
        accounted = row.stock + row.reserved + held[(row.id, "fulfilled")]
        if row.reserved != held[(row.id, "reserved")]:
            lost.append(
                f"product {row.id}: reserved {row.reserved}, held {held[(row.id, 'reserved')]}"
            )
        if accounted < initial_stock[row.id]:
            lost.append(f"product {row.id}: {initial_stock[row.id] - accounted} units gone")
        if accounted > initial_stock[row.id]:
            doubled.append(f"product {row.id}: {accounted - initial_stock[row.id]} units extra")

    expected_points = collections.Counter()
    for order in orders.values():
        if order.status == "completed":
            expected_points[order.user_id] += int(Decimal(order.total_cents) // 100)
    for row in query(db_uris["users:Base"], "SELECT id, points FROM users"):
        if row.points < expected_points[row.id]:
            lost.append(f"user {row.id}: {expected_points[row.id] - row.points} points missing")
        if row.points > expected_points[row.id]:
            doubled.append(f"user {row.id}: {row.points - expected_points[row.id]} points extra")

    for service in ("orders", "inventory"):
        unpublished = query(
            db_uris[f"{service}:Base"],
            "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL",
        )[0].n
        lost += [f"{service}: {unpublished} outbox rows unpublished"] if unpublished else []

    dead = {name: n for name, n in queue_depths(amqp_uri, "dlq.", management).items() if n}
    assert not lost and not doubled, {"lost": lost, "doubled": doubled}
    if not dead_letters_allowed:
        assert not dead, f"dead letters: {dead}"
    return {
        "lost": len(lost),
        "doubled": len(doubled),
        "orders": len(orders),
        "by_status": dict(collections.Counter(o.status for o in orders.values())),
        "dead_letters": dead,
    }
