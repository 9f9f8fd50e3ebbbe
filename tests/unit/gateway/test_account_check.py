"""The account behind a token: deleted or disabled is 401, demoted is 403, asked of the
users service once per user and cache period, never trusted when users cannot answer."""

import time

import pytest

from gateway.app import create_app
from gateway.auth import ACCOUNT_GONE
from gateway.rpc import RemoteError, ServiceUnavailable
from tests.unit.gateway.conftest import bearer, gateway_config, make_token


class FakeServices:
    """Stands in for the RPC client: users 7 and 8 as set in ``accounts``."""

    def __init__(self):
        self.accounts = {7: {"role": "customer", "status": "active"}}
        self.calls = []
        self.users_down = False

    def call(self, service, method, *args, context=None, timeout=None, **kwargs):
        self.calls.append((service, method, args))
        if service == "users" and method == "get_user":
            if self.users_down:
                raise ServiceUnavailable("Circuit open for users")
            account = self.accounts.get(args[0])
            if account is None:
                raise RemoteError("NotFound", ["No such user", {"user_id": str(args[0])}])
            return {"id": args[0], "email": "x@example.com", "name": "X", **account}
        if method in ("list_users", "list_orders"):
            return {"items": [], "page": 1, "per_page": 20, "total": 0}
        if method == "update_user":
            self.accounts[args[0]].update(args[1])
            return self.call("users", "get_user", args[0])
        raise AssertionError(f"unexpected call {service}.{method}")

    def account_checks(self):
        return sum(1 for call in self.calls if call[:2] == ("users", "get_user"))


@pytest.fixture
def services():
    return FakeServices()


def _client(services, cache_seconds=30.0):
    app = create_app(gateway_config(ACCOUNT_CACHE_SECONDS=cache_seconds), rpc_client=services)
    return app.test_client()


@pytest.mark.parametrize(
    "account", [None, {"role": "customer", "status": "disabled"}], ids=["deleted", "disabled"]
)
def test_the_token_of_a_deleted_or_disabled_account_gets_401(services, account):
    services.accounts[7] = account
    if account is None:
        del services.accounts[7]

    response = _client(services).get("/api/orders", headers=bearer(make_token()))

    assert response.status_code == 401
    assert response.json["message"] == ACCOUNT_GONE
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_an_admin_token_of_a_demoted_account_gets_403_on_admin_routes(services):
    client = _client(services)
    admin_token = make_token(role="admin")

    assert client.get("/api/users", headers=bearer(admin_token)).status_code == 403
    assert client.get("/api/orders", headers=bearer(admin_token)).status_code == 200


def test_a_customer_token_of_a_promoted_account_stays_a_customer_until_the_next_log_in(
    services,
):
    services.accounts[7]["role"] = "admin"

    response = _client(services).get("/api/users", headers=bearer(make_token()))

    assert response.status_code == 403
    assert services.account_checks() == 0  # refused on the token's word: users not asked


def test_the_answer_is_cached_per_user_for_the_configured_time(services):
    client = _client(services, cache_seconds=0.3)
    token = bearer(make_token())

    for _ in range(5):
        assert client.get("/api/orders", headers=token).status_code == 200
    assert services.account_checks() == 1

    services.accounts[7]["status"] = "disabled"
    assert client.get("/api/orders", headers=token).status_code == 200  # still cached
    time.sleep(0.35)
    assert client.get("/api/orders", headers=token).status_code == 401
    assert services.account_checks() == 2


def test_with_no_cache_every_request_asks(services):
    client = _client(services, cache_seconds=0)

    for _ in range(3):
        client.get("/api/orders", headers=bearer(make_token()))

    assert services.account_checks() == 3


def test_when_users_cannot_answer_the_token_is_not_trusted_alone(services):
    services.users_down = True
    client = _client(services)

    response = client.get("/api/orders", headers=bearer(make_token()))

    assert response.status_code == 503
    services.users_down = False
    assert client.get("/api/orders", headers=bearer(make_token())).status_code == 200


def test_a_change_made_through_this_worker_is_seen_at_once(services):
    services.accounts[8] = {"role": "customer", "status": "active"}
    services.accounts[9] = {"role": "admin", "status": "active"}
    client = _client(services)
    victim = bearer(make_token(sub="8"))
    assert client.get("/api/orders", headers=victim).status_code == 200

    disabled = client.patch(
        "/api/users/8", json={"status": "disabled"}, headers=bearer(make_token("9", "admin"))
    )

    assert disabled.status_code == 200
    assert client.get("/api/orders", headers=victim).status_code == 401


def test_anonymous_routes_do_not_ask_about_the_callers_account(services):
    services.accounts.clear()
    client = _client(services)

    response = client.post("/api/auth/token", json={}, headers=bearer(make_token()))

    assert response.status_code == 400  # the body's fault; the token is not looked at
    assert services.account_checks() == 0
