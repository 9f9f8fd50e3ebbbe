"""`make reset` empties the data and nothing else; `make run-postgres` makes its
databases when they are missing, migrates them and runs on them."""

import socket
import uuid

import requests
from kombu import Connection
from sqlalchemy import create_engine, inspect

from extensions.config import load_config
from extensions.events import dead_letter_queue, subscriber_queues
from tests.conftest import PG_ADMIN_URI, PG_SQLALCHEMY_URI
from tests.e2e.newcomer.conftest import REPO
from tools.pgadmin import execute_on_server

SERVICES = ("users", "inventory", "orders")


def tables(db_uri):
    engine = create_engine(db_uri)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def park_events(amqp_uri):
    """One event waiting for its handler and one dead letter, as a crash would leave them."""
    config = {**load_config(REPO / "config.yaml"), "AMQP_URI": amqp_uri}
    handler_queue = subscriber_queues("orders", config)[0]
    with Connection(amqp_uri) as connection:
        producer = connection.Producer()
        for queue in (handler_queue, dead_letter_queue(handler_queue.name)):
            queue(connection.default_channel).declare()
            producer.publish({"event_id": "x"}, exchange="", routing_key=queue.name)
    return [handler_queue.name, dead_letter_queue(handler_queue.name).name]


def waiting(amqp_uri, queue_names):
    with Connection(amqp_uri) as connection:
        channel = connection.default_channel
        return sum(channel.queue_declare(name, passive=True).message_count for name in queue_names)


def test_make_reset_empties_the_databases_and_event_queues_and_keeps_venv_and_secrets(checkout):
    made = checkout.make("migrate", "var/jwt-secret", "var/admin-password")
    assert made.returncode == 0, made.stdout
    sqlite = {s: f"sqlite:///{checkout.path}/var/{s}.sqlite3" for s in SERVICES}
    assert all("alembic_version" in tables(uri) for uri in sqlite.values())
    queues = park_events(checkout.env["AMQP_URI"])
    var = checkout.path / "var"
    secrets = {name: (var / name).read_text() for name in ("jwt-secret", "admin-password")}
    installed = (REPO / ".venv" / ".installed-stamp").stat().st_mtime_ns

    reset = checkout.make("reset")

    assert reset.returncode == 0, reset.stdout
    assert all(tables(uri) == set() for uri in sqlite.values()), reset.stdout
    assert waiting(checkout.env["AMQP_URI"], queues) == 0
    assert "event queues: 2 message(s) purged" in reset.stdout
    assert {name: (var / name).read_text() for name in secrets} == secrets
    assert (REPO / ".venv" / ".installed-stamp").stat().st_mtime_ns == installed
    again = checkout.make("migrate")
    assert again.returncode == 0, again.stdout
    assert "users" in tables(sqlite["users"])


def test_make_reset_refuses_while_the_shop_runs(checkout):
    assert checkout.make("migrate").returncode == 0
    with socket.socket() as gateway:  # the running shop's gateway port
        gateway.bind(("0.0.0.0", checkout.gateway_port))
        gateway.listen()
        reset = checkout.make("reset")

    assert reset.returncode != 0
    assert "The shop is running: stop make run first." in reset.stdout
    assert "users" in tables(f"sqlite:///{checkout.path}/var/users.sqlite3")


def test_make_run_postgres_creates_migrates_and_serves_and_reset_postgres_empties(checkout):
    # Names of the test's own; the Makefile's shop_* are for people (the environment wins).
    names = {service: f"shop_newcomer_{service}_{uuid.uuid4().hex[:8]}" for service in SERVICES}
    uris = {service: f"{PG_SQLALCHEMY_URI}/{name}" for service, name in names.items()}
    env = {f"{service.upper()}_DB_URI": uri for service, uri in uris.items()}
    terminal = checkout.in_a_terminal(["make", "run-postgres"], **env)
    try:
        checkout.wait_ready(lambda: terminal.process.poll() is None, terminal.output)
        products = requests.get(f"http://127.0.0.1:{checkout.gateway_port}/api/products")
        assert products.status_code == 200
        shown = terminal.output()
    finally:
        terminal.stop()
    try:
        for service in SERVICES:
            assert f"{service}: database created" in shown
            assert "alembic_version" in tables(uris[service])
        assert not list((checkout.path / "var").glob("*.sqlite3"))

        reset = checkout.make("reset-postgres", **env)

        assert reset.returncode == 0, reset.stdout
        assert all(tables(uri) == set() for uri in uris.values())
    finally:
        execute_on_server(
            PG_ADMIN_URI, *(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)' for n in names.values())
        )
