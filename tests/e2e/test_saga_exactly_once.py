"""The order saga once and once only, across the three running services on PostgreSQL:
retried requests, concurrent ones, redelivered events, a crash before publishing, a
dead letter replayed."""

import json
import uuid

import pytest
from kombu import Connection

from extensions.envelopes import envelope
from inventory.service import InventoryService
from shop.errors import NotFound
from tests.polling import eventually
from tools import dead_letters
from users.service import UsersService


def test_one_idempotency_key_twice_gives_one_order_and_one_reservation(
    shop, customer, make_product, settled, sql
):
    product = make_product(stock=5)
    items = [{"product_id": product["id"], "quantity": 1}]

    first = shop.orders.create_order(customer["id"], items, idempotency_key="checkout-1")
    again = shop.orders.create_order(customer["id"], items, idempotency_key="checkout-1")

    assert again["id"] == first["id"]
    settled(first["id"])
    assert shop.orders.list_orders(user_id=customer["id"])["total"] == 1
    assert sql("inventory", "select count(*) from reservations") == [(1,)]
    assert shop.inventory.get_product(product["id"])["stock"] == 4


def test_concurrent_requests_with_one_idempotency_key_create_one_order(
    shop, customer, make_product, settled
):
    product = make_product(stock=50)
    items = [{"product_id": product["id"], "quantity": 1}]

    replies = [
        shop.orders.create_order.call_async(customer["id"], items, idempotency_key="double-click")
        for _ in range(10)
    ]
    order_ids = {reply.result()["id"] for reply in replies}

    assert len(order_ids) == 1
    settled(order_ids.pop())
    assert shop.inventory.get_product(product["id"])["stock"] == 49


def test_fifty_concurrent_orders_for_ten_units_confirm_exactly_ten(
    shop, customer, make_product, settled, sql
):
    product = make_product(stock=10)
    items = [{"product_id": product["id"], "quantity": 1}]

    replies = [shop.orders.create_order.call_async(customer["id"], items) for _ in range(50)]
    orders = [settled(reply.result()["id"]) for reply in replies]

    statuses = [order["status"] for order in orders]
    assert (statuses.count("confirmed"), statuses.count("rejected")) == (10, 40)
    product = shop.inventory.get_product(product["id"])
    assert (product["stock"], product["reserved"]) == (0, 10)
    reserved = sql(
        "inventory",
        "select r.order_id, l.quantity from reservations r"
        " join reservation_lines l using (order_id) where r.status = 'reserved'",
    )
    confirmed_ids = sorted(o["id"] for o in orders if o["status"] == "confirmed")
    assert sorted(order_id for order_id, _ in reserved) == confirmed_ids
    assert all(quantity == 1 for _, quantity in reserved)


def test_a_duplicated_event_changes_nothing(shop, customer, make_product, settled, sql, redeliver):
    product = make_product(stock=5)
    order = shop.orders.create_order(
        customer["id"], [{"product_id": product["id"], "quantity": 2}]
    )
    settled(order["id"])
    [(payload,)] = sql("orders", "select payload from outbox where event_type = 'order_created'")
    payload = json.loads(payload) if isinstance(payload, str) else payload

    def announced():
        return sql("inventory", "select count(*) from outbox where event_type = 'stock_reserved'")

    # redeliver re-raises what the handler raised: each duplicate was handled, not crashed on.
    assert redeliver("orders", "order_created", payload, InventoryService, "reserve_stock") is None
    assert announced() == [(1,)]  # the same event again: nothing at all
    # The same order announced again under a new event id (as a re-drive of a stuck
    # order does) must not reserve twice either; inventory only says again that it is.
    again = {**payload, "event_id": str(uuid.uuid4())}
    assert redeliver("orders", "order_created", again, InventoryService, "reserve_stock") is None

    product = shop.inventory.get_product(product["id"])
    assert (product["stock"], product["reserved"]) == (3, 2)
    assert sql("inventory", "select count(*) from reservations") == [(1,)]
    assert announced() == [(2,)]


def test_a_duplicated_order_completed_event_adds_points_once(
    shop, customer, make_product, settled, sql, redeliver
):
    product = make_product(stock=5, price="10.00")
    order = shop.orders.create_order(
        customer["id"], [{"product_id": product["id"], "quantity": 1}]
    )
    settled(order["id"])
    shop.orders.complete_order(order["id"])
    eventually(lambda: shop.users.get_user(customer["id"])["points"] == 10)
    [(payload,)] = sql("orders", "select payload from outbox where event_type = 'order_completed'")
    payload = json.loads(payload) if isinstance(payload, str) else payload

    outcome = redeliver(
        "orders", "order_completed", payload, UsersService, "add_points_for_completed_order"
    )

    assert outcome is None  # handled without raising
    assert shop.users.get_user(customer["id"])["points"] == 10


def test_a_cancel_that_overtakes_its_order_stops_a_late_reservation(
    shop, customer, make_product, sql, redeliver
):
    product = make_product(stock=5)
    order = {
        "order_id": 987654,
        "user_id": customer["id"],
        "status": "cancelled",
        "total": "19.99",
        "items": [{"product_id": product["id"], "quantity": 1}],
    }

    for event_type, handler in (
        ("order_cancelled", "release_stock"),
        ("order_created", "reserve_stock"),
    ):
        assert redeliver("orders", event_type, envelope(order), InventoryService, handler) is None

    assert shop.inventory.get_product(product["id"])["stock"] == 5
    assert sql("inventory", "select status from reservations where order_id = 987654") == [
        ("cancelled",)
    ]


def test_an_event_left_in_the_outbox_by_a_crash_is_published_later(
    shop, customer, make_product, sql, handled
):
    product = make_product(stock=5)
    order = shop.orders.create_order(
        customer["id"], [{"product_id": product["id"], "quantity": 1}]
    )
    eventually(lambda: shop.orders.get_order(order["id"])["status"] == "confirmed")
    [(payload,)] = sql("orders", "select payload from outbox where event_type = 'order_created'")
    event_id = (json.loads(payload) if isinstance(payload, str) else payload)["event_id"]

    # Marked at the relay's next tick: from then on no process holds the row in memory.
    eventually(
        lambda: sql("orders", "select count(*) from outbox where published_at is null") == [(0,)]
    )
    # As if the process died between commit and publish: the row is unpublished again.
    with handled(InventoryService, "reserve_stock", event_id) as republished:
        sql("orders", "update outbox set published_at = null where event_type = 'order_created'")

    # Republished, consumed, and recognised as a duplicate rather than reserved again.
    assert republished.get() is None
    eventually(
        lambda: sql("orders", "select count(*) from outbox where published_at is null") == [(0,)]
    )
    product = shop.inventory.get_product(product["id"])
    assert (product["stock"], product["reserved"]) == (4, 1)
    assert sql("inventory", "select count(*) from reservations") == [(1,)]


def test_a_dead_lettered_event_is_replayed_once_its_cause_is_fixed(
    shop, shop_config, sql, redeliver, handled
):
    queue = "evt-orders-order_completed--users.add_points_for_completed_order"
    dlq = f"dlq.{queue}"
    amqp_uri = shop_config["AMQP_URI"]
    event = envelope(
        {"order_id": 1, "user_id": 999999, "total": "5.00", "items": [], "status": "completed"}
    )

    with pytest.raises(NotFound):
        redeliver(
            "orders", "order_completed", event, UsersService, "add_points_for_completed_order"
        )

    # However many attempts the handler gets first, the event ends in its dead-letter queue.
    eventually(lambda: dead_letters.counts(amqp_uri, [queue]) == {dlq: 1}, timeout=30)
    [letter] = dead_letters.show(amqp_uri, dlq)
    assert letter["body"] == event
    assert letter["reason"] == "rejected"  # an unknown user: dead-lettered at once

    # The operator fixes the cause (the user now exists) and replays.
    sql(
        "users",
        "insert into users (id, email, name, password_hash, role, status, points, created_at,"
        " updated_at) values (999999, 'late@example.com', 'Late', 'x', 'customer', 'active', 0,"
        " now(), now())",
    )
    with handled(UsersService, "add_points_for_completed_order", event["event_id"]) as replayed:
        assert dead_letters.replay(amqp_uri, dlq) == 1

    assert replayed.get() is None  # the handler ran again, and this time did not raise
    assert shop.users.get_user(999999)["points"] == 5
    assert dead_letters.counts(amqp_uri, [queue]) == {dlq: 0}
    with Connection(amqp_uri) as connection:
        assert connection.default_channel.queue_declare(queue, passive=True).message_count == 0
