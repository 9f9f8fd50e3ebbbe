"""docker/ files checked offline: schemas, and dashboards that chart real metrics."""

import json
import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

import extensions.metrics  # noqa: F401 - registers the services' metrics
from gateway.observability import Metrics as GatewayMetrics
from tests import yaml_files

REPO = Path(__file__).resolve().parents[3]
DOCKER = REPO / "docker"


def compose_schema_errors(path):
    """What the Compose specification's schema finds wrong in ``path`` ("" if nothing)."""
    return yaml_files.schema_errors("vendor.compose-spec", path)


def test_the_compose_file_follows_the_compose_specification():
    assert compose_schema_errors(DOCKER / "compose.yaml") == ""


def test_the_compose_file_runs_consul_prometheus_grafana_jaeger_and_every_shop_process():
    services = yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]

    assert {"consul", "prometheus", "grafana", "jaeger"} <= services.keys()
    for name in ("users", "inventory", "orders", "gateway"):
        environment = services[name]["environment"]
        assert environment["CONSUL_HOST"] == "consul", name
        assert environment["SERVICE_ADDRESS"] == name, name
        assert environment["TRACING_EXPORTER"] == "otlp", name


def _known_metric_names():
    names = set()
    for registry in (REGISTRY, GatewayMetrics().registry):
        for metric in registry.collect():
            names.add(metric.name)
            names.update(sample.name for sample in metric.samples)
    suffixes = ("_total", "_bucket", "_count", "_sum", "_created")
    return names | {name + suffix for name in names for suffix in suffixes} | {"up"}


def test_the_grafana_dashboard_charts_only_metrics_the_code_exports():
    dashboard = json.loads((DOCKER / "grafana" / "dashboards" / "shop.json").read_text())
    known = _known_metric_names()
    functions = {"sum", "rate", "increase", "histogram_quantile", "by", "max", "le"}

    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {
        word
        for expression in expressions
        for word in re.findall(
            r"\b([a-z_]+)(?=[{\[)\s]|$)", re.sub(r"\{[^}]*\}", "{}", expression)
        )
        if (word not in functions and "_" in word) or word == "up"
    }

    assert used, "the dashboard has queries"
    assert used <= known, used - known
    assert {"nameko_entrypoint_calls_total", "shop_orders_total"} <= used
    datasources = yaml.safe_load(
        (DOCKER / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    assert datasources["datasources"][0]["uid"] == "prometheus"
    assert {panel["datasource"]["uid"] for panel in dashboard["panels"]} == {"prometheus"}
