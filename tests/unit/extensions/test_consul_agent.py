"""ConsulAgent: what the services and the gateway send to Consul, and when."""

import json
import logging
import socket

import consul
import pytest

from extensions.registration import ConsulAgent, kv_overlay, start_agent
from tests.fakes.consul import ConsulDouble
from tests.polling import eventually


@pytest.fixture
def double():
    server = ConsulDouble().start()
    yield server
    server.stop()


def consul_config(double, **overrides):
    return {
        "HOST": double.host,
        "PORT": double.port,
        "TAGS": ["shop"],
        "TTL_SECONDS": 3,
        "DEREGISTER_AFTER": "1m",
        "RETRY_MAX_SECONDS": 0.2,
        "ADDRESS": "10.1.2.3",
    } | overrides


def test_registration_sends_id_name_address_port_tags_version_meta_and_a_ttl_check(double):
    agent = ConsulAgent(consul_config(double), "orders", 9102, tags=["nameko"])

    agent.register()

    (request,) = double.requests_to("PUT", "/v1/agent/service/register")
    payload = json.loads(request["body"])
    assert payload["ID"].startswith(f"orders-{socket.gethostname()}-")
    assert payload["Name"] == "orders"
    assert (payload["Address"], payload["Port"]) == ("10.1.2.3", 9102)
    assert payload["Tags"] == ["shop", "nameko"]
    assert payload["Meta"]["version"]
    assert payload["Check"] == {
        "CheckID": f"service:{agent.service_id}",
        "Name": "orders heartbeat",
        "TTL": "3s",
        "DeregisterCriticalServiceAfter": "1m",
    }
    assert double.status(agent.check_id) == "passing"


def test_two_instances_of_one_service_get_different_ids(double):
    first = ConsulAgent(consul_config(double), "orders", 9102)
    second = ConsulAgent(consul_config(double), "orders", 9102)

    assert first.service_id != second.service_id


def test_a_heartbeat_after_the_agent_forgot_the_service_registers_it_again(double):
    agent = ConsulAgent(consul_config(double), "orders", 9102)
    agent.register()
    double.services.clear()
    double.checks.clear()

    agent.heartbeat()

    assert agent.service_id in double.services
    assert double.status(agent.check_id) == "passing"


def test_stop_deregisters_the_instance(double):
    agent = ConsulAgent(consul_config(double), "orders", 9102)
    agent.register()

    agent.stop()

    assert double.services == {}
    assert double.requests_to("PUT", f"/v1/agent/service/deregister/{agent.service_id}")


def test_while_consul_is_down_the_agent_warns_once_and_registers_when_it_is_back(double, caplog):
    double.outage()
    agent = ConsulAgent(consul_config(double), "orders", 9102)
    caplog.set_level(logging.WARNING, logger="extensions.registration")
    agent.start_thread()
    try:
        eventually(lambda: len(double.requests_to("PUT", "/v1/agent/service/register")) >= 3)
        double.recover()
        eventually(lambda: agent.service_id in double.services)
    finally:
        agent.stop()

    warnings = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(warnings) == 1
    assert "keeps trying" in warnings[0].getMessage()
    assert double.services == {}


def test_while_consul_is_down_the_services_of_one_process_say_so_in_one_line(double, caplog):
    double.outage()
    names = ("users", "inventory", "orders")
    agents = [ConsulAgent(consul_config(double), name, 9102) for name in names]
    caplog.set_level(logging.WARNING, logger="extensions.registration")

    threads = [agent.start_thread() for agent in agents]
    try:
        eventually(
            lambda: (
                {
                    json.loads(request["body"])["Name"]
                    for request in double.requests_to("PUT", "/v1/agent/service/register")
                }
                == set(names)
            )
        )
    finally:
        for agent, thread in zip(agents, threads, strict=True):
            agent.stop()
            thread.join(timeout=5)

    assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1


def test_with_no_consul_the_line_names_the_cause_not_the_http_library_chain(caplog):
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    agent = ConsulAgent({"HOST": "127.0.0.1", "PORT": port, "RETRY_MAX_SECONDS": 0.2}, "orders", 1)
    caplog.set_level(logging.WARNING, logger="extensions.registration")

    thread = agent.start_thread()
    try:
        eventually(lambda: caplog.records)
    finally:
        agent.stop()
        thread.join(timeout=5)

    (record,) = caplog.records
    cause = record.args[1]
    assert cause in (
        "Connection refused",
        "ECONNREFUSED",
    )  # eventlet's green socket says the latter
    assert record.getMessage() == (
        f"Consul at http://127.0.0.1:{port} is unavailable ({cause}); "
        "this process runs unregistered and keeps trying"
    )
    assert record.exc_info is None


def test_kv_values_under_the_prefix_overlay_the_config_as_yaml(double):
    client = consul.Consul(host=double.host, port=double.port)
    client.kv.put("shop/config/OUTBOX/BATCH_SIZE", "50")
    client.kv.put("shop/config/LOG_LEVEL", "DEBUG")
    config = {"OUTBOX": {"BATCH_SIZE": 100, "POLL_INTERVAL_SECONDS": 2}}

    applied = kv_overlay(config, consul_config(double))

    assert sorted(applied) == ["LOG_LEVEL", "OUTBOX/BATCH_SIZE"]
    assert config == {
        "OUTBOX": {"BATCH_SIZE": 50, "POLL_INTERVAL_SECONDS": 2},
        "LOG_LEVEL": "DEBUG",
    }


def test_kv_overlay_without_consul_leaves_the_config_alone(double):
    config = {"OUTBOX": {"BATCH_SIZE": 100}}
    double.stop()

    assert kv_overlay(config, consul_config(double)) == []
    assert config == {"OUTBOX": {"BATCH_SIZE": 100}}


def test_a_process_outside_nameko_registers_from_a_thread_and_deregisters_on_stop(double):
    agent = start_agent({"CONSUL": consul_config(double, ENABLED=True)}, "gateway", 8000)
    try:
        eventually(lambda: agent.service_id in double.services)
        assert double.services[agent.service_id]["Port"] == 8000
    finally:
        agent.stop()

    assert double.services == {}


def test_no_agent_is_started_when_consul_is_disabled(double):
    assert start_agent({"CONSUL": consul_config(double, ENABLED=False)}, "gateway", 8000) is None
    assert double.requests == []
