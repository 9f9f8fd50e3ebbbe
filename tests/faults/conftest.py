"""Fixtures of the fault-injection suite: the shop in real processes, on
PostgreSQL, behind gunicorn, under steady load, in a vhost and databases of
the test's own."""

import json
import secrets
import time

import pytest

from tests.faults import invariants
from tests.faults.cluster import RabbitCluster
from tests.faults.load import Load, customers
from tests.faults.processes import REPO, Shop
from tests.rabbitmqctl import MANAGEMENT

INITIAL_STOCK = 5_000
RESULTS = REPO / "var" / "faults"


class Scenario:
    """One scenario: the shop started, products and buyers made, load, a fault, the checks."""

    def __init__(self, name, nodeid, shop, amqp_uri, db_uris, management=MANAGEMENT):
        self.name = name
        self.nodeid = nodeid
        self.load_description = None
        self.shop = shop
        self.amqp_uri = amqp_uri
        self.management = management  # the broker's management API
        self.db_uris = db_uris
        self.initial_stock = {}
        self.load = None
        self.fault_started = self.fault_ended = None
        self.figures = {}  # a scenario's own measurements, added to its report

    def start(self, instances=1, gateways=1, buyers=4, products=4, rate=8.0, gateway_env=None):
        """``gateway_env``: extra environment for the gateways (e.g. ``REDIS_URI``)."""
        urls = self.shop.start_all(
            instances=instances, gateways=gateways, gateway_env=gateway_env or {}
        )
        admin, people, self.initial_stock = customers(urls[0], buyers, products, INITIAL_STOCK)
        self.load = Load(urls, people, sorted(self.initial_stock), admin, rate=rate)
        self.load_description = (
            f"{rate:g} orders/s from {buyers} buyers on {products} products"
            f" ({instances} of each service, {gateways} gateway(s))"
        )
        return urls

    def run(self, fault, warmup=3.0, after=5.0):
        """Load for ``warmup`` s, then ``fault()`` under load, then ``after`` s more."""
        self.load.start()
        time.sleep(warmup)  # steady traffic before the fault (load time, not a wait)
        self.load.mark("fault")
        self.fault_started = time.monotonic()
        fault()
        self.fault_ended = time.monotonic()
        self.load.mark("after")
        time.sleep(after)
        self.load.stop()

    def verify(self, settle_timeout=30.0, dead_letters_allowed=False):
        assert not self.load.crashes, self.load.crashes
        assert "fault" in self.load.statuses(), "no traffic during the fault"
        assert self.load.accepted, "the load placed no order"
        settle = invariants.wait_until_settled(
            self.db_uris, self.amqp_uri, self.load.accepted, settle_timeout, self.management
        )
        counts = invariants.check(
            self.db_uris,
            self.amqp_uri,
            self.load,
            self.initial_stock,
            dead_letters_allowed,
            self.management,
        )
        self.shop.assert_alive()
        recovery = self.load.first_order_after(self.fault_ended)
        report = {
            "scenario": self.name,
            "command": f".venv/bin/pytest '{self.nodeid}'",
            "load": self.load_description,
            "fault_seconds": round(self.fault_ended - self.fault_started, 1),
            "requests": self.load.statuses(),
            "slowest_failure_during_fault_s": round(self.load.slowest_failure("fault"), 2),
            "first_order_after_fault_s": None if recovery is None else round(recovery, 2),
            "settled_after_load_s": round(settle, 2),
            **counts,
            **self.figures,
        }
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"{self.name}.json").write_text(json.dumps(report, indent=2))
        return report


@pytest.fixture
def shop_processes(rabbit_config, pg_db_uris, tmp_path):
    shop = Shop(tmp_path, rabbit_config["AMQP_URI"], pg_db_uris, secrets.token_hex(32))
    yield shop
    shop.stop()


@pytest.fixture
def scenario(request, shop_processes, rabbit_config, pg_db_uris):
    return Scenario(
        request.node.name.removeprefix("test_"),
        request.node.nodeid,
        shop_processes,
        rabbit_config["AMQP_URI"],
        pg_db_uris,
    )


@pytest.fixture(scope="session")
def rabbit_cluster(tmp_path_factory):
    """Three RabbitMQ nodes of the session's own (scripts/rabbit-cluster.sh), stopped at
    its end; the cluster scenarios run last, so nothing else runs beside them."""
    cluster = RabbitCluster(tmp_path_factory.mktemp("rabbit-cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def cluster_scenario(request, rabbit_cluster, pg_db_uris, tmp_path):
    """A scenario whose shop runs on the cluster, each process starting from another node."""
    rabbit_cluster.start()  # every node up, whatever the last scenario left
    with rabbit_cluster.vhost() as vhost:
        shop = Shop(
            tmp_path,
            rabbit_cluster.amqp_uri(vhost),
            pg_db_uris,
            secrets.token_hex(32),
            amqp_uri_of=rabbit_cluster.amqp_uri_of_process(vhost),
        )
        try:
            yield Scenario(
                request.node.name.removeprefix("test_"),
                request.node.nodeid,
                shop,
                rabbit_cluster.amqp_uri(vhost),
                pg_db_uris,
                management=rabbit_cluster.management(),
            )
        finally:
            shop.stop()
