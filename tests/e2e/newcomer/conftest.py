"""A newcomer's checkout: the Makefile's commands run as the README says, each in a
checkout of the test's own (every file of this one linked, but its own ``var/``),
from the environment of a user's terminal, on free ports and a vhost of its own, with
no Consul listening."""

import os
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests

from tests.e2e.newcomer.terminal import Terminal
from tests.faults.processes import free_port

REPO = Path(__file__).resolve().parents[3]
# What `make test` and the test session add to the environment, which a user's terminal
# does not have: make's own variables, what the Makefile exports, the session's secret.
NOT_IN_A_USERS_TERMINAL = (
    "MAKEFLAGS",
    "MFLAGS",
    "MAKELEVEL",
    "JWT_SECRET",
    "ADMIN_EMAIL",
    "ADMIN_PASSWORD",
    "EVENTLET_TESTS",
    "LOG_FORMAT",
    "TRACING_EXPORTER",
    "CONSUL_ENABLED",
)


class Checkout:
    """A checkout of the shop in ``path``, with its own ``var/``, its own ports and vhost."""

    def __init__(self, path, amqp_uri):
        path.mkdir()
        for entry in REPO.iterdir():
            if entry.name not in ("var", ".git"):
                (path / entry.name).symlink_to(entry)
        self.path = path
        self.gateway_port = free_port()
        self.metrics_port = free_port()
        self.consul_port = free_port()  # nothing listens there: no Consul
        environ = {k: v for k, v in os.environ.items() if k not in NOT_IN_A_USERS_TERMINAL}
        self.env = {
            **environ,
            "AMQP_URI": amqp_uri,
            "GATEWAY_PORT": str(self.gateway_port),
            "METRICS_PORT": str(self.metrics_port),
            "CONSUL_PORT": str(self.consul_port),
            "TERM": "dumb",  # no colours, no readline tricks in the terminal's text
        }

    def make(self, *targets, timeout=120, **env):
        """``make TARGET...`` with its output captured (not a terminal)."""
        return subprocess.run(
            ["make", *targets],
            cwd=self.path,
            env={**self.env, **env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )

    def in_a_terminal(self, argv, **env):
        return Terminal(argv, self.path, {**self.env, **env})

    def wait_ready(self, alive, log, timeout=120):
        """Until the gateway says every service is ready (the users service is ready only
        once the admin exists); ``alive()`` false or the deadline fails with ``log()``."""
        url = f"http://127.0.0.1:{self.gateway_port}/health/ready"
        deadline = time.monotonic() + timeout
        while True:
            assert alive(), f"make run exited:\n{log()}"
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, f"not ready in {timeout}s:\n{log()}"
            time.sleep(0.2)


def amqp_uri_of(request, vhost):
    """The test broker's URI for ``vhost``, as nameko's ``rabbit_config`` builds it."""
    broker = urlparse(request.config.getoption("RABBIT_AMQP_URI"))
    return f"{broker.scheme}://{broker.netloc}/{vhost}"


@pytest.fixture(scope="package")
def running_shop(request, vhost_pipeline, tmp_path_factory):
    """``TRACING_EXPORTER=console make run`` on a terminal, up and ready; stopped at the end
    as closing the terminal would stop it."""
    with vhost_pipeline.get() as vhost:
        checkout = Checkout(
            tmp_path_factory.mktemp("newcomer") / "shop", amqp_uri_of(request, vhost)
        )
        terminal = checkout.in_a_terminal(["make", "run"], TRACING_EXPORTER="console")
        try:
            checkout.wait_ready(lambda: terminal.process.poll() is None, terminal.output)
            yield checkout, terminal
        finally:
            terminal.stop(signal.SIGTERM)


@pytest.fixture
def checkout(rabbit_config, tmp_path):
    """A checkout of its own on this test's vhost, nothing running."""
    return Checkout(tmp_path / "shop", rabbit_config["AMQP_URI"])
