"""The abuse suite: the gateway under gunicorn in front of the real services, attacked.

The gateway fixtures are tests/e2e/gateway's own (imported, so that both folders run
the very same gunicorn); this folder adds a secret nobody else knows and a raw-socket
client for requests no well-behaved HTTP library would send.
"""

import secrets
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest

from tests.e2e.gateway.conftest import ADMIN, Gateway, admin_token, api, start_gateway

__all__ = ["ADMIN", "Gateway", "admin_token", "api", "start_gateway"]


@pytest.fixture
def shop_config(shop_config):
    """The shop with a JWT secret made for this test: never one of the repo's defaults,
    so that a token signed with a default is a forgery here, as it must be in production."""
    return {**shop_config, "TOKEN": {**shop_config["TOKEN"], "SECRET": secrets.token_hex(32)}}


@dataclass
class RawResponse:
    status: int
    reason: str
    headers: dict = field(default_factory=dict)  # lower-case names
    body: bytes = b""

    def json(self):
        import json

        return json.loads(self.body)


def address(gateway):
    parts = urlsplit(gateway.base_url)
    return parts.hostname, parts.port


class Responses(list):
    """The responses read from a connection; ``closed``: whether the server closed it."""

    closed = False


def read_responses(sock, timeout):
    """Every HTTP response the server sends on ``sock`` until it closes or ``timeout``."""
    data, closed = b"", False
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        data += chunk
    responses = parse_responses(data)
    responses.closed = closed
    return responses


def parse_responses(data):
    responses = Responses()
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            raise AssertionError(f"Not an HTTP response: {data[:200]!r}")
        lines = head.decode("latin-1").split("\r\n")
        _version, status, reason = [*lines[0].split(" ", 2), ""][:3]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", 0))
        body, data = rest[:length], rest[length:]
        responses.append(RawResponse(int(status), reason, headers, body))
    return responses


def send_raw(gateway, data, timeout=3.0):
    """Send ``data`` as is on a new connection; the responses that come back."""
    with socket.create_connection(address(gateway), timeout=timeout) as sock:
        sock.sendall(data)
        return read_responses(sock, timeout)
