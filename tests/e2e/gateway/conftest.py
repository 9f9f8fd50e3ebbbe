"""The gateway under gunicorn, over HTTP, in front of the real services of this test."""

import json
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.commands import GATEWAY
from tests.e2e.gateway.polling import until

REPO = Path(__file__).resolve().parents[3]
ADMIN = ("admin@example.com", "admin-password")  # as tests/conftest.py's shop_config


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gateway:
    """An HTTP client for one running gateway, with the log it writes."""

    def __init__(self, base_url, log_path):
        self.base_url = base_url
        self.log_path = log_path
        self.http = requests.Session()

    def request(self, method, path, token=None, **kwargs):
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(
            method, self.base_url + path, headers=headers, timeout=30, **kwargs
        )

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def patch(self, path, **kwargs):
        return self.request("PATCH", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)

    def token(self, email, password):
        response = self.post("/api/auth/token", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def sign_up(self, email, name="Someone", password="correct-horse-battery"):
        response = self.post(
            "/api/users", json={"email": email, "name": name, "password": password}
        )
        assert response.status_code == 201, response.text
        return response.json(), self.token(email, password)

    def wait_for_order_status(self, order, status, token):
        """Poll ``order`` as ``token``'s holder sees it until its status is ``status``."""
        url = f"/api/orders/{order['id']}"
        until(lambda: self.get(url, token=token), lambda o: o["status"] == status)

    def place_confirmed_order(self, token, product):
        """Order one ``product`` with ``token`` and let the saga confirm it, so that stock
        figures hold still; the order as placed."""
        order = self.post(
            "/api/orders",
            token=token,
            json={"items": [{"product_id": product["id"], "quantity": 1}]},
        ).json()
        self.wait_for_order_status(order, "confirmed", token)
        return order

    def log_records(self):
        """The JSON lines the gateway logged (gunicorn's own plain lines skipped)."""
        records = []
        for line in self.log_path.read_text().splitlines():
            if line.startswith("{"):
                records.append(json.loads(line))
        return records


@pytest.fixture
def start_gateway(shop_config, tmp_path):
    """Start gunicorn serving the gateway against this test's vhost: ``start(**env)``;
    a variable given as ``None`` is left out, so that its shipped default applies."""
    processes = []

    def start(**env):
        port = _free_port()
        log_path = tmp_path / f"gateway-{port}.log"
        environ = {
            **os.environ,
            "AMQP_URI": shop_config["AMQP_URI"],
            "JWT_SECRET": shop_config["TOKEN"]["SECRET"],
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(port),
            "GATEWAY_WORKERS": "2",
            "GATEWAY_THREADS": "8",
            "RATE_LIMIT": "100000/minute",
            "LOGIN_FAILURE_LIMIT": "100000/minute",
            "EMAIL_CHECK_LIMIT": "100000/minute",
            "REDIS_URI": "redis://127.0.0.1:6379/0",
            "RATE_LIMIT_PREFIX": f"test-{uuid.uuid4().hex}",
            **{key: str(value) for key, value in env.items()},
        }
        environ = {key: value for key, value in environ.items() if env.get(key, "") is not None}
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                GATEWAY,
                cwd=REPO,
                env=environ,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        processes.append(process)
        gateway = Gateway(f"http://127.0.0.1:{port}", log_path)
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                if gateway.get("/health/live").status_code == 200:
                    return gateway
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)

    yield start
    for process in processes:
        process.send_signal(signal.SIGINT)  # quick shutdown: nothing is in flight
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def api(shop_runner, start_gateway):
    """The gateway in front of all three services."""
    return start_gateway()


@pytest.fixture
def admin_token(api):
    return api.token(*ADMIN)
