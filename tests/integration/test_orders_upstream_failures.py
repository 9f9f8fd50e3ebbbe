"""orders.create_order, for a product orders has not heard of, when inventory is not there:
a typed error in bounded time, no order. (One orders has heard of needs no inventory:
tests/faults/test_service_faults.py.)"""

import time

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from inventory.service import InventoryService
from orders.service import OrdersService
from shop.errors import Unavailable, UpstreamTimeout
from users.service import UsersService

TIMEOUT = 1.0
LINE = [{"product_id": 1, "quantity": 1}]


@pytest.fixture
def config(shop_config):
    return dict(
        shop_config, RPC_TIMEOUT_SECONDS=TIMEOUT, METRICS={"PORT": 0}, CONSUL={"ENABLED": False}
    )


@pytest.fixture
def shop(config, runner_factory):
    runner_factory(config, UsersService, OrdersService).start()
    with ClusterRpcProxy(config, timeout=30) as cluster:
        yield cluster


def test_with_inventory_never_started_an_order_is_unavailable_at_once_and_not_written(
    shop, customer
):
    started = time.monotonic()
    with pytest.raises(Unavailable):
        shop.orders.create_order(customer["id"], LINE)

    assert time.monotonic() - started < TIMEOUT
    assert shop.orders.list_orders()["total"] == 0


def test_with_inventory_stopped_an_order_times_out_in_bounded_time_and_is_not_written(
    config, runner_factory, shop, customer
):
    inventory = runner_factory(config, InventoryService)
    inventory.start()
    inventory.stop()  # its RPC queue stays bound: requests wait there for nobody

    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        shop.orders.create_order(customer["id"], LINE)

    assert TIMEOUT <= time.monotonic() - started < TIMEOUT + 2
    assert shop.orders.list_orders()["total"] == 0
