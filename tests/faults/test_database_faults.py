"""F4: a service's database refuses connections for a while, with no server stop."""

import time

import pytest
from nameko.testing.services import entrypoint_waiter
from nameko.testing.utils import get_container

from shop.errors import Unavailable
from tests.conftest import _admin_execute
from tests.faults import inject
from tests.polling import eventually
from tools import dead_letters
from users.service import UsersService

pytestmark = pytest.mark.faults

OUTAGE_SECONDS = 10


def _user(shop):
    made = shop.users.create_user(
        {"email": "ann@example.com", "name": "Ann", "password": "correct-horse"}
    )
    return "users", made["id"], shop.users.get_user


def _product(shop):
    made = shop.inventory.create_product(
        {"sku": "LAMP-1", "name": "Lamp", "price": "19.99", "stock": 3}
    )
    return "inventory", made["id"], shop.inventory.get_product


# users.get_user reads through an ORM session (Database.read()), inventory.get_product
# through a Core connection (Database.read_rows()).
@pytest.mark.parametrize("made", [_user, _product], ids=["session", "rows"])
def test_an_rpc_whose_database_is_unreachable_raises_unavailable_and_then_recovers(
    shop, shop_config, made
):
    service, made_id, read = made(shop)
    database = shop_config["DB_URIS"][f"{service}:Base"]
    read(made_id)  # the outage ends the connection this leaves in the pool

    def call_during_outage():
        with pytest.raises(Unavailable):
            read(made_id)

    inject.database_outage(_admin_execute, database, call_during_outage)

    assert read(made_id)["id"] == made_id


def test_an_event_whose_handler_cannot_reach_its_database_is_retried_not_dead_lettered(
    shop, shop_runner, shop_config
):
    product = shop.inventory.create_product(
        {"sku": "TEA-1", "name": "Tea", "price": "4.50", "stock": 5}
    )
    user = shop.users.create_user(
        {"email": "ann@example.com", "name": "Ann", "password": "correct-horse"}
    )
    order = shop.orders.create_order(user["id"], [{"product_id": product["id"], "quantity": 2}])
    eventually(lambda: shop.orders.get_order(order["id"])["status"] == "confirmed")
    users = get_container(shop_runner, UsersService)
    outcomes = []

    def succeeded(worker_ctx, result, exc_info):
        outcomes.append(exc_info and type(exc_info[1]).__name__)
        return exc_info is None

    def complete_during_outage():
        shop.orders.complete_order(order["id"])
        time.sleep(OUTAGE_SECONDS)  # the outage lasts this long; retries fail meanwhile

    with entrypoint_waiter(
        users, "add_points_for_completed_order", callback=succeeded, timeout=90
    ):
        inject.database_outage(
            _admin_execute, shop_config["DB_URIS"]["users:Base"], complete_during_outage
        )

    assert outcomes[0] == "Unavailable" and outcomes[-1] is None, outcomes
    assert shop.users.get_user(user["id"])["points"] == 9
    queue = "evt-orders-order_completed--users.add_points_for_completed_order"
    assert dead_letters.counts(shop_config["AMQP_URI"], [queue]) == {f"dlq.{queue}": 0}


def test_a_database_outage_under_load_is_503_retried_and_dead_letters_nothing(scenario):
    scenario.start()
    # Orders' own database: taking an order needs it (inventory's it no longer does,
    # orders/known_prices.py), and orders' handlers of inventory's events retry meanwhile.
    orders_db = scenario.db_uris["orders:Base"]
    scenario.run(lambda: inject.database_outage(_admin_execute, orders_db, OUTAGE_SECONDS))
    report = scenario.verify()

    during = report["requests"]["fault"]
    assert 500 not in during and during.get(503, 0) > 0, report
    assert report["first_order_after_fault_s"] <= 30, report
