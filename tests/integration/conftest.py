"""The three services in one runner, on the real RabbitMQ and a real database."""

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from extensions.config import load_config
from inventory.service import InventoryService
from orders.service import OrdersService
from users.service import UsersService

SERVICES = (UsersService, InventoryService, OrdersService)


@pytest.fixture(params=["postgresql", "sqlite"])
def db_uris(request):
    """Each test runs once on PostgreSQL and once on SQLite, the two supported stores."""
    fixture = "pg_db_uris" if request.param == "postgresql" else "sqlite_db_uris"
    return request.getfixturevalue(fixture)


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
def shop(runner_factory, shop_config):
    """Start all three services; yield a ``ClusterRpcProxy`` to call them."""
    runner = runner_factory(shop_config, *SERVICES)
    runner.start()
    with ClusterRpcProxy(shop_config, timeout=30) as rpc:
        yield rpc
