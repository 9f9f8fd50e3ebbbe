"""Orders asks users about a user once, then knows it; a deletion reaches it as an event
(orders/known_users.py)."""

import pytest
from nameko.testing.services import entrypoint_waiter
from nameko.testing.utils import get_container
from prometheus_client import REGISTRY

from orders.service import OrdersService
from shop.errors import NotFound


def users_asked():
    labels = {"service": "users", "entrypoint": "get_user", "type": "rpc", "outcome": "success"}
    return REGISTRY.get_sample_value("nameko_entrypoint_calls_total", labels) or 0


@pytest.fixture
def lines(shop):
    product = shop.inventory.create_product({"sku": "P", "name": "P", "price": "2.50", "stock": 9})
    return [{"product_id": product["id"], "quantity": 1}]


def test_orders_asks_users_about_a_user_only_the_first_time(shop, customer, lines):
    asked = users_asked()

    first = shop.orders.create_order(customer["id"], lines)
    second = shop.orders.create_order(customer["id"], lines)

    assert users_asked() - asked == 1
    assert first["id"] != second["id"]


def test_a_deleted_user_cannot_order_once_orders_has_heard_of_it(
    shop, shop_runner, customer, lines
):
    shop.orders.create_order(customer["id"], lines)  # orders knows the user now

    with entrypoint_waiter(get_container(shop_runner, OrdersService), "forget_deleted_user"):
        shop.users.delete_user(customer["id"])

    with pytest.raises(NotFound):
        shop.orders.create_order(customer["id"], lines)
    assert shop.orders.list_orders(user_id=customer["id"])["total"] == 1
