"""Fixtures shared by every test layer.

Nameko needs eventlet's monkey patch before anything else imports sockets.
"""

import eventlet

eventlet.monkey_patch()

import itertools  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import uuid  # noqa: E402

import pytest  # noqa: E402
from nameko.runners import ServiceRunner  # noqa: E402
from nameko.standalone.rpc import ClusterRpcProxy  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from extensions.config import load_config  # noqa: E402
from inventory.service import InventoryService  # noqa: E402
from orders.service import OrdersService  # noqa: E402
from tests.rabbitmqctl import free_quorum_queue_tables, healthy  # noqa: E402
from tools.migrate import SERVICES, upgrade  # noqa: E402
from tools.pgadmin import execute_on_server  # noqa: E402
from users.service import UsersService  # noqa: E402

# The shop refuses to start without a good token secret (shop/token_secret.py).
# Every test run makes its own, never the checkout's var/jwt-secret, and whatever the
# tests start (config.yaml, the gateway, subprocesses) reads it from here.
os.environ["JWT_SECRET"] = secrets.token_hex(32)

PG_ADMIN_URI = os.environ.get("TEST_PG_URI", "postgresql://postgres@127.0.0.1:5432")
# SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3; the services use psycopg2,
# which psycogreen makes cooperative.
PG_SQLALCHEMY_URI = PG_ADMIN_URI.replace("postgresql://", "postgresql+psycopg2://", 1)


# Tests that take the broker or a database away run after every other test,
# outages first, then the fault suite, then the cluster scenarios (whose three
# nodes then run beside nothing else), so that nothing else sees them.
RUNS_LAST = {
    "broker_outage": "stops and restarts the real RabbitMQ",
    "faults": "injects real faults into a shop of real processes",
    "rabbit_cluster": "stops and pauses the nodes of a RabbitMQ cluster of the session's own",
}


def pytest_configure(config):
    for marker, what in RUNS_LAST.items():
        config.addinivalue_line("markers", f"{marker}: {what}; runs after every other test")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    def rank(item):  # a stable sort keeps each group's own order
        return [item.get_closest_marker(marker) is not None for marker in RUNS_LAST][::-1]

    items.sort(key=rank)


@pytest.fixture(autouse=True)
def _a_broker_that_got_over_the_last_outage(request):
    """Before a test that stops the broker, repair what the last one's may have broken:
    a vhost deleted just after the broker came back can stop the broker's supervisor of
    dead-letter workers (tests/rabbitmqctl.py, ``healthy``)."""
    if request.node.get_closest_marker("broker_outage"):
        healthy()


# The broker keeps a table for every deleted quorum queue until it is told to free
# them (tests/rabbitmqctl.py): every this many vhosts, and before the first.
FREE_QUORUM_TABLES_EVERY = 100
_vhosts_made = itertools.count()


@pytest.fixture
def rabbit_config(rabbit_config):
    """nameko's throw-away vhost; the broker's tables of deleted quorum queues freed
    every ``FREE_QUORUM_TABLES_EVERY`` of them."""
    if next(_vhosts_made) % FREE_QUORUM_TABLES_EVERY == 0:
        free_quorum_queue_tables()
    return rabbit_config


def _admin_execute(*statements):
    execute_on_server(PG_ADMIN_URI, *statements)


@pytest.fixture(scope="session")
def pg_templates():
    """One migrated template database per service, cloned for each test."""
    suffix = uuid.uuid4().hex[:8]
    templates = {service: f"shop_tmpl_{service}_{suffix}" for service in SERVICES}
    for service, name in templates.items():
        _admin_execute(f'CREATE DATABASE "{name}"')
        upgrade(service, f"{PG_SQLALCHEMY_URI}/{name}")
    yield templates
    _admin_execute(
        *(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in templates.values())
    )


@pytest.fixture
def pg_db_uris(pg_templates):
    """Fresh, migrated PostgreSQL databases for this test, as a Nameko ``DB_URIS``."""
    suffix = uuid.uuid4().hex[:8]
    names = {service: f"shop_test_{service}_{suffix}" for service in SERVICES}
    _admin_execute(
        *(f'CREATE DATABASE "{names[s]}" TEMPLATE "{pg_templates[s]}"' for s in SERVICES)
    )
    yield {f"{s}:Base": f"{PG_SQLALCHEMY_URI}/{names[s]}" for s in SERVICES}
    _admin_execute(*(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)' for n in names.values()))


@pytest.fixture
def sql(db_uris):
    """Run a query on a service's own database: ``sql("inventory", "select ...")``."""
    engines = {}

    def run(service, query, **params):
        if service not in engines:
            engines[service] = create_engine(db_uris[f"{service}:Base"])
        with engines[service].begin() as connection:
            result = connection.execute(text(query), params)
            return result.all() if result.returns_rows else result.rowcount

    yield run
    for engine in engines.values():
        engine.dispose()


@pytest.fixture
def sqlite_db_uris(tmp_path):
    """Fresh, migrated SQLite files for this test, as a Nameko ``DB_URIS``."""
    uris = {f"{s}:Base": f"sqlite:///{tmp_path}/{s}.sqlite3" for s in SERVICES}
    for service in SERVICES:
        upgrade(service, uris[f"{service}:Base"])
    return uris


@pytest.fixture
def db_uris(pg_db_uris):
    """The databases the services run on; integration tests add SQLite."""
    return pg_db_uris


@pytest.fixture
def shop_config(rabbit_config, db_uris):
    """The shipped config.yaml, pointed at this test's vhost and databases."""
    config = load_config("config.yaml")
    config.update(
        AMQP_URI=rabbit_config["AMQP_URI"],
        DB_URIS=db_uris,
        ADMIN_EMAIL="admin@example.com",
        ADMIN_PASSWORD="admin-password",
        OUTBOX={"POLL_INTERVAL_SECONDS": 0.5, "BATCH_SIZE": 100},
        EVENTS={"DELIVERY_LIMIT": 3},
    )
    return config


@pytest.fixture
def shop_runner(shop_config):
    """All three services started in one runner, killed afterwards (before this
    test's vhost and databases are torn down; a graceful stop costs seconds)."""
    runner = ServiceRunner(shop_config)
    for service_cls in (UsersService, InventoryService, OrdersService):
        runner.add_service(service_cls)
    runner.start()
    yield runner
    runner.kill()


@pytest.fixture
def shop(shop_runner, shop_config):
    """A ``ClusterRpcProxy`` to the running services."""
    with ClusterRpcProxy(shop_config, timeout=30) as rpc:
        yield rpc


@pytest.fixture
def customer(shop):
    """A customer's account in the running shop."""
    return shop.users.create_user(
        {"email": "buyer@example.com", "name": "Buyer", "password": "correct-horse"}
    )
