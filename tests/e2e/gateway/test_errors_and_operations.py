"""Error codes from the real services, rate limits, readiness and metrics, over HTTP."""

import shlex
import time

import requests
from nameko.testing.utils import get_container

from inventory.service import InventoryService
from tests.e2e.gateway.conftest import Gateway
from tests.polling import eventually


class AccessLog:
    """Which gunicorn worker served which response, from gunicorn's own access log.

    The test turns the log on (``GUNICORN_CMD_ARGS``) with the worker's pid and the
    response's ``X-Request-ID`` on each line: nothing is added to the gateway for it.
    """

    FORMAT = "%(p)s %({x-request-id}o)s"

    def __init__(self, path):
        self.path = path

    def gunicorn_args(self):
        # Idle keep-alive connections stay with their worker for the whole test.
        return (
            shlex.join(["--access-logfile", str(self.path), "--access-logformat", self.FORMAT])
            + " --keep-alive 120"
        )

    def pid(self, response):
        """The pid of the worker that served ``response``; its line follows the response."""
        request_id = response.headers["X-Request-ID"]

        def logged():
            lines = self.path.read_text().splitlines() if self.path.exists() else []
            for pid, _, logged_id in (line.partition(" ") for line in lines):
                if logged_id == request_id:
                    return int(pid.strip("<>"))
            return None

        return eventually(logged, timeout=10)


def clients_on_two_workers(api, access_log, timeout=30):
    """Two clients of ``api``, each with a keep-alive connection that one worker holds,
    the two workers being different; returned as ``[(client, pid), (client, pid)]``.

    A new connection goes to whichever worker accepts it first; one still starting
    accepts none, hence the deadline rather than a number of tries.
    """
    held = {}

    def connect():
        client = Gateway(api.base_url, api.log_path)
        client.http = requests.Session()  # a connection of its own
        pid = access_log.pid(client.get("/health/live"))  # never rate limited
        if pid in held:
            client.http.close()
        else:
            held[pid] = client
        return len(held) == 2

    eventually(connect, timeout=timeout, interval=0.1)
    return [(client, pid) for pid, client in held.items()]


def test_a_taken_email_is_409_conflict_with_the_field_named(api):
    api.sign_up("dup@example.com")

    response = api.post(
        "/api/users", json={"email": "DUP@example.com", "name": "Dup", "password": "long-enough"}
    )

    assert response.status_code == 409
    assert response.json()["error"] == "CONFLICT"
    assert "email" in response.json()["details"]


def test_a_wrong_password_is_401(api):
    api.sign_up("eve@example.com")

    response = api.post("/api/auth/token", json={"email": "eve@example.com", "password": "wrong"})

    assert response.status_code == 401
    assert response.json()["error"] == "UNAUTHORIZED"
    assert "access_token" not in response.text


def test_a_missing_record_is_404_not_found(api, admin_token):
    product = api.get("/api/products/987654")
    user = api.get("/api/users/987654", token=admin_token)

    assert (product.status_code, product.json()["error"]) == (404, "NOT_FOUND")
    assert (user.status_code, user.json()["error"]) == (404, "NOT_FOUND")


def test_removing_more_stock_than_there_is_is_409_with_the_field_named(api, admin_token):
    api.post(
        "/api/products",
        token=admin_token,
        json={"sku": "ONE", "name": "One", "price": "1.00", "stock": 0},
    )
    # The gateway's schema allows any non-zero delta; only the service knows the stock.
    product_id = api.get("/api/products").json()["items"][0]["id"]
    response = api.post(f"/api/products/{product_id}/stock", token=admin_token, json={"delta": -5})

    assert response.status_code == 409
    assert response.json()["error"] == "CONFLICT"
    assert response.json()["details"] == {"delta": ["Only 0 in stock."]}


def test_a_stock_change_retried_with_its_idempotency_key_is_made_once(api, admin_token):
    product = api.post(
        "/api/products",
        token=admin_token,
        json={"sku": "RESTOCK", "name": "Restocked", "price": "1.00", "stock": 1},
    ).json()
    path, key = f"/api/products/{product['id']}/stock", {"Idempotency-Key": "delivery-0042"}

    first = api.post(path, token=admin_token, json={"delta": 5}, headers=dict(key))
    again = api.post(path, token=admin_token, json={"delta": 5}, headers=dict(key))
    unkeyed = api.post(path, token=admin_token, json={"delta": 5})

    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["stock"] == again.json()["stock"] == 6
    assert unkeyed.json()["stock"] == 11  # each request without a key is a change of its own


def test_a_sign_up_retried_with_its_idempotency_key_answers_201_with_the_same_account(api):
    body = {"email": "retry@example.com", "name": "Retry", "password": "correct-horse-1"}
    key = {"Idempotency-Key": "sign-up-0007"}

    first = api.post("/api/users", json=body, headers=dict(key))
    again = api.post("/api/users", json=body, headers=dict(key))
    unkeyed = api.post("/api/users", json=body)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert unkeyed.status_code == 409  # another sign-up for a taken email


def test_too_many_requests_is_429_with_retry_after_per_client_across_workers(
    shop_runner, start_gateway, tmp_path
):
    access_log = AccessLog(tmp_path / "access.log")
    api = start_gateway(
        RATE_LIMIT="4/minute", GATEWAY_WORKERS=2, GUNICORN_CMD_ARGS=access_log.gunicorn_args()
    )
    _, token = api.sign_up("fast@example.com")  # two requests from this IP
    (one, one_pid), (other, other_pid) = clients_on_two_workers(api, access_log)

    anonymous = [client.get("/api/products") for client in (one, other, one)]
    by_user = [
        client.get("/api/users/me", token=token) for client in (one, other, one, other, one)
    ]

    # Each budget was spent on both workers, and they kept one count between them.
    assert {access_log.pid(r) for r in anonymous} == {one_pid, other_pid}
    assert {access_log.pid(r) for r in by_user} == {one_pid, other_pid}
    assert [r.status_code for r in anonymous] == [200, 200, 429]
    assert [r.status_code for r in by_user] == [200, 200, 200, 200, 429]  # a user's own budget
    limited = other.get("/api/products")
    assert limited.json()["error"] == "RATE_LIMITED"
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert limited.headers["X-RateLimit-Limit"] == "4"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert api.get("/health/live").status_code == 200  # probes are never limited


def test_a_stopped_service_gives_504_then_503_once_its_circuit_opens(shop_runner, start_gateway):
    # 2 s: the login below hashes a password (argon2), which took over 1 s on a loaded
    # machine and then timed out too.
    api = start_gateway(
        RPC_TIMEOUT=2, BREAKER_FAIL_MAX=2, BREAKER_RESET_SECONDS=60, GATEWAY_WORKERS=1
    )
    assert api.get("/api/products").status_code == 200
    get_container(shop_runner, InventoryService).stop()
    # The stop can outlast gunicorn's 2 s keep-alive: a request sent on the idle
    # connection just as gunicorn closes it never reaches the gateway.
    api.http.close()

    timeouts = [api.get("/api/products") for _ in range(2)]
    started = time.monotonic()
    open_circuit = api.get("/api/products")

    assert [r.status_code for r in timeouts] == [504, 504]
    assert timeouts[0].json()["error"] == "UPSTREAM_TIMEOUT"
    assert open_circuit.status_code == 503
    assert open_circuit.json()["error"] == "SERVICE_UNAVAILABLE"
    assert time.monotonic() - started < 0.5
    # Other services are not affected by the inventory's open circuit.
    assert (
        api.post("/api/auth/token", json={"email": "x@example.com", "password": "p"}).status_code
        == 401
    )


def test_readiness_is_200_with_every_service_and_503_naming_the_one_that_is_down(
    shop_runner, start_gateway
):
    api = start_gateway(HEALTH_TIMEOUT=1, GATEWAY_WORKERS=1)
    ready = api.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {
        "broker": "ok",
        "users": "ok",
        "inventory": "ok",
        "orders": "ok",
    }

    get_container(shop_runner, InventoryService).stop()
    started = time.monotonic()

    def answered_503():
        response = api.get("/health/ready")
        return [response] if response.status_code == 503 else None  # a 503 Response is falsy

    # The last answer is reused for READY_CACHE_SECONDS (1 s), then a check takes 1 s at most.
    [not_ready] = eventually(answered_503)

    assert time.monotonic() - started < 3
    details = not_ready.json()["details"]
    assert details["inventory"] != "ok"
    assert details["users"] == details["orders"] == details["broker"] == "ok"
    assert api.get("/health/live").status_code == 200


def test_metrics_count_requests_and_rpc_calls_across_workers(shop_runner, start_gateway, tmp_path):
    access_log = AccessLog(tmp_path / "access.log")
    api = start_gateway(GATEWAY_WORKERS=2, GUNICORN_CMD_ARGS=access_log.gunicorn_args())
    (one, one_pid), (other, other_pid) = clients_on_two_workers(api, access_log)

    listed = [client.get("/api/products") for client in (one, other, one)]
    missing = other.get("/api/products/987654")

    assert {access_log.pid(r) for r in listed} == {one_pid, other_pid}
    assert [r.status_code for r in [*listed, missing]] == [200, 200, 200, 404]
    # Whichever worker answers the scrape, it counts what both workers served.
    for client in (one, other):
        text = client.get("/metrics").text
        ok = 'gateway_http_requests_total{method="GET",route="/api/products",status="200"} 3.0'
        assert ok in text
        assert (
            'gateway_http_errors_total{code="NOT_FOUND",method="GET",'
            'route="/api/products/<int:product_id>"} 1.0'
        ) in text
        assert (
            'gateway_rpc_calls_total{method="list_products",outcome="ok",service="inventory"} 3.0'
        ) in text
