import pytest

from extensions.tracer_provider import memory_exporter
from gateway.app import create_app


@pytest.fixture(params=["postgresql", "sqlite"])
def db_uris(request):
    """Each integration test runs on PostgreSQL and on SQLite, the two supported stores."""
    fixture = "pg_db_uris" if request.param == "postgresql" else "sqlite_db_uris"
    return request.getfixturevalue(fixture)


def traced_in_memory(shop_config, **settings):
    """``shop_config`` with every span kept in memory (cleared now), no metrics port and no
    Consul: what a test that reads the shop's spans runs on; ``settings`` add to it."""
    memory_exporter.clear()
    return dict(
        shop_config,
        TRACING={"EXPORTER": "memory"},
        METRICS={"PORT": 0},
        CONSUL={"ENABLED": False},
        **settings,
    )


@pytest.fixture
def http(shop_runner, shop_config):
    """The gateway in this process, in front of the running services, spans in memory."""
    app = create_app(
        {
            "AMQP_URI": shop_config["AMQP_URI"],
            "TOKEN": shop_config["TOKEN"],
            "TRACING": {"EXPORTER": "memory"},
            "RATE_LIMIT": "100000/minute",
            "REDIS_URI": "",
        }
    )
    yield app.test_client()
    app.extensions["shop.rpc"].close()
