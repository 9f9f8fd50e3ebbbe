"""Abuse over HTTP: a readiness flood, account enumeration, one account guessed at from
many addresses, and the rate limit of the setup as shipped (docs/security.md)."""

import collections
import math
import shlex
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from prometheus_client import REGISTRY

from tests.e2e.gateway.conftest import REPO, Gateway

PASSWORD = "correct-horse-battery"


def health_calls():
    """``health`` calls each service handled so far, from its own Prometheus counter
    (the services run in this process, so their registry is this one)."""
    calls = collections.Counter()
    for metric in REGISTRY.collect():
        if metric.name == "nameko_entrypoint_calls":
            for sample in metric.samples:
                if sample.name.endswith("_total") and sample.labels["entrypoint"] == "health":
                    calls[sample.labels["service"]] += sample.value
    return calls


class FromAddress(requests.adapters.HTTPAdapter):
    """Connects from another loopback address: to the gateway, another client."""

    def __init__(self, address):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, source_address=(self.address, 0), **kwargs)


def client_at(api, address):
    client = Gateway(api.base_url, api.log_path)
    client.http.mount("http://", FromAddress(address))
    return client


def test_a_flood_of_readiness_probes_costs_each_service_a_handful_of_health_calls(api):
    hits, flooders, workers, cache_seconds = 1000, 10, 2, 1.0  # as the api fixture runs
    before = health_calls()
    started = time.monotonic()

    def flood(count):
        http = requests.Session()
        url = f"{api.base_url}/health/ready"
        return [http.get(url, timeout=30).status_code for _ in range(count)]

    with ThreadPoolExecutor(flooders) as pool:
        statuses = [s for batch in pool.map(flood, [hits // flooders] * flooders) for s in batch]
    elapsed = time.monotonic() - started
    calls = health_calls() - before

    assert statuses == [200] * hits
    # Each worker asks each service at most once per cache period.
    most = workers * (math.ceil(elapsed / cache_seconds) + 1)
    assert set(calls) == {"users", "inventory", "orders"}
    assert all(count <= most for count in calls.values()), (calls, elapsed)


def test_a_login_says_the_same_for_a_disabled_account_a_wrong_password_and_no_account(
    api, admin_token
):
    dora, _ = api.sign_up("dora@example.com", password=PASSWORD)
    disable = {"status": "disabled"}
    assert api.patch(f"/api/users/{dora['id']}", token=admin_token, json=disable).ok

    answers = [
        api.post("/api/auth/token", json={"email": email, "password": password})
        for email, password in [
            ("dora@example.com", PASSWORD),
            ("dora@example.com", "wrong-password"),
            ("nobody@example.com", PASSWORD),
        ]
    ]

    bodies = [{**r.json(), "request_id": None} for r in answers]
    assert [r.status_code for r in answers] == [401] * 3
    assert bodies == [bodies[0]] * 3, bodies
    assert bodies[0]["message"] == "Invalid email or password"


def test_sign_ups_and_email_changes_that_reach_the_taken_email_check_are_limited_per_address(
    shop_runner, start_gateway
):
    api = start_gateway(EMAIL_CHECK_LIMIT="3/hour")
    admin_token = api.token("admin@example.com", "admin-password")
    ann, ann_token = api.sign_up("ann@example.com")  # 201: the first check
    ann_path = f"/api/users/{ann['id']}"

    too_short = api.post(
        "/api/users", json={"email": "eve@example.com", "name": "Eve", "password": "short"}
    )
    taken = api.post(
        "/api/users", json={"email": "ANN@example.com", "name": "Ann", "password": PASSWORD}
    )
    taken_by_change = api.patch(ann_path, token=ann_token, json={"email": "admin@example.com"})
    sign_up = api.post(
        "/api/users", json={"email": "eve@example.com", "name": "Eve", "password": PASSWORD}
    )
    change = api.patch(ann_path, token=ann_token, json={"email": "ann.b@example.com"})

    assert too_short.status_code == 400  # refused before any check: not counted
    assert [taken.status_code, taken_by_change.status_code] == [409, 409]
    assert [sign_up.status_code, change.status_code] == [429, 429]
    assert 0 < int(sign_up.headers["Retry-After"]) <= 3600
    # Changes that do not name an email, and admins, are not limited.
    assert api.patch(ann_path, token=ann_token, json={"name": "Ann B"}).status_code == 200
    by_admin = api.patch(ann_path, token=admin_token, json={"email": "ann.c@example.com"})
    assert by_admin.status_code == 200
    # Another address has a budget of its own.
    elsewhere = client_at(api, "127.0.0.2").post(
        "/api/users", json={"email": "eve@example.com", "name": "Eve", "password": PASSWORD}
    )
    assert elsewhere.status_code == 201


def test_one_account_cannot_be_guessed_at_from_many_addresses(shop_runner, start_gateway):
    api = start_gateway(LOGIN_FAILURE_LIMIT="3/hour")
    api.sign_up("ann@example.com", password=PASSWORD)
    api.sign_up("bob@example.com", password=PASSWORD)
    guessers = [client_at(api, f"127.0.0.{n}") for n in (2, 3, 4, 5)]

    def log_in(client, email, password):
        return client.post("/api/auth/token", json={"email": email, "password": password})

    # Three wrong guesses, each from its own address, spelling the email differently.
    emails = ["ann@example.com", " ANN@example.com", "Ann@Example.COM "]
    guesses = [log_in(g, e, "wrong-guess") for g, e in zip(guessers[:3], emails, strict=True)]
    right_password = log_in(guessers[3], "ann@example.com", PASSWORD)

    assert [r.status_code for r in guesses] == [401, 401, 401]
    assert right_password.status_code == 429  # the account is throttled, whoever asks
    assert 0 < int(right_password.headers["Retry-After"]) <= 3600
    # Other accounts are not, and logins that succeed do not count.
    assert [log_in(guessers[3], "bob@example.com", PASSWORD).status_code for _ in range(5)] == [
        200
    ] * 5
    # An email nobody has is throttled alike: the throttle tells no account from none.
    unknown = [log_in(g, "nobody@example.com", "wrong-guess").status_code for g in guessers]
    assert unknown == [401, 401, 401, 429]


def test_the_setup_as_shipped_passes_exactly_the_limit_then_refuses(shop_runner, start_gateway):
    # What `make run` starts: the Procfile's gunicorn with our config, and no REDIS_URI.
    procfile = (REPO / "Procfile").read_text().splitlines()
    [gateway] = [shlex.split(line) for line in procfile if line.startswith("gateway:")]
    assert gateway[2:] == ["--config", "python:gateway.gunicorn_conf", "gateway.wsgi:app"]
    api = start_gateway(
        RATE_LIMIT="5/minute", REDIS_URI=None, GATEWAY_WORKERS=None, GATEWAY_THREADS=None
    )

    # A new connection each time, as separate clients behind one address would open.
    statuses = [
        requests.get(f"{api.base_url}/api/products", timeout=30).status_code for _ in range(12)
    ]

    assert statuses == [200] * 5 + [429] * 7, statuses
