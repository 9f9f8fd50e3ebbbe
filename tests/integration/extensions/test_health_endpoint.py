"""``/health/live`` and ``/health/ready`` on a service's metrics port, against the real
broker and PostgreSQL: what makes a process unready, and what does not."""

import socket
from datetime import timedelta

import pytest
import requests
from kombu import Connection
from nameko.messaging import QueueConsumer
from nameko.testing.services import entrypoint_hook
from nameko.testing.utils import find_free_port
from sqlalchemy import create_engine, text

from extensions import health
from extensions.db import utcnow
from extensions.events import DEAD_LETTER_EXCHANGE, handler_queue_name
from orders.service import OrdersService
from tests.conftest import _admin_execute
from tests.faults.inject import database_outage
from tests.polling import eventually


@pytest.fixture
def db_uris(pg_db_uris):
    return pg_db_uris


@pytest.fixture
def port():
    return find_free_port()


@pytest.fixture
def orders(shop_config, port, container_factory):
    """The orders service alone: users and inventory, which it calls, are not running."""
    config = dict(shop_config, METRICS={"PORT": port, "ADDRESS": "127.0.0.1"})
    config["CONSUL"] = dict(config["CONSUL"], ENABLED=False)
    container = container_factory(OrdersService, config)
    container.start()
    return container


def get(port, path):
    response = requests.get(f"http://127.0.0.1:{port}{path}", timeout=5)
    return response.status_code, response.json()


def test_a_service_is_live_and_ready_without_the_services_it_calls(orders, port):
    assert get(port, "/health/live") == (200, {"status": "ok", "event_loop_stall_seconds": 0.0})
    assert get(port, "/health/ready") == (
        200,
        {"status": "ok", "services": {"orders": {"consumers": "ok", "database:db": "ok"}}},
    )


def test_a_dead_queue_consumer_makes_the_process_unready_but_not_dead(orders, port):
    (queue_consumer,) = {e for e in orders.extensions if isinstance(e, QueueConsumer)}

    queue_consumer._gt.kill()  # as a consumer thread that ended would be

    def consumers():
        status, body = get(port, "/health/ready")
        return status, body["services"]["orders"]["consumers"]

    # Its consumers are cancelled as it ends: "not consuming" first, then this.
    assert eventually(lambda: consumers() == (503, "the queue consumer has stopped"))
    assert get(port, "/health/live")[0] == 200


def test_a_database_that_refuses_connections_makes_the_process_unready_until_it_is_back(
    orders, port, db_uris
):
    def unready_meanwhile():
        status, body = get(port, "/health/ready")
        assert status == 503
        assert body["services"]["orders"]["database:db"].startswith("unreachable (")
        assert body["services"]["orders"]["consumers"] == "ok"

    database_outage(_admin_execute, db_uris["orders:Base"], during=unready_meanwhile)

    assert eventually(lambda: get(port, "/health/ready")[0] == 200)


def test_a_database_that_does_not_answer_within_a_second_makes_the_process_unready(
    shop_config, port, container_factory
):
    # A listener that completes TCP handshakes and never says a word: a hung server.
    silent = socket.create_server(("127.0.0.1", 0))
    silent_uri = f"postgresql+psycopg2://postgres@127.0.0.1:{silent.getsockname()[1]}/shop"
    config = dict(shop_config, METRICS={"PORT": port, "ADDRESS": "127.0.0.1"})
    config["DB_URIS"] = dict(config["DB_URIS"], **{"orders:Base": silent_uri})
    config["CONSUL"] = dict(config["CONSUL"], ENABLED=False)
    container_factory(OrdersService, config).start()
    try:
        response = requests.get(f"http://127.0.0.1:{port}/health/ready", timeout=5)
    finally:
        silent.close()

    assert response.status_code == 503
    assert response.elapsed.total_seconds() < health.DATABASE_TIMEOUT_SECONDS + 1
    assert response.json()["services"]["orders"]["database:db"] == "no answer within 1s"


def test_a_stalled_event_loop_fails_liveness():
    heartbeat = health.Heartbeat()
    heartbeat.stop()
    heartbeat.last -= health.LIVE_STALL_SECONDS + health.HEARTBEAT_SECONDS + 1

    live, body = health.liveness(heartbeat)

    assert not live
    assert body["event_loop_stall_seconds"] > health.LIVE_STALL_SECONDS


BACKLOG = 'shop_outbox_backlog{service="orders"}'


def scrape(port):
    lines = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text.splitlines()
    return {
        name: float(value)
        for name, value in (line.rsplit(" ", 1) for line in lines if line.startswith("shop_"))
    }


@pytest.fixture
def sampled_orders(shop_config, port, container_factory):
    """The orders service, sampling the alerts' gauges every 0.2 s (not started yet)."""
    config = dict(shop_config, METRICS={"PORT": port, "STATE_INTERVAL_SECONDS": 0.2})
    config["CONSUL"] = dict(config["CONSUL"], ENABLED=False)
    return container_factory(OrdersService, config)


def test_the_outbox_backlog_and_pending_orders_gauges_count_and_age_what_waits(
    sampled_orders, port, db_uris
):
    engine = create_engine(db_uris["orders:Base"])
    an_hour_ago = utcnow() - timedelta(hours=1)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO orders (user_id, status, total_cents, created_at, updated_at)"
                " VALUES (1, 'pending', 100, :created, :now)"
            ),
            {"created": an_hour_ago, "now": utcnow()},
        )
    with engine.connect() as holder:
        outbox_id = holder.execute(
            text(
                "INSERT INTO outbox (event_type, payload, headers, created_at)"
                " VALUES ('order_created', '{}', '{}', :created) RETURNING id"
            ),
            {"created": an_hour_ago},
        ).scalar()
        holder.commit()
        # The row stays unpublished while this test holds its lock (the relay skips it).
        holder.execute(text("SELECT id FROM outbox WHERE id = :id FOR UPDATE"), {"id": outbox_id})
        sampled_orders.start()
        with entrypoint_hook(sampled_orders, "redrive_stuck_orders") as sweep:
            sweep()

        gauges = eventually(lambda: (g := scrape(port)).get(BACKLOG) and g)
    engine.dispose()

    assert gauges[BACKLOG] == 1
    assert gauges['shop_outbox_oldest_unpublished_seconds{service="orders"}'] >= 3600
    assert gauges["shop_orders_pending"] == 1
    assert gauges["shop_orders_pending_oldest_seconds"] >= 3600


def test_the_dead_letters_gauge_counts_what_waits_in_each_dead_letter_queue(
    sampled_orders, port, rabbit_config
):
    queue = handler_queue_name("inventory", "stock_reserved", "orders", "confirm_order")
    sampled_orders.start()
    gauge = f'shop_dead_letters{{queue="dlq.{queue}"}}'
    assert eventually(lambda: gauge in (g := scrape(port)) and g)[gauge] == 0

    with Connection(rabbit_config["AMQP_URI"]) as connection:
        connection.Producer().publish(
            {"a": "letter"}, exchange=DEAD_LETTER_EXCHANGE, routing_key=queue
        )

    assert eventually(lambda: scrape(port).get(gauge) == 1)
