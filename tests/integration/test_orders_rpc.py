"""The orders service's RPC methods over real RabbitMQ, on PostgreSQL and SQLite."""

import pytest
from nameko.testing.services import entrypoint_waiter
from nameko.testing.utils import get_container

from inventory.service import InventoryService
from shop.errors import Conflict, NotFound
from tests.polling import eventually


@pytest.fixture
def product(shop):
    return shop.inventory.create_product({"sku": "P-1", "name": "P", "price": "2.50", "stock": 9})


def test_an_order_fixes_its_unit_prices_at_creation(shop, customer, product):
    order = shop.orders.create_order(
        customer["id"], [{"product_id": product["id"], "quantity": 2}]
    )
    shop.inventory.update_product(product["id"], {"price": "99.00"})

    fetched = shop.orders.get_order(order["id"])

    assert fetched["items"] == [{"product_id": product["id"], "quantity": 2, "unit_price": "2.50"}]
    assert fetched["total"] == "5.00"


def test_repeated_lines_of_one_product_are_merged(shop, customer, product):
    line = {"product_id": product["id"], "quantity": 2}

    order = shop.orders.create_order(customer["id"], [line, line])

    assert [(i["product_id"], i["quantity"]) for i in order["items"]] == [(product["id"], 4)]


def test_an_order_for_an_unknown_user_or_product_is_not_found_and_not_written(
    shop, customer, product
):
    with pytest.raises(NotFound):
        shop.orders.create_order(424242, [{"product_id": product["id"], "quantity": 1}])
    with pytest.raises(NotFound) as missing:
        shop.orders.create_order(customer["id"], [{"product_id": 777, "quantity": 1}])

    assert missing.value.details == {"product_ids": ["777"]}
    assert shop.orders.list_orders()["total"] == 0


def test_orders_are_listed_newest_first_and_by_user(shop, customer, product):
    other = shop.users.create_user(
        {"email": "o@example.com", "name": "O", "password": "password-1"}
    )
    line = [{"product_id": product["id"], "quantity": 1}]
    first = shop.orders.create_order(customer["id"], line)
    second = shop.orders.create_order(customer["id"], line)
    shop.orders.create_order(other["id"], line)

    mine = shop.orders.list_orders(user_id=customer["id"])

    assert [o["id"] for o in mine["items"]] == [second["id"], first["id"]]
    assert (mine["total"], shop.orders.list_orders()["total"]) == (2, 3)


def test_only_a_confirmed_order_can_be_completed_and_a_finished_one_not_cancelled(
    shop, customer, product
):
    order = shop.orders.create_order(
        customer["id"], [{"product_id": product["id"], "quantity": 1}]
    )
    eventually(lambda: shop.orders.get_order(order["id"])["status"] == "confirmed")

    assert shop.orders.complete_order(order["id"])["status"] == "completed"
    with pytest.raises(Conflict) as not_cancellable:
        shop.orders.cancel_order(order["id"])
    assert not_cancellable.value.details == {"status": "completed"}
    with pytest.raises(Conflict):
        shop.orders.complete_order(order["id"])


def test_a_pending_order_can_be_cancelled_and_its_stock_is_not_kept(
    shop, shop_runner, customer, product
):
    inventory = get_container(shop_runner, InventoryService)

    # Inventory hears of the order and of its cancellation in either order, or
    # at once: then one of the two loses the race for the order's reservation
    # row and succeeds on its retry. The stock is checked once both succeeded.
    def succeeded(worker_ctx, result, exc_info):
        return exc_info is None

    with (
        entrypoint_waiter(inventory, "reserve_stock", callback=succeeded, timeout=30),
        entrypoint_waiter(inventory, "release_stock", callback=succeeded, timeout=30),
    ):
        order = shop.orders.create_order(
            customer["id"], [{"product_id": product["id"], "quantity": 1}]
        )
        assert order["status"] == "pending"
        assert shop.orders.cancel_order(order["id"])["status"] == "cancelled"

    product = shop.inventory.get_product(product["id"])
    assert (product["stock"], product["reserved"]) == (9, 0)


def test_an_unknown_order_is_not_found(shop):
    for call in (shop.orders.get_order, shop.orders.cancel_order, shop.orders.complete_order):
        with pytest.raises(NotFound):
            call(31337)


def test_health_reports_the_service_ok(shop):
    assert shop.orders.health() == {"service": "orders", "status": "ok"}
