"""Orders left pending by a lost saga event are re-driven after a bounded time."""

import pytest

from tests.polling import eventually


@pytest.fixture
def shop_config(shop_config):
    return {**shop_config, "ORDERS": {"PENDING_REDRIVE_SECONDS": 1}}


def _status(shop, order_id):
    return shop.orders.get_order(order_id)["status"]


def test_an_order_whose_reservation_answer_was_lost_is_confirmed_without_reserving_twice(
    shop, customer, make_product, sql
):
    product = make_product(stock=5)
    order = shop.orders.create_order(
        customer["id"], [{"product_id": product["id"], "quantity": 2}]
    )
    eventually(lambda: _status(shop, order["id"]) == "confirmed")
    # As if stock_reserved had been dead-lettered: the order never heard back.
    sql("orders", "update orders set status = 'pending' where id = :id", id=order["id"])

    assert eventually(lambda: _status(shop, order["id"]) == "confirmed", timeout=30)
    assert shop.inventory.get_product(product["id"])["stock"] == 3


def test_an_order_whose_order_created_was_lost_is_reserved_and_confirmed(
    shop, customer, make_product, sql
):
    product = make_product(stock=5)
    # An order whose order_created never reached inventory.
    sql(
        "orders",
        "insert into orders (user_id, status, total_cents, created_at, updated_at) "
        "values (:user, 'pending', 1999, now(), now() - interval '1 hour')",
        user=customer["id"],
    )
    [(order_id,)] = sql("orders", "select id from orders")
    sql(
        "orders",
        "insert into order_items (order_id, product_id, quantity, unit_price_cents) "
        "values (:order, :product, 1, 1999)",
        order=order_id,
        product=product["id"],
    )

    assert eventually(lambda: _status(shop, order_id) == "confirmed", timeout=30)
    assert shop.inventory.get_product(product["id"])["stock"] == 4
