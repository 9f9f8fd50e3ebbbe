"""Nameko services register with a Consul agent (the in-repo double) and live without one."""

import logging

import pytest
import requests
from nameko.rpc import rpc
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.utils import find_free_port

from extensions.registration import ConsulRegistration
from tests.polling import eventually


class RegisteredService:
    name = "registered"
    registration = ConsulRegistration(tags=["test"])

    @rpc
    def ping(self):
        return "pong"


@pytest.fixture
def config(rabbit_config, consul_double):
    return dict(
        rabbit_config,
        max_workers=7,
        METRICS={"PORT": 9555},
        CONSUL={
            "ENABLED": True,
            "HOST": consul_double.host,
            "PORT": consul_double.port,
            "ADDRESS": "10.0.0.7",
            "TAGS": ["shop"],
            "TTL_SECONDS": 3,
            "RETRY_MAX_SECONDS": 0.2,
        },
    )


def healthy(consul_double, name):
    url = f"{consul_double.url}/v1/health/service/{name}?passing"
    return requests.get(url, timeout=5).json()


def test_a_started_service_is_registered_healthy_with_its_metrics_port_tags_and_meta(
    config, consul_double, container_factory
):
    container = container_factory(RegisteredService, config)
    container.start()

    (entry,) = eventually(lambda: healthy(consul_double, "registered"))

    service = entry["Service"]
    assert service["ID"].startswith("registered-")
    assert (service["Address"], service["Port"]) == ("10.0.0.7", 9555)
    assert service["Tags"] == ["shop", "nameko", "test"]
    assert service["Meta"]["metrics_port"] == "9555"
    assert service["Meta"]["max_workers"] == "7"
    assert service["Meta"]["version"]
    (check,) = [c for c in entry["Checks"] if c["ServiceID"] == service["ID"]]
    assert check["Status"] == "passing"
    assert check["Definition"]["DeregisterCriticalServiceAfter"] == "1m"


def test_a_stopped_service_is_deregistered(config, consul_double, container_factory):
    container = container_factory(RegisteredService, config)
    container.start()
    eventually(lambda: healthy(consul_double, "registered"))

    container.stop()

    assert consul_double.services == {}
    assert consul_double.requests_to("PUT", "/v1/agent/service/deregister/registered-")


def test_with_no_consul_at_all_the_service_starts_serves_and_warns_once(
    config, container_factory, caplog
):
    config["CONSUL"]["PORT"] = find_free_port()
    caplog.set_level(logging.WARNING, logger="extensions.registration")
    container = container_factory(RegisteredService, config)
    container.start()

    with ClusterRpcProxy(config) as cluster:
        assert [cluster.registered.ping() for _ in range(3)] == ["pong"] * 3

    eventually(lambda: any("unavailable" in r.getMessage() for r in caplog.records))
    assert sum("unavailable" in r.getMessage() for r in caplog.records) == 1


def test_a_consul_outage_while_running_never_fails_a_call_and_registration_comes_back(
    config, consul_double, container_factory
):
    container = container_factory(RegisteredService, config)
    container.start()
    eventually(lambda: healthy(consul_double, "registered"))

    consul_double.outage()
    consul_double.services.clear()
    consul_double.checks.clear()
    with ClusterRpcProxy(config) as cluster:
        assert [cluster.registered.ping() for _ in range(3)] == ["pong"] * 3
    consul_double.recover()

    eventually(lambda: healthy(consul_double, "registered"))
