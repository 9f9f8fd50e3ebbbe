"""The gateway's one-round-trip rate-limit storage against the real Redis."""

import time
import uuid

import pytest
from limits import parse
from limits.storage import RedisStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from gateway.app import create_app
from gateway.limits import OneTripRedisStorage, storage_uri

REDIS_URI = "redis://127.0.0.1:6379/0"


@pytest.fixture
def prefix():
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
def storage(prefix):
    return storage_from_string(storage_uri(REDIS_URI), key_prefix=prefix)


@pytest.fixture
def commands(storage, monkeypatch):
    """The name of every command the storage sends to Redis."""
    # Load the scripts first: on a Redis that has not seen them, the first
    # EVALSHA is answered NOSCRIPT and redis-py loads the script and retries.
    storage.incr("warm-up", 1)
    sent = []
    client = storage.get_connection()
    send = client.execute_command

    def counting(*args, **options):
        sent.append(args[0])
        return send(*args, **options)

    monkeypatch.setattr(client, "execute_command", counting)
    return sent


def test_the_gateway_scheme_selects_the_one_trip_storage_for_plain_redis_only(storage):
    assert isinstance(storage, OneTripRedisStorage)
    assert storage_uri("rediss://cache:6380/1") == "gateway+rediss://cache:6380/1"
    assert storage_uri("redis+sentinel://s:26379/main") == "redis+sentinel://s:26379/main"
    assert storage_uri("") == "memory://"


def test_a_hit_and_the_window_read_after_it_take_one_round_trip(storage, commands):
    limiter = FixedWindowRateLimiter(storage)
    limit = parse("5/minute")

    assert limiter.hit(limit, "client")
    reset, remaining = limiter.get_window_stats(limit, "client")

    assert commands == ["EVALSHA"]
    assert remaining == 4
    assert time.time() < reset <= time.time() + 61


def test_its_figures_are_those_the_stock_redis_storage_reads(storage, prefix):
    limiter = FixedWindowRateLimiter(storage)
    limit = parse("5/minute")
    for _ in range(3):
        limiter.hit(limit, "client")
    reset, remaining = limiter.get_window_stats(limit, "client")

    stock = FixedWindowRateLimiter(RedisStorage(REDIS_URI, key_prefix=prefix))
    stock_reset, stock_remaining = stock.get_window_stats(limit, "client")

    assert remaining == stock_remaining == 2
    assert abs(reset - stock_reset) <= 1


def test_reads_not_right_after_a_hit_on_the_same_key_go_to_redis(storage, commands):
    limiter = FixedWindowRateLimiter(storage)
    limit = parse("5/minute")
    limiter.hit(limit, "a")
    limiter.get_window_stats(limit, "a")
    commands.clear()

    # Another key, and the same key once its post-hit reads are done.
    assert limiter.get_window_stats(limit, "b") == (pytest.approx(time.time(), abs=1), 5)
    assert limiter.get_window_stats(limit, "a")[1] == 4
    assert commands == ["GET", "TTL", "GET", "TTL"]


def test_the_headers_count_down_in_redis_shared_by_two_gateway_instances(prefix):
    settings = {"REDIS_URI": REDIS_URI, "RATE_LIMIT": "3/minute", "RATE_LIMIT_PREFIX": prefix}
    first, second = (create_app(settings).test_client() for _ in range(2))
    # A body the gateway refuses itself: counted, and no service needed.
    request = {"path": "/api/auth/token", "json": {}}

    responses = [first.post(**request), second.post(**request), first.post(**request)]
    limited = second.post(**request)

    assert [r.status_code for r in responses] == [400, 400, 400]
    assert [r.headers["X-RateLimit-Remaining"] for r in responses] == ["2", "1", "0"]
    assert all(0 < int(r.headers["X-RateLimit-Reset"]) - time.time() <= 61 for r in responses)
    assert limited.status_code == 429
    assert 0 < int(limited.headers["Retry-After"]) <= 60


def test_a_gateway_with_rate_limits_switched_off_starts_and_sends_no_limit_headers(prefix):
    app = create_app(
        {"REDIS_URI": REDIS_URI, "RATE_LIMIT_PREFIX": prefix, "RATELIMIT_ENABLED": False}
    )

    response = app.test_client().post("/api/auth/token", json={})

    assert response.status_code == 400
    assert "X-RateLimit-Remaining" not in response.headers
