"""Orders prices new orders from its replica of inventory's prices, kept by
``product_priced`` events, and asks inventory only about a product it has not
heard of (orders/known_prices.py)."""

import json

import pytest
from nameko.testing.services import entrypoint_waiter
from nameko.testing.utils import get_container
from prometheus_client import REGISTRY

from orders.service import OrdersService
from shop.errors import NotFound
from shop.money import parse_amount
from tests.polling import eventually


def inventory_asked():
    labels = {
        "service": "inventory",
        "entrypoint": "get_products",
        "type": "rpc",
        "outcome": "success",
    }
    return REGISTRY.get_sample_value("nameko_entrypoint_calls_total", labels) or 0


def announced(shop_runner):
    """Waits until orders has handled one ``product_priced`` event."""
    return entrypoint_waiter(get_container(shop_runner, OrdersService), "learn_price")


@pytest.fixture
def lamp(shop, shop_runner):
    with announced(shop_runner):
        return shop.inventory.create_product(
            {"sku": "LAMP", "name": "Lamp", "price": "2.50", "stock": 9}
        )


def test_an_announced_product_is_priced_without_asking_inventory(shop, customer, lamp):
    asked = inventory_asked()

    order = shop.orders.create_order(customer["id"], [{"product_id": lamp["id"], "quantity": 2}])

    assert inventory_asked() == asked
    assert order["items"][0]["unit_price"] == "2.50"
    assert order["total"] == "5.00"


def test_a_new_price_reaches_the_next_order(shop, shop_runner, customer, lamp):
    with announced(shop_runner):
        shop.inventory.update_product(lamp["id"], {"price": "3.10"})

    order = shop.orders.create_order(customer["id"], [{"product_id": lamp["id"], "quantity": 1}])

    assert order["items"][0]["unit_price"] == "3.10"


def test_a_product_orders_has_not_heard_of_is_asked_of_inventory_until_announced(
    shop, shop_runner, sql, customer, lamp
):
    sql("orders", "DELETE FROM known_prices")  # as if the announcement were still on its way
    asked = inventory_asked()
    line = [{"product_id": lamp["id"], "quantity": 1}]

    first = shop.orders.create_order(customer["id"], line)
    second = shop.orders.create_order(customer["id"], line)
    with announced(shop_runner):
        shop.inventory.update_product(lamp["id"], {"price": "2.60"})
    third = shop.orders.create_order(customer["id"], line)

    assert inventory_asked() - asked == 2  # an answer is not kept: only announcements are
    assert [first["total"], second["total"], third["total"]] == ["2.50", "2.50", "2.60"]


def test_a_price_set_without_an_announcement_reaches_orders_by_the_sweep(
    shop, shop_runner, sql, customer, lamp
):
    # Set as an older release or an operator would; announced within the sweep's interval.
    with announced(shop_runner):
        sql("inventory", "UPDATE products SET price_cents = 375")

    order = shop.orders.create_order(customer["id"], [{"product_id": lamp["id"], "quantity": 1}])

    assert order["total"] == "3.75"


def test_a_product_that_does_not_exist_is_not_found_and_orders_nothing(shop, customer, lamp):
    lines = [{"product_id": lamp["id"], "quantity": 1}, {"product_id": 987654, "quantity": 1}]

    with pytest.raises(NotFound) as refused:
        shop.orders.create_order(customer["id"], lines)

    assert refused.value.details == {"product_ids": ["987654"]}  # as nameko sends details
    assert shop.orders.list_orders(user_id=customer["id"])["total"] == 0


def test_a_change_of_name_or_stock_announces_no_price(shop, sql, lamp):
    shop.inventory.update_product(lamp["id"], {"name": "Desk lamp", "price": "2.50"})
    shop.inventory.adjust_stock(lamp["id"], 5)

    assert announced_versions(sql) == [1]


def test_concurrent_changes_of_one_price_get_versions_one_after_the_other(shop, sql, lamp):
    prices = ["3.01", "3.02", "3.03", "3.04", "3.05"]

    replies = [shop.inventory.update_product.call_async(lamp["id"], {"price": p}) for p in prices]
    for reply in replies:
        reply.result()

    assert sorted(announced_versions(sql)) == [1, 2, 3, 4, 5, 6]
    final_cents = parse_amount(shop.inventory.get_product(lamp["id"])["price"])
    known = "SELECT price_cents, price_version FROM known_prices WHERE product_id = :id"
    eventually(
        lambda: [tuple(row) for row in sql("orders", known, id=lamp["id"])] == [(final_cents, 6)],
        timeout=10,
    )


def announced_versions(sql):
    """The versions of the prices inventory has announced, in the order it wrote them."""
    payloads = sql(
        "inventory", "SELECT payload FROM outbox WHERE event_type = 'product_priced' ORDER BY id"
    )
    # SQLite hands JSON back as text, PostgreSQL as an object.
    return [
        (json.loads(payload) if isinstance(payload, str) else payload)["data"]["price_version"]
        for (payload,) in payloads
    ]
