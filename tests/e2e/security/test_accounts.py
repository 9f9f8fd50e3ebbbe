"""A token outlives nothing it speaks for: once its account is deleted, disabled or
demoted, the gateway refuses it within GATEWAY_ACCOUNT_CACHE_SECONDS (it asks the users
service for the account's status and role, and remembers the answer that long).

Each request here goes on a new connection, so it may land on either gunicorn worker,
each with its own cache: the bound must hold on both.
"""

import re
import time

import requests

from tests.e2e.security.conftest import ADMIN

CACHE_SECONDS = 2
# A cached answer lives CACHE_SECONDS from when it arrived, which was before the change.
SLACK_SECONDS = 0.2


def _fresh(api, method, path, token):
    return requests.request(
        method,
        api.base_url + path,
        headers={"Authorization": f"Bearer {token}", "Connection": "close"},
        timeout=10,
    )


def _answers(api, callers, rounds=4):
    """{name: set of statuses} of each caller's own route, ``rounds`` times."""
    seen = {name: set() for name in callers}
    for _ in range(rounds):
        for name, (path, token) in callers.items():
            seen[name].add(_fresh(api, "GET", path, token).status_code)
    return seen


def test_deleted_disabled_and_demoted_accounts_lose_their_tokens_within_the_cache_time(
    shop_runner, start_gateway
):
    api = start_gateway(GATEWAY_ACCOUNT_CACHE_SECONDS=CACHE_SECONDS)
    admin = api.token(*ADMIN)
    deleted, deleted_token = api.sign_up("deleted@example.com")
    disabled, disabled_token = api.sign_up("disabled@example.com")
    demoted, _ = api.sign_up("demoted@example.com")
    assert api.patch(f"/api/users/{demoted['id']}", token=admin, json={"role": "admin"}).ok
    demoted_token = api.token("demoted@example.com", "correct-horse-battery")
    callers = {
        "deleted": ("/api/orders", deleted_token),
        "disabled": ("/api/orders", disabled_token),
        "demoted": ("/api/users", demoted_token),  # an admin route
    }
    refusals = {"deleted": 401, "disabled": 401, "demoted": 403}
    # Every token works, and the workers have the accounts in their caches.
    assert _answers(api, callers) == {"deleted": {200}, "disabled": {200}, "demoted": {200}}

    assert api.delete(f"/api/users/{deleted['id']}", token=admin).status_code == 204
    assert api.patch(f"/api/users/{disabled['id']}", token=admin, json={"status": "disabled"}).ok
    assert api.patch(f"/api/users/{demoted['id']}", token=admin, json={"role": "customer"}).ok
    changed = time.monotonic()  # every answer cached before this expires within the bound
    time.sleep(max(0.0, changed + CACHE_SECONDS + SLACK_SECONDS - time.monotonic()))

    assert _answers(api, callers) == {name: {status} for name, status in refusals.items()}
    body = _fresh(api, "GET", "/api/orders", deleted_token).json()
    assert (body["error"], body["message"]) == (
        "UNAUTHORIZED",
        "This account is deleted or disabled: log in again",
    )
    # The demoted user keeps what a customer may do.
    assert _fresh(api, "GET", "/api/users/me", demoted_token).status_code == 200


def test_with_no_cache_a_deleted_account_is_refused_on_its_very_next_request(
    shop_runner, start_gateway
):
    api = start_gateway(GATEWAY_ACCOUNT_CACHE_SECONDS=0)
    admin_token = api.token(*ADMIN)
    user, token = api.sign_up("gone@example.com")
    assert _fresh(api, "GET", "/api/orders", token).status_code == 200

    assert api.delete(f"/api/users/{user['id']}", token=admin_token).status_code == 204

    assert [_fresh(api, "GET", "/api/orders", token).status_code for _ in range(4)] == [401] * 4


def test_a_user_who_deletes_their_own_account_loses_the_token_at_once(api):
    # The worker that deleted the account forgets what it had cached about it; this
    # token has been seen by that worker only (one kept-alive connection).
    user, token = api.sign_up("leaving@example.com")
    assert api.get("/api/orders", token=token).status_code == 200

    assert api.delete(f"/api/users/{user['id']}", token=token).status_code == 204

    assert api.get("/api/orders", token=token).status_code == 401
    assert api.get("/api/users/me", token=token).status_code == 401


def test_the_account_check_costs_one_users_call_per_worker_per_cache_period(
    shop_runner, start_gateway
):
    api = start_gateway(GATEWAY_ACCOUNT_CACHE_SECONDS=60)
    _user, token = api.sign_up("busy@example.com")

    statuses = {_fresh(api, "GET", "/api/orders", token).status_code for _ in range(30)}

    assert statuses == {200}
    metrics = api.get("/metrics").text
    calls = sum(
        float(value)
        for value in re.findall(
            r'gateway_rpc_calls_total\{[^}]*method="get_user"[^}]*\} (\S+)', metrics
        )
    )
    assert 1 <= calls <= 2  # GATEWAY_WORKERS=2, each asks once
