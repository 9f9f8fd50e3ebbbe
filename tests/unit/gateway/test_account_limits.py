"""The account guards of gateway/limits.py in process, with a stand-in for the services
(the journeys over HTTP are in tests/e2e/gateway/test_abuse.py)."""

import logging

import pytest

from gateway import limits
from gateway.app import create_app
from gateway.rpc import RemoteError
from tests.unit.gateway.conftest import gateway_config

# Port 1 refuses at once: the limiter falls back to counting in memory.
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


class RefusesEveryLogin:
    """The users service as a guesser meets it."""

    def call(self, service, method, *args, **kwargs):
        raise RemoteError("Unauthorized", ["Invalid email or password"])


def make_app(**settings):
    return create_app(gateway_config(**settings), rpc_client=RefusesEveryLogin())


def test_the_guarded_routes_exist(app):
    assert {limits.LOGIN, *limits.EMAIL_CHECKS} <= app.view_functions.keys()


def test_with_redis_unreachable_the_login_throttle_still_counts_in_memory(caplog):
    client = make_app(REDIS_URI=UNREACHABLE_REDIS, LOGIN_FAILURE_LIMIT="2/hour").test_client()
    guess = {"email": "ann@example.com", "password": "wrong-guess"}

    with caplog.at_level(logging.WARNING, logger="gateway.rate_counts"):
        statuses = [client.post("/api/auth/token", json=guess).status_code for _ in range(3)]

    assert "falling back to in-memory storage" in caplog.text
    assert statuses == [401, 401, 429]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"email": "ann@example.com", ', 400),  # malformed
        (b'{"email": ' * 100_000, 413),  # too large (and too deep)
        (b"[" * 5000 + b"]" * 5000, 400),  # too deep for the parser
        (b'{"email": ["ann@example.com"], "password": "x"}', 400),
    ],
)
def test_a_body_the_guards_cannot_read_is_the_views_to_refuse(caplog, body, status):
    client = make_app(LOGIN_FAILURE_LIMIT="1/hour").test_client()

    with caplog.at_level(logging.WARNING, logger="gateway.rate_counts"):
        response = client.post(
            "/api/auth/token", data=body, headers={"Content-Type": "application/json"}
        )

    assert response.status_code == status
    assert "falling back" not in caplog.text  # the limiter saw no storage error


def test_a_request_over_the_limit_is_refused_before_the_guards_read_its_body(monkeypatch):
    client = make_app(RATE_LIMIT="1/hour").test_client()
    guess = {"email": "ann@example.com", "password": "wrong-guess"}
    assert client.post("/api/auth/token", json=guess).status_code == 401
    bodies_read = []
    read_body = limits._body_email
    monkeypatch.setattr(limits, "_body_email", lambda: bodies_read.append(1) or read_body())

    refused = client.post("/api/auth/token", json=guess)

    assert refused.status_code == 429
    assert bodies_read == []


def test_a_login_email_that_utf8_cannot_encode_is_refused_by_the_view_not_by_a_limiter_fault(
    caplog,
):
    client = make_app().test_client()
    # JSON allows a lone surrogate; Python's strict UTF-8 does not.
    body = b'{"email": "\\ud800@example.com", "password": "wrong-guess"}'

    with caplog.at_level(logging.WARNING):
        response = client.post(
            "/api/auth/token", data=body, headers={"Content-Type": "application/json"}
        )

    assert response.status_code == 400
    assert "Rate limiting failed" not in caplog.text
