"""The gateway's own token check: signature, expiry and a pinned algorithm."""

import base64
import json
import time

import jwt
import pytest

from gateway import auth
from tests.unit.gateway.conftest import SECRET, bearer, make_token


def _unsigned(payload):
    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


def _refusal(app, token):
    """The decoder's own reason for refusing ``token`` (the HTTP answer only says 401)."""
    with app.app_context(), pytest.raises(jwt.InvalidTokenError) as refused:
        auth._decode(token)
    return refused.value


def test_a_valid_customer_token_is_accepted_and_then_refused_admin_routes(client):
    response = client.get("/api/users", headers=bearer(make_token(role="customer")))

    assert response.status_code == 403
    assert response.json["error"] == "FORBIDDEN"


def test_a_fresh_admin_token_gets_past_the_check(app, client):
    # The baseline each bad token below departs from by one flaw.
    with app.app_context():
        assert auth._decode(make_token(role="admin")) == auth.Caller(7, "admin")
    # Past the token check, /api/users needs the users service: no broker here.
    assert client.get("/api/users", headers=bearer(make_token(role="admin"))).status_code == 503


def _none_algorithm():
    now = int(time.time())
    return _unsigned({"sub": "7", "role": "admin", "iat": now, "exp": now + 600})


def _forged():
    return make_token(role="admin", secret="someone-elses-secret-0123456789")


def _expired():
    return make_token(role="admin", exp=int(time.time()) - 60)


NOT_ALLOWED = (jwt.InvalidAlgorithmError, "The specified alg value is not allowed")
BAD_CLAIMS = (jwt.InvalidTokenError, "Bad claims")
# Each bad token: how to mint it, and the error (type, message) PyJWT refuses it with.
BAD_TOKENS = {
    "none": (_none_algorithm, NOT_ALLOWED),
    "forged": (_forged, (jwt.InvalidSignatureError, "Signature verification failed")),
    "other-algorithm": (lambda: make_token(role="admin", algorithm="HS512"), NOT_ALLOWED),
    "expired": (_expired, (jwt.ExpiredSignatureError, "Signature has expired")),
    "bad-subject": (lambda: make_token(sub="not-a-number", role="admin"), BAD_CLAIMS),
    "unknown-role": (lambda: make_token(role="root"), BAD_CLAIMS),
    "garbage": (lambda: "not.a.jwt", (jwt.DecodeError, "Invalid header padding")),
}


# Minted in the test, not at collection: a token minted then may have expired by the
# time its test runs, and would be refused for that instead of for its own flaw.
@pytest.mark.parametrize(
    ("mint", "reason", "says"),
    [pytest.param(mint, *refusal, id=name) for name, (mint, refusal) in BAD_TOKENS.items()],
)
def test_a_bad_token_gets_401_for_its_own_flaw_even_when_it_claims_to_be_an_admin(
    app, client, mint, reason, says
):
    token = mint()

    response = client.get("/api/users", headers=bearer(token))

    assert response.status_code == 401
    assert response.json["error"] == "UNAUTHORIZED"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    expired = reason is jwt.ExpiredSignatureError
    assert response.json["message"] == ("Token expired" if expired else "Invalid token")
    refusal = _refusal(app, token)
    assert (type(refusal), str(refusal)) == (reason, says)


def test_a_token_without_an_expiry_gets_401(app, client):
    token = jwt.encode({"sub": "1", "role": "admin", "iat": 1}, SECRET, algorithm="HS256")

    response = client.get("/api/users", headers=bearer(token))

    assert (response.status_code, response.json["message"]) == (401, "Invalid token")
    refusal = _refusal(app, token)
    assert isinstance(refusal, jwt.MissingRequiredClaimError)
    assert refusal.claim == "exp"


def test_an_authorization_header_that_is_not_bearer_gets_401(client):
    response = client.get("/api/users/me", headers={"Authorization": "Basic dXNlcjpwdw=="})

    assert response.status_code == 401
    assert "Bearer" in response.json["message"]


def test_no_token_on_a_user_route_gets_401_that_says_how_to_log_in(client):
    response = client.get("/api/orders")

    assert response.status_code == 401
    assert "/api/auth/token" in response.json["message"]
