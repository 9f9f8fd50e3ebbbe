"""Bring up a throw-away shop for the benchmark: its own vhost, PostgreSQL databases,
the three services, and the three gateways side by side. Everything on localhost.
Also a throw-away three-node RabbitMQ cluster, for the benchmarks that compare one.
"""

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import requests
import yaml

from extensions.config import load_config
from tests.faults.cluster import RabbitCluster
from tests.rabbitmqctl import throwaway_vhost
from tools.migrate import SERVICES, upgrade
from tools.pgadmin import execute_on_server

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PG_ADMIN_URI = os.environ.get("TEST_PG_URI", "postgresql://postgres@127.0.0.1:5432")
PORTS = {
    "ours": 18100,
    "proxy_pool": 18101,
    "nameko_http": 18102,
    "ours_1x4": 18103,
    "bare": 18104,
}

# Gateways served by gunicorn: name -> (WSGI app, environment beyond the shared one).
_GUNICORN_GATEWAYS = {
    "ours": ("gateway.wsgi:app", {}),
    "ours_1x4": ("gateway.wsgi:app", {"GATEWAY_WORKERS": "1", "GATEWAY_THREADS": "4"}),
    "bare": ("bench.bare_gateway:app", {}),
    "proxy_pool": ("bench.proxy_gateway:app", {}),
}


def _pg(*statements):
    execute_on_server(PG_ADMIN_URI, *statements)


@contextmanager
def vhost():
    """A throw-away vhost for one shop; yields its AMQP URI."""
    with throwaway_vhost("shop_bench") as name:
        yield f"pyamqp://guest:guest@127.0.0.1:5672/{name}"


@contextmanager
def rabbit_cluster():
    """A three-node RabbitMQ cluster of the benchmark's own (``scripts/rabbit-cluster.sh``,
    run as root), stopped on the way out."""
    with tempfile.TemporaryDirectory() as state_dir:
        cluster = RabbitCluster(Path(state_dir))
        try:
            cluster.start()
            yield cluster
        finally:
            cluster.stop()


def _upgrade_here(uris):
    for service in SERVICES:
        upgrade(service, uris[f"{service}:Base"])


@contextmanager
def databases(migrate=_upgrade_here):
    """Yield ``DB_URIS`` for a database per service, migrated by ``migrate(uris)``."""
    suffix = uuid.uuid4().hex[:8]
    names = {s: f"shop_bench_{s}_{suffix}" for s in SERVICES}
    _pg(*(f'CREATE DATABASE "{n}"' for n in names.values()))
    base = PG_ADMIN_URI.replace("postgresql://", "postgresql+psycopg2://", 1)
    uris = {f"{s}:Base": f"{base}/{names[s]}" for s in SERVICES}
    try:
        migrate(uris)
        yield uris
    finally:
        _pg(*(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)' for n in names.values()))


class Processes:
    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.running = {}

    def start(self, name, argv, env, cwd=REPO):
        log = open(self.workdir / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(
            argv, cwd=cwd, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
        )
        self.running[name] = (process, log)
        return process

    def pid(self, name):
        return self.running[name][0].pid

    def stop_all(self):
        for process, _ in self.running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process, log in self.running.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


def wait_http(url, deadline_seconds=60):
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def shop(gateway_workers="2", gateway_threads="16"):
    """Yield ``(processes, workdir)`` with services and the gateways running: ours
    as shipped (``gateway_workers`` x ``gateway_threads``) and with one worker of
    four threads, the featureless control, and the two peers."""
    with vhost() as amqp_uri, databases() as db_uris, tempfile.TemporaryDirectory() as workdir:
        config = load_config(str(REPO / "config.yaml"))
        config.update(
            AMQP_URI=amqp_uri,
            DB_URIS=db_uris,
            ADMIN_EMAIL="admin@example.com",
            ADMIN_PASSWORD="bench-admin-password",
            WEB_SERVER_ADDRESS=f"127.0.0.1:{PORTS['nameko_http']}",
        )
        config_path = Path(workdir) / "config.yaml"
        config_path.write_text(yaml.safe_dump(config))
        processes = Processes(workdir)
        nameko = [str(BIN / "nameko"), "run", "--config", str(config_path)]
        gunicorn = [str(BIN / "gunicorn"), "-c", "python:gateway.gunicorn_conf"]
        gateway_env = {
            "SHOP_CONFIG": str(config_path),
            "AMQP_URI": amqp_uri,
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_WORKERS": gateway_workers,
            "GATEWAY_THREADS": gateway_threads,
            "RATE_LIMIT": "100000000/minute",
            # As deployed: limits in Redis, shared by the workers.
            "REDIS_URI": "redis://127.0.0.1:6379/0",
            "RATE_LIMIT_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
        }
        try:
            processes.start("services", [*nameko, *(f"{s}.service" for s in SERVICES)], {})
            for name, (app, overrides) in _GUNICORN_GATEWAYS.items():
                env = {**gateway_env, "GATEWAY_PORT": str(PORTS[name]), **overrides}
                processes.start(name, [*gunicorn, app], env)
            processes.start("nameko_http", [*nameko, "bench.nameko_gateway"], {})
            for name in _GUNICORN_GATEWAYS:
                wait_http(f"http://127.0.0.1:{PORTS[name]}/health/live")
            wait_http(f"http://127.0.0.1:{PORTS['nameko_http']}/api/products/1")
            ready = f"http://127.0.0.1:{PORTS['ours']}/health/ready"
            deadline = time.monotonic() + 60
            while requests.get(ready, timeout=5).status_code != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError("services did not become ready")
                time.sleep(0.2)
            yield processes, Path(workdir)
        finally:
            processes.stop_all()
