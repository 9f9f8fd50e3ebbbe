from contextlib import contextmanager

import pytest
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter
from nameko.testing.utils import get_container

from tests.polling import eventually


@pytest.fixture
def make_product(shop):
    counter = iter(range(1, 10_000))

    def make(stock, price="19.99"):
        return shop.inventory.create_product(
            {"sku": f"SKU-{next(counter)}", "name": "Widget", "price": price, "stock": stock}
        )

    return make


@pytest.fixture
def settled(shop):
    """Wait until an order has left ``pending``; return it."""

    def wait(order_id):
        return eventually(
            lambda: (order := shop.orders.get_order(order_id))["status"] != "pending" and order
        )

    return wait


def _event_id(worker_ctx):
    payload = worker_ctx.args[0] if worker_ctx.args else None
    return payload.get("event_id") if isinstance(payload, dict) else None


@pytest.fixture
def handled(shop_runner):
    """Wait until a handler has finished one event: ``with handled(InventoryService,
    "reserve_stock", event_id) as outcome: ...``; then ``outcome.get()`` returns what the
    handler returned, or raises what it raised."""

    @contextmanager
    def wait(service_cls, handler, event_id, timeout=15):
        container = get_container(shop_runner, service_cls)
        with entrypoint_waiter(
            container,
            handler,
            timeout=timeout,
            # Only this event: another delivery to the same handler must not end the wait.
            callback=lambda worker_ctx, _result, _exc_info: _event_id(worker_ctx) == event_id,
        ) as outcome:
            yield outcome

    return wait


@pytest.fixture
def redeliver(shop_config, handled):
    """Publish an event as its source service would, wait for one handler to finish it, and
    return what the handler returned (or raise what it raised: a crash is never "ignored")."""
    dispatch = event_dispatcher(shop_config)

    def publish(source, event_type, payload, service_cls, handler):
        with handled(service_cls, handler, payload["event_id"]) as outcome:
            dispatch(source, event_type, payload)
        return outcome.get()

    return publish
