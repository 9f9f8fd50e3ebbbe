"""The order saga across the three running services, on PostgreSQL."""

import json

from kombu import Connection
from nameko.testing.services import entrypoint_waiter
from nameko.testing.utils import get_container

from extensions.envelopes import envelope
from extensions.events import RETRIES_HEADER, RETRY_DELAY_HEADER, RETRY_EXCHANGE
from inventory.service import InventoryService
from tests.polling import eventually


def test_an_order_with_enough_stock_is_confirmed_and_its_stock_reserved(
    shop, customer, make_product, settled
):
    product = make_product(stock=5)
    order = shop.orders.create_order(
        customer["id"], [{"product_id": product["id"], "quantity": 2}]
    )

    assert order["status"] == "pending"
    assert order["total"] == "39.98"
    assert settled(order["id"])["status"] == "confirmed"
    product = shop.inventory.get_product(product["id"])
    assert (product["stock"], product["reserved"]) == (3, 2)


def test_insufficient_stock_rejects_the_order_and_leaves_stock_unchanged(
    shop, customer, make_product, settled
):
    plenty, scarce = make_product(stock=10), make_product(stock=1)
    order = shop.orders.create_order(
        customer["id"],
        [{"product_id": plenty["id"], "quantity": 3}, {"product_id": scarce["id"], "quantity": 2}],
    )

    assert settled(order["id"])["status"] == "rejected"
    for product, stock in ((plenty, 10), (scarce, 1)):
        current = shop.inventory.get_product(product["id"])
        assert (current["stock"], current["reserved"]) == (stock, 0)


def test_cancelling_a_confirmed_order_gives_its_stock_back(
    shop, customer, make_product, settled, sql
):
    product = make_product(stock=5)
    order = shop.orders.create_order(
        customer["id"], [{"product_id": product["id"], "quantity": 4}]
    )
    settled(order["id"])

    assert shop.orders.cancel_order(order["id"])["status"] == "cancelled"
    restored = eventually(
        lambda: (p := shop.inventory.get_product(product["id"]))["stock"] == 5 and p
    )
    assert restored["reserved"] == 0
    assert sql("inventory", "select status from reservations") == [("released",)]


def test_an_event_retried_through_a_delay_queue_takes_effect_and_publishes_its_outcome(
    shop, shop_config, shop_runner, customer, make_product, settled, sql
):
    product = make_product(stock=5)
    order = shop.orders.create_order(
        customer["id"], [{"product_id": product["id"], "quantity": 4}]
    )
    settled(order["id"])
    queue = "evt-orders-order_cancelled--inventory.release_stock"
    cancelled = envelope({**order, "order_id": order["id"], "status": "cancelled"})
    outcomes = []

    def finished(worker_ctx, result, exc_info):
        outcomes.append(exc_info and repr(exc_info[1]))
        return True

    # As a handler schedules a retry: the broker expires the copy back into
    # the handler's queue a second later, with its own x-death headers on it.
    inventory = get_container(shop_runner, InventoryService)
    with (
        entrypoint_waiter(inventory, "release_stock", callback=finished, timeout=15),
        Connection(shop_config["AMQP_URI"]) as connection,
    ):
        connection.Producer(serializer="json").publish(
            cancelled,
            exchange=RETRY_EXCHANGE,
            routing_key=queue,
            headers={RETRY_DELAY_HEADER: "1000", RETRIES_HEADER: 1},
        )

    assert outcomes == [None]
    assert shop.inventory.get_product(product["id"])["stock"] == 5
    [(headers,)] = sql(
        "inventory", "select headers from outbox where event_type = 'stock_released'"
    )
    headers = json.loads(headers) if isinstance(headers, str) else headers
    # Neither the broker's nor the retry path's headers travel on with the outcome.
    assert not [name for name in headers if name.startswith("x-") or "retry" in name], headers


def test_completing_an_order_adds_one_point_per_whole_unit_of_its_total(
    shop, customer, make_product, settled
):
    product = make_product(stock=5, price="12.50")
    order = shop.orders.create_order(
        customer["id"], [{"product_id": product["id"], "quantity": 3}]
    )
    settled(order["id"])

    completed = shop.orders.complete_order(order["id"])

    assert (completed["status"], completed["total"]) == ("completed", "37.50")
    assert eventually(lambda: shop.users.get_user(customer["id"])["points"] == 37)
    assert eventually(lambda: shop.inventory.get_product(product["id"])["reserved"] == 0)
    assert shop.inventory.get_product(product["id"])["stock"] == 2
