"""Orders prices new orders from its replica of inventory's prices, kept by
``product_priced`` events, and asks inventory only about a product it has not
heard of (orders/known_prices.py)."""

import pytest
from nameko.testing.services import entrypoint_waiter
from nameko.testing.utils import get_container
from prometheus_client import REGISTRY
from sqlalchemy import create_engine, select, text

from inventory.models import OutboxMessage
from orders.service import OrdersService
from shop.errors import NotFound


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


def forget_prices(shop_config):
    engine = create_engine(shop_config["DB_URIS"]["orders:Base"])
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM known_prices"))
    engine.dispose()


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
    shop, shop_runner, shop_config, customer, lamp
):
    forget_prices(shop_config)  # as if the announcement were still on its way
    asked = inventory_asked()
    line = [{"product_id": lamp["id"], "quantity": 1}]

    first = shop.orders.create_order(customer["id"], line)
    second = shop.orders.create_order(customer["id"], line)
    with announced(shop_runner):
        shop.inventory.update_product(lamp["id"], {"price": "2.60"})
    third = shop.orders.create_order(customer["id"], line)

    assert inventory_asked() - asked == 2  # an answer is not kept: only announcements are
    assert [first["total"], second["total"], third["total"]] == ["2.50", "2.50", "2.60"]


def test_a_product_that_does_not_exist_is_not_found_and_orders_nothing(shop, customer, lamp):
    lines = [{"product_id": lamp["id"], "quantity": 1}, {"product_id": 987654, "quantity": 1}]

    with pytest.raises(NotFound) as refused:
        shop.orders.create_order(customer["id"], lines)

    assert refused.value.details == {"product_ids": ["987654"]}  # as nameko sends details
    assert shop.orders.list_orders(user_id=customer["id"])["total"] == 0


def test_a_change_of_name_or_stock_announces_no_price(shop, shop_config, lamp):
    shop.inventory.update_product(lamp["id"], {"name": "Desk lamp", "price": "2.50"})
    shop.inventory.adjust_stock(lamp["id"], 5)

    engine = create_engine(shop_config["DB_URIS"]["inventory:Base"])
    with engine.connect() as connection:
        announcements = connection.scalars(
            select(OutboxMessage.payload).where(OutboxMessage.event_type == "product_priced")
        ).all()
    engine.dispose()
    assert [payload["data"]["price_version"] for payload in announcements] == [1]
