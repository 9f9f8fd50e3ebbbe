"""The shop as production runs it, from a given source tree, for ``bench.order_path``.

Each service is its own ``nameko run`` process and the gateway runs under
gunicorn (2 workers x 16 threads, rate limits in Redis), on a throw-away vhost
and PostgreSQL databases of its own (``bench.stack``). The tree's own
``config.yaml`` is read, configured through the environment as in production;
only Consul is off, as no agent runs here.
"""

import os
import secrets
import socket
import subprocess
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.stack import Processes, databases, vhost, wait_http
from tools.migrate import SERVICES

PROBE = Path(__file__).parent / "probe"  # its sitecustomize counts SQL per process
NAMEKO_RUN = ("run", "--config", "config.yaml")
GUNICORN = ("-c", "python:gateway.gunicorn_conf", "gateway.wsgi:app")
ADMIN = ("admin@example.com", "bench-admin-password")


@dataclass(frozen=True)
class Tree:
    """One variant's code: a checkout and the virtualenv that runs it."""

    name: str
    path: Path
    bin_dir: Path

    def python_path(self, *extra):
        # Ahead of site-packages, where the working tree is installed in editable mode.
        return os.pathsep.join([str(self.path), *map(str, extra)])


@dataclass(frozen=True)
class RunningShop:
    tree: Tree
    base_url: str
    pids: dict  # "gateway", "users", "inventory", "orders" -> process id
    db_uris: dict  # service -> SQLAlchemy URI
    vhost: str
    sql_counts: Path  # where the probe writes


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _db_env(uris):
    return {f"{s.upper()}_DB_URI": uris[f"{s}:Base"] for s in SERVICES}


def migration_command(tree):
    """The tree's own migration command: ``tools.migrate`` since issue 12 moved it out
    of ``extensions``, where a baseline from before then still has it."""
    moved = (tree.path / "tools" / "migrate.py").exists()
    module = "tools.migrate" if moved else "extensions.migrate"
    return [str(tree.bin_dir / "python"), "-m", module, "--config", "config.yaml"]


def _migrate_with(tree, env):
    def migrate(uris):
        subprocess.run(
            migration_command(tree),
            cwd=tree.path,
            env={**os.environ, **env, **_db_env(uris), "PYTHONPATH": tree.python_path()},
            check=True,
            capture_output=True,
        )

    return migrate


def _wait_ready(base_url, deadline_seconds=90):
    wait_http(f"{base_url}/health/live", deadline_seconds)
    deadline = time.monotonic() + deadline_seconds
    while requests.get(f"{base_url}/health/ready", timeout=5).status_code != 200:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{base_url}: services did not become ready")
        time.sleep(0.2)


@contextmanager
def running_shop(tree, workdir):
    """Yield a ``RunningShop`` of ``tree``'s code; everything is removed afterwards."""
    workdir = Path(workdir) / tree.name
    sql_counts = workdir / "sql"
    sql_counts.mkdir(parents=True)
    env = {
        "CONSUL_ENABLED": "false",
        "JWT_SECRET": secrets.token_urlsafe(48),
        "ADMIN_EMAIL": ADMIN[0],
        "ADMIN_PASSWORD": ADMIN[1],
        "LOG_LEVEL": "INFO",
    }
    with vhost() as amqp_uri, databases(_migrate_with(tree, env)) as uris:
        env.update(_db_env(uris), AMQP_URI=amqp_uri)
        processes = Processes(workdir)
        port = _free_port()
        try:
            for service in SERVICES:
                processes.start(
                    service,
                    [str(tree.bin_dir / "nameko"), *NAMEKO_RUN, f"{service}.service"],
                    {
                        **env,
                        "METRICS_PORT": str(_free_port()),
                        "PYTHONPATH": tree.python_path(PROBE),
                        "BENCH_SQL_COUNTS": str(sql_counts),
                    },
                    cwd=tree.path,
                )
            processes.start(
                "gateway",
                [str(tree.bin_dir / "gunicorn"), *GUNICORN],
                {
                    **env,
                    "PYTHONPATH": tree.python_path(),
                    "SHOP_CONFIG": "config.yaml",
                    "GATEWAY_HOST": "127.0.0.1",
                    "GATEWAY_PORT": str(port),
                    "GATEWAY_WORKERS": "2",
                    "GATEWAY_THREADS": "16",
                    "RATE_LIMIT": "100000000/minute",
                    "REDIS_URI": "redis://127.0.0.1:6379/0",
                    "RATE_LIMIT_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
                },
                cwd=tree.path,
            )
            base_url = f"http://127.0.0.1:{port}"
            _wait_ready(base_url)
            yield RunningShop(
                tree=tree,
                base_url=base_url,
                pids={name: processes.pid(name) for name in (*SERVICES, "gateway")},
                db_uris={s: uris[f"{s}:Base"] for s in SERVICES},
                vhost=amqp_uri.rsplit("/", 1)[1],
                sql_counts=sql_counts,
            )
        finally:
            processes.stop_all()
