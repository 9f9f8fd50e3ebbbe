"""Metrics served by Nameko services and scraped by a real Prometheus."""

import contextlib
import json
import logging
import socket
import uuid
from pathlib import Path

import pytest
import requests
import yaml
from nameko.events import EventDispatcher
from nameko.exceptions import RemoteError
from nameko.rpc import rpc
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.utils import find_free_port

from extensions.events import reliable_event_handler
from extensions.metrics import Metrics
from extensions.registration import ConsulRegistration
from tests.integration.extensions.prometheus import static_config
from tests.polling import eventually

REPO = Path(__file__).resolve().parents[3]


def metered_service(name):
    class MeteredService:
        metrics = Metrics()
        dispatch = EventDispatcher()

        @rpc
        def ok(self):
            return "ok"

        @rpc
        def broken(self):
            raise KeyError("missing")

        @rpc
        def emit(self):
            self.dispatch("poisoned", {"event_id": str(uuid.uuid4()), "data": {}})

        @reliable_event_handler(name, "poisoned")
        def on_poisoned(self, payload):
            raise RuntimeError("this handler never succeeds")

    MeteredService.name = name
    return MeteredService


@pytest.fixture
def service_name():
    # Counters live in the process's registry: a fresh service name per test
    # keeps each test's series its own.
    return f"metered_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def config(rabbit_config):
    return dict(
        rabbit_config, METRICS={"PORT": find_free_port()}, EVENTS={"RETRY_DELAYS_SECONDS": [0.1]}
    )


def call(config, service, method, times):
    with ClusterRpcProxy(config) as cluster:
        for _ in range(times):
            with contextlib.suppress(RemoteError):
                getattr(getattr(cluster, service), method)()


def test_prometheus_scrapes_a_service_and_sees_its_counters_move_by_the_calls_made(
    config, service_name, container_factory, prometheus
):
    container = container_factory(metered_service(service_name), config)
    container.start()
    server = prometheus(static_config([f"127.0.0.1:{config['METRICS']['PORT']}"]))
    server.wait_for('up{job="shop"}', 1.0)

    calls = f'nameko_entrypoint_calls_total{{service="{service_name}"'
    call(config, service_name, "ok", 3)
    server.wait_for(f'{calls},entrypoint="ok",outcome="success"}}', 3.0)
    call(config, service_name, "ok", 2)
    call(config, service_name, "broken", 4)

    server.wait_for(f'{calls},entrypoint="ok",outcome="success"}}', 5.0)
    server.wait_for(f'{calls},entrypoint="broken",outcome="error",type="rpc"}}', 4.0)
    server.wait_for(
        f'nameko_entrypoint_errors_total{{service="{service_name}",exception="KeyError"}}', 4.0
    )
    server.wait_for(
        f'sum(nameko_entrypoint_duration_seconds_count{{service="{service_name}"}})', 9.0
    )
    assert server.value(f'nameko_max_workers{{service="{service_name}"}}') == container.max_workers
    assert server.value(f'nameko_workers_in_flight{{service="{service_name}"}}') == 0.0


def test_an_event_a_handler_keeps_failing_on_is_counted_as_dead_lettered(
    config, service_name, container_factory
):
    container = container_factory(metered_service(service_name), config)
    container.start()
    url = f"http://127.0.0.1:{config['METRICS']['PORT']}/metrics"
    queue = f"evt-{service_name}-poisoned--{service_name}.on_poisoned"

    call(config, service_name, "emit", 1)

    def dead_lettered():
        for line in requests.get(url, timeout=5).text.splitlines():
            if line.startswith("shop_events_dead_lettered_total") and queue in line:
                return float(line.rsplit(" ", 1)[1])
        return None

    assert eventually(dead_lettered) == 1.0
    failures = (
        f'nameko_entrypoint_calls_total{{entrypoint="on_poisoned",outcome="error",'
        f'service="{service_name}",type="event"}} 2.0'
    )
    assert failures in requests.get(url, timeout=5).text, "the first try and its one retry"


def test_a_taken_metrics_port_is_logged_and_never_fails_a_call(
    config, service_name, container_factory, caplog
):
    with socket.socket() as squatter:
        squatter.bind(("0.0.0.0", config["METRICS"]["PORT"]))
        squatter.listen()
        caplog.set_level(logging.WARNING, logger="extensions.endpoint")
        container = container_factory(metered_service(service_name), config)
        container.start()

        with ClusterRpcProxy(config) as cluster:
            assert getattr(cluster, service_name).ok() == "ok"

    assert any("metrics and health not served" in r.getMessage() for r in caplog.records)


def consul_targets(consul_double, names):
    """Consul's health API answers as Prometheus sees them through consul_sd_configs.

    Debian's Prometheus is built without Consul discovery, so the test feeds the
    same ``__meta_consul_*`` labels through file discovery instead.
    """
    groups = []
    for name in names:
        url = f"{consul_double.url}/v1/health/service/{name}"
        for entry in requests.get(url, timeout=5).json():
            service, checks = entry["Service"], entry["Checks"]
            statuses = {check["Status"] for check in checks}
            health = next(s for s in ("critical", "warning", "passing") if s in statuses)
            labels = {
                "__meta_consul_service": service["Service"],
                "__meta_consul_service_id": service["ID"],
                "__meta_consul_health": health,
                "__meta_consul_tags": "," + ",".join(service["Tags"]) + ",",
            }
            for key, value in service["Meta"].items():
                labels[f"__meta_consul_service_metadata_{key}"] = value
            groups.append(
                {"targets": [f"{service['Address']}:{service['Port']}"], "labels": labels}
            )
    return groups


def test_the_shipped_prometheus_relabelling_scrapes_healthy_consul_registrations(
    config, service_name, consul_double, container_factory, prometheus, tmp_path
):
    config["CONSUL"] = {
        "ENABLED": True,
        "HOST": consul_double.host,
        "PORT": consul_double.port,
        "ADDRESS": "127.0.0.1",
        "TAGS": ["shop"],
        "TTL_SECONDS": 5,
    }

    class Registered(metered_service(service_name)):
        registration = ConsulRegistration()

    container = container_factory(Registered, config)
    container.start()
    eventually(lambda: consul_targets(consul_double, [service_name]))
    targets_file = tmp_path / "consul-targets.json"
    targets_file.write_text(json.dumps(consul_targets(consul_double, [service_name])))
    shipped = yaml.safe_load((REPO / "docker" / "prometheus" / "prometheus.yml").read_text())
    job = shipped["scrape_configs"][0]
    assert job["consul_sd_configs"][0]["server"] == "consul:8500"
    del job["consul_sd_configs"]
    job["file_sd_configs"] = [{"files": [str(targets_file)], "refresh_interval": "1s"}]
    shipped["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    server = prometheus(shipped)

    server.wait_for(f'up{{consul_service="{service_name}"}}', 1.0)
    call(config, service_name, "ok", 2)
    server.wait_for(
        f'nameko_entrypoint_calls_total{{consul_service="{service_name}",'
        f'service="{service_name}",entrypoint="ok",outcome="success"}}',
        2.0,
    )
    (target,) = [t for t in server.targets() if t["labels"].get("consul_service") == service_name]
    assert target["labels"]["instance"].startswith(f"{service_name}-")
    assert target["labels"]["version"]
