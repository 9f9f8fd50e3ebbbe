"""The shop as production runs it: one ``nameko run`` process per service and
the gateway under gunicorn, each started, signalled and restarted by the test."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests

from tests.commands import GATEWAY, service_command

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("users", "inventory", "orders")
ADMIN = ("admin@example.com", "admin-password")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """One OS process of the shop, with its log file."""

    def __init__(self, name, argv, env, log_path):
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.popen = None
        self.expected_exit = False  # set when the scenario itself stops it

    def start(self):
        self.expected_exit = False
        with open(self.log_path, "a") as log:
            self.popen = subprocess.Popen(
                self.argv, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def signal(self, signum):
        self.expected_exit = True
        self.popen.send_signal(signum)

    def wait(self, timeout):
        return self.popen.wait(timeout=timeout)

    def log_tail(self, lines=40):
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class Shop:
    """Processes of the shop against one vhost and one set of databases.

    ``start_service("orders")`` can be called twice for two instances; the
    gateway is one gunicorn master with its workers. ``amqp_uri_of(name)``, if
    given, is the ``AMQP_URI`` of process ``name`` ("orders-0", "gateway-1"): a
    cluster's nodes in another order for each process.
    """

    def __init__(self, workdir, amqp_uri, db_uris, jwt_secret, amqp_uri_of=None, **env):
        self.workdir = workdir
        self.amqp_uri_of = amqp_uri_of or (lambda _name: amqp_uri)
        self.processes = []
        self.base_env = {
            **os.environ,
            "AMQP_URI": amqp_uri,
            "USERS_DB_URI": db_uris["users:Base"],
            "INVENTORY_DB_URI": db_uris["inventory:Base"],
            "ORDERS_DB_URI": db_uris["orders:Base"],
            "JWT_SECRET": jwt_secret,
            "ADMIN_EMAIL": ADMIN[0],
            "ADMIN_PASSWORD": ADMIN[1],
            "CONSUL_ENABLED": "false",
            "TRACING_EXPORTER": "none",
            "LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
            **{key: str(value) for key, value in env.items()},
        }
        self.base_url = None

    def start_service(self, service, **env):
        index = sum(p.name.startswith(service) for p in self.processes)
        name = f"{service}-{index}"
        process = Process(
            name,
            service_command(service),
            {
                **self.base_env,
                "AMQP_URI": self.amqp_uri_of(name),
                "METRICS_PORT": str(free_port()),
                **env,
            },
            self.workdir / f"{name}.log",
        )
        process.start()
        self.processes.append(process)
        return process

    def start_gateway(self, workers=2, threads=8, **env):
        index = sum(p.name.startswith("gateway") for p in self.processes)
        port = free_port()
        process = Process(
            f"gateway-{index}",
            GATEWAY,
            {
                **self.base_env,
                "AMQP_URI": self.amqp_uri_of(f"gateway-{index}"),
                "GATEWAY_HOST": "127.0.0.1",
                "GATEWAY_PORT": str(port),
                "GATEWAY_WORKERS": str(workers),
                "GATEWAY_THREADS": str(threads),
                "RATE_LIMIT": "100000/minute",
                **env,
            },
            self.workdir / f"gateway-{index}.log",
        )
        process.start()
        self.processes.append(process)
        url = f"http://127.0.0.1:{port}"
        self.base_url = self.base_url or url
        return process, url

    def start_all(self, instances=1, gateways=1, gateway_env=None):
        for service in SERVICES:
            for _ in range(instances):
                self.start_service(service)
        urls = [self.start_gateway(**(gateway_env or {}))[1] for _ in range(gateways)]
        for url in urls:
            self.wait_ready(url)
        return urls

    def wait_ready(self, url=None, timeout=60):
        """Until the gateway reports every service ready (and the admin exists)."""
        url = url or self.base_url
        deadline = time.monotonic() + timeout
        while True:
            self.assert_alive()
            try:
                if requests.get(f"{url}/health/ready", timeout=2).status_code == 200:
                    response = requests.post(
                        f"{url}/api/auth/token",
                        json={"email": ADMIN[0], "password": ADMIN[1]},
                        timeout=5,
                    )
                    if response.status_code == 200:
                        return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"shop not ready in {timeout}s\n{self.logs()}")
            time.sleep(0.2)

    def process(self, name):
        return next(p for p in self.processes if p.name == name)

    def restart(self, process):
        process.start()

    def unexpected_exits(self):
        return [p for p in self.processes if not p.alive() and not p.expected_exit]

    def assert_alive(self):
        dead = self.unexpected_exits()
        assert not dead, "\n".join(
            f"{p.name} exited with {p.popen.returncode}:\n{p.log_tail()}" for p in dead
        )

    def logs(self):
        return "\n".join(f"--- {p.name}\n{p.log_tail(15)}" for p in self.processes)

    def stop(self):
        """SIGTERM everything still running (SIGKILL what outlives 20 s)."""
        running = [p for p in self.processes if p.alive()]
        for process in running:
            process.signal(signal.SIGTERM)
        for process in running:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.wait(timeout=10)


class RedisServer:
    """A Redis of the test's own, on a free port, with nothing saved to disk; it can
    be killed and started again on the same port (empty, as after a crash)."""

    def __init__(self, workdir):
        self.port = free_port()
        self.uri = f"redis://127.0.0.1:{self.port}/0"
        self.log_path = workdir / f"redis-{self.port}.log"
        self.popen = None

    def start(self, timeout=10):
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        with open(self.log_path, "a") as log:
            self.popen = subprocess.Popen(
                [*argv, "--save", "", "--appendonly", "no"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            assert self.popen.poll() is None, self.log_path.read_text()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            assert time.monotonic() < deadline, f"redis-server not up in {timeout}s"
            time.sleep(0.05)

    def kill(self):
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)
