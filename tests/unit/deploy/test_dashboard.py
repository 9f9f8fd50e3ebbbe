"""docker/grafana/: the dashboard reads the provisioned Prometheus and charts what the issue
asks for; every series it and the alerts read is exported by the shop, as found by
starting the shop and reading its /metrics pages over HTTP."""

import json
import os

import requests

from tests import yaml_files
from tests.commands import service_command
from tests.faults.processes import SERVICES, Process, Shop, free_port
from tests.unit.deploy.files import DASHBOARDS, DOCKER, PROMETHEUS
from tests.unit.deploy.promql import series_exported, series_read

DASHBOARD = DASHBOARDS / "shop.json"
# Series Prometheus makes itself rather than scrapes.
PROMETHEUS_OWN = {"up", "ALERTS"}


def _panels():
    return json.loads(DASHBOARD.read_text())["panels"]


def _charted():
    return {name for p in _panels() for t in p["targets"] for name in series_read(t["expr"])}


def _alerted():
    groups = yaml_files.load(PROMETHEUS / "alerts.yml")["groups"]
    return {name for g in groups for rule in g["rules"] for name in series_read(rule["expr"])}


def test_the_dashboard_reads_the_provisioned_prometheus():
    provisioned = yaml_files.load(
        DOCKER / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
    )

    assert provisioned["datasources"][0]["uid"] == "prometheus"
    for panel in _panels():
        assert panel["datasource"]["uid"] == "prometheus", panel["title"]
        assert {t["datasource"]["uid"] for t in panel["targets"]} == {"prometheus"}


def test_the_dashboard_charts_latency_per_route_and_rpc_errors_events_and_the_saga_gauges():
    assert {
        "gateway_http_request_duration_seconds_bucket",  # latency per route
        "gateway_rpc_duration_seconds_bucket",  # latency per service call
        "gateway_rpc_calls_total",
        "gateway_http_errors_total",
        "nameko_entrypoint_errors_total",
        "shop_events_published_total",
        "shop_orders_total",
        "shop_outbox_backlog",
        "shop_outbox_oldest_unpublished_seconds",
        "shop_orders_pending",
        "shop_orders_pending_oldest_seconds",
        "shop_dead_letters",
    } <= _charted()


def _exported_by_a_running_shop(workdir, amqp_uri, db_uris):
    """The series the three services (one ``nameko run``) and the gateway (gunicorn)
    export, once the gateway has answered a call and an error."""
    shop = Shop(workdir, amqp_uri, db_uris, os.environ["JWT_SECRET"])
    metrics_port = free_port()
    environment = {
        **shop.base_env,
        "METRICS_PORT": str(metrics_port),
        "METRICS_ADDRESS": "127.0.0.1",
    }
    services = Process("services", service_command(*SERVICES), environment, workdir / "s.log")
    shop.processes.append(services)
    try:
        services.start()
        _, gateway = shop.start_gateway(workers=1, threads=4)
        shop.wait_ready(gateway)
        # The gateway's series appear with their first sample (one file per worker).
        assert requests.get(f"{gateway}/api/products", timeout=10).status_code == 200
        assert requests.get(f"{gateway}/api/products/999999", timeout=10).status_code == 404
        pages = [f"http://127.0.0.1:{metrics_port}/metrics", f"{gateway}/metrics"]
        return set().union(*(series_exported(requests.get(p, timeout=10).text) for p in pages))
    finally:
        shop.stop()


def test_every_series_the_dashboard_and_the_alerts_read_is_exported_by_the_running_shop(
    rabbit_config, sqlite_db_uris, tmp_path
):
    exported = _exported_by_a_running_shop(tmp_path, rabbit_config["AMQP_URI"], sqlite_db_uris)

    assert "nameko_entrypoint_calls_total" in exported and "gateway_rpc_calls_total" in exported
    missing = (_charted() | _alerted()) - exported - PROMETHEUS_OWN
    assert not missing, f"read but not exported: {sorted(missing)}"
