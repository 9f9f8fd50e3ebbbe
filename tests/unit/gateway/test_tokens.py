"""The gateway's own token check: signature, expiry and a pinned algorithm."""

import base64
import json
import time

import jwt
import pytest

from tests.unit.gateway.conftest import SECRET, bearer, make_token


def _unsigned(payload):
    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


def test_a_valid_customer_token_is_accepted_and_then_refused_admin_routes(client):
    response = client.get("/api/users", headers=bearer(make_token(role="customer")))

    assert response.status_code == 403
    assert response.json["error"] == "FORBIDDEN"


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(_unsigned({"sub": "1", "role": "admin", "iat": 1, "exp": 2**40}), id="none"),
        pytest.param(
            make_token(role="admin", secret="someone-elses-secret-0123456789"), id="forged"
        ),
        pytest.param(make_token(role="admin", algorithm="HS512"), id="other-algorithm"),
        pytest.param(make_token(role="admin", exp=int(time.time()) - 60), id="expired"),
        pytest.param(make_token(sub="not-a-number", role="admin"), id="bad-subject"),
        pytest.param(make_token(role="root"), id="unknown-role"),
        pytest.param("not.a.jwt", id="garbage"),
    ],
)
def test_a_bad_token_gets_401_even_when_it_claims_to_be_an_admin(client, token):
    response = client.get("/api/users", headers=bearer(token))

    assert response.status_code == 401
    assert response.json["error"] == "UNAUTHORIZED"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_token_without_an_expiry_gets_401(client):
    token = jwt.encode({"sub": "1", "role": "admin", "iat": 1}, SECRET, algorithm="HS256")

    assert client.get("/api/users", headers=bearer(token)).status_code == 401


def test_an_authorization_header_that_is_not_bearer_gets_401(client):
    response = client.get("/api/users/me", headers={"Authorization": "Basic dXNlcjpwdw=="})

    assert response.status_code == 401
    assert "Bearer" in response.json["message"]


def test_no_token_on_a_user_route_gets_401_that_says_how_to_log_in(client):
    response = client.get("/api/orders")

    assert response.status_code == 401
    assert "/api/auth/token" in response.json["message"]
