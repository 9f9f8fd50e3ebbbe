"""Consul KV's values override config.yaml at every start: `nameko run` and the code
outside Nameko that reads config.yaml (the gateway, the CLIs)."""

import logging
import secrets

import consul
import pytest
import requests

from extensions.config import load_config
from tests.fakes.consul import ConsulDouble
from tests.faults.processes import Shop
from tests.polling import eventually


@pytest.fixture
def double():
    server = ConsulDouble().start()
    yield server
    server.stop()


def put(double, key, value):
    consul.Consul(host=double.host, port=double.port).kv.put(f"shop/config/{key}", value)


def test_a_service_process_takes_its_config_from_consul_kv_over_the_file(
    double, rabbit_config, pg_db_uris, tmp_path
):
    put(double, "max_workers", "3")
    shop = Shop(
        tmp_path,
        rabbit_config["AMQP_URI"],
        pg_db_uris,
        secrets.token_hex(32),
        CONSUL_ENABLED="true",
        CONSUL_HOST=double.host,
        CONSUL_PORT=double.port,
    )
    try:
        process = shop.start_service("users")
        metrics = f"http://127.0.0.1:{process.env['METRICS_PORT']}"
        eventually(lambda: _get(f"{metrics}/health/ready") == 200, timeout=60)

        text = requests.get(f"{metrics}/metrics", timeout=5).text
        assert 'nameko_max_workers{service="users"} 3.0' in text.splitlines()
        assert "config from Consul KV: max_workers" in process.log_tail()
    finally:
        shop.stop()


def _get(url):
    try:
        return requests.get(url, timeout=2).status_code
    except requests.RequestException:
        return None


def test_load_config_lays_kv_over_the_file_and_ignores_an_absent_consul_with_one_warning(
    double, monkeypatch, caplog
):
    monkeypatch.setenv("CONSUL_HOST", double.host)
    monkeypatch.setenv("CONSUL_PORT", str(double.port))
    put(double, "RPC_TIMEOUT_SECONDS", "7")
    put(double, "OUTBOX/BATCH_SIZE", "25")

    config = load_config("config.yaml")

    assert config["RPC_TIMEOUT_SECONDS"] == 7
    assert config["OUTBOX"] == {
        "POLL_INTERVAL_SECONDS": 2,
        "STRANDED_AFTER_SECONDS": 5,
        "BATCH_SIZE": 25,
    }

    double.stop()
    with caplog.at_level(logging.WARNING):
        config = load_config("config.yaml")

    assert config["RPC_TIMEOUT_SECONDS"] == 3
    (warning,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert warning.getMessage().startswith("Consul KV not read")


def test_a_disabled_consul_is_not_asked(double, monkeypatch):
    monkeypatch.setenv("CONSUL_HOST", double.host)
    monkeypatch.setenv("CONSUL_PORT", str(double.port))
    monkeypatch.setenv("CONSUL_ENABLED", "false")
    put(double, "RPC_TIMEOUT_SECONDS", "7")
    double.reset()

    assert load_config("config.yaml")["RPC_TIMEOUT_SECONDS"] == 3
    assert double.requests_to("GET", "/v1/kv/shop/config/") == []
