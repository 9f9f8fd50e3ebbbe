"""A real Prometheus scrapes the three services and the gunicorn gateway."""

import pytest
from nameko.testing.utils import find_free_port

from tests.integration.extensions.prometheus import static_config

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def shop_config(shop_config):
    return dict(shop_config, METRICS={"PORT": find_free_port()}, CONSUL={"ENABLED": False})


def test_prometheus_finds_every_target_up_and_the_counters_moved_by_the_calls_made(
    shop_runner, shop_config, shop, start_gateway, prometheus
):
    gateway = start_gateway(CONSUL_ENABLED="false")
    services = f"127.0.0.1:{shop_config['METRICS']['PORT']}"
    gateway_target = gateway.base_url.removeprefix("http://")
    server = prometheus(static_config([services, gateway_target]))
    server.wait_for(f'up{{instance="{services}"}}', 1.0)
    server.wait_for(f'up{{instance="{gateway_target}"}}', 1.0)

    # Counters are per process and other tests ran in this one: compare to now.
    watched = {
        "signups": 'sum(nameko_entrypoint_calls_total{service="users",entrypoint="create_user",'
        'outcome="success"})',
        "signup_conflicts": 'sum(nameko_entrypoint_errors_total{service="users",'
        'entrypoint="create_user",exception="Conflict"})',
        "orders_created": 'sum(nameko_entrypoint_calls_total{service="orders",'
        'entrypoint="create_order",outcome="success"})',
        "pending": 'sum(shop_orders_total{status="pending"})',
        "confirmed": 'sum(shop_orders_total{status="confirmed"})',
        "http_201_signups": 'sum(gateway_http_requests_total{method="POST",route="/api/users",'
        'status="201"})',
        "http_409_signups": 'sum(gateway_http_requests_total{method="POST",route="/api/users",'
        'status="409"})',
    }
    before = {name: server.value(expr) or 0.0 for name, expr in watched.items()}
    product = shop.inventory.create_product(
        {"sku": "SKU-PROM", "name": "Widget", "price": "3.00", "stock": 10}
    )

    _, token = gateway.sign_up("prom@example.com", password=PASSWORD)
    conflict = gateway.post(
        "/api/users", json={"email": "prom@example.com", "name": "Again", "password": PASSWORD}
    )
    order = gateway.post(
        "/api/orders",
        token=token,
        json={"items": [{"product_id": product["id"], "quantity": 1}]},
    )

    assert (conflict.status_code, order.status_code) == (409, 201)
    moved = {
        "signups": 1,
        "signup_conflicts": 1,
        "orders_created": 1,
        "pending": 1,
        "confirmed": 1,
        "http_201_signups": 1,
        "http_409_signups": 1,
    }
    for name, delta in moved.items():
        server.wait_for(watched[name], before[name] + delta)
