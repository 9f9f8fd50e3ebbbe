"""The Consul double answers python-consul the way Consul's documented agent API does."""

import consul
import pytest

from tests.fakes.consul import ConsulDouble


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def double(clock):
    server = ConsulDouble(clock=clock).start()
    yield server
    server.stop()


@pytest.fixture
def client(double):
    return consul.Consul(host=double.host, port=double.port)


def register_web(client, check=None):
    return client.agent.service.register(
        "web", service_id="web-1", address="10.0.0.5", port=8080, tags=["v1"], check=check
    )


def test_a_registered_service_is_listed_with_its_address_port_and_tags(client):
    assert register_web(client) is True

    service = client.agent.services()["web-1"]

    assert (service["Service"], service["Address"], service["Port"]) == ("web", "10.0.0.5", 8080)
    assert service["Tags"] == ["v1"]


def test_a_ttl_check_starts_critical_passes_when_told_and_expires_after_its_ttl(
    client, double, clock
):
    register_web(client, check=consul.Check.ttl("10s"))
    assert client.agent.checks()["service:web-1"]["Status"] == "critical"

    client.agent.check.ttl_pass("service:web-1", "fine")
    assert client.agent.checks()["service:web-1"]["Status"] == "passing"

    clock.now += 11
    assert client.agent.checks()["service:web-1"]["Status"] == "critical"


def test_health_with_passing_lists_only_instances_whose_checks_all_pass(client):
    register_web(client, check=consul.Check.ttl("10s"))
    client.agent.service.register(
        "web", service_id="web-2", port=8081, check=consul.Check.ttl("10s")
    )
    client.agent.check.ttl_pass("service:web-2")

    _, healthy = client.health.service("web", passing=True)
    _, every = client.health.service("web")

    assert [entry["Service"]["ID"] for entry in healthy] == ["web-2"]
    assert sorted(entry["Service"]["ID"] for entry in every) == ["web-1", "web-2"]
    assert {check["CheckID"] for check in every[0]["Checks"]} >= {"serfHealth"}


def test_deregistering_removes_the_service_and_its_checks_and_unknown_ids_are_404(client):
    register_web(client, check=consul.Check.ttl("10s"))

    assert client.agent.service.deregister("web-1") is True

    assert client.agent.services() == {}
    assert client.agent.checks() == {}
    # python-consul turns the agent's 404 into False.
    assert client.agent.service.deregister("web-1") is False
    assert client.agent.check.ttl_pass("service:web-1") is False


def test_kv_stores_values_reads_them_back_by_key_or_prefix_and_404s_a_missing_key(client):
    assert client.kv.put("shop/config/OUTBOX/BATCH_SIZE", "50") is True
    client.kv.put("shop/config/LOG_LEVEL", "DEBUG")

    _, entry = client.kv.get("shop/config/OUTBOX/BATCH_SIZE")
    _, entries = client.kv.get("shop/config/", recurse=True)
    _, missing = client.kv.get("shop/nothing")

    assert entry["Value"] == b"50"
    assert [e["Key"] for e in entries] == [
        "shop/config/LOG_LEVEL",
        "shop/config/OUTBOX/BATCH_SIZE",
    ]
    assert missing is None


def test_an_outage_answers_every_request_with_a_server_error(client, double):
    double.outage()

    with pytest.raises(consul.ConsulException):
        register_web(client)

    double.recover()
    assert register_web(client) is True
