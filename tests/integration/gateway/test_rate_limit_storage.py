"""The gateway's rate limits against the real Redis: its one-round-trip storage, the
fall-back to memory and the way back, and what is counted."""

import itertools
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
import redis
from limits import parse
from limits.storage import RedisStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from gateway import rate_counts
from gateway.app import create_app
from gateway.rate_counts import FallingBackCounts, OneTripRedisStorage, storage_uri

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


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@dataclass
class WatchedCounts:
    """Counts on the real Redis, on a clock the test sets, with every PING recorded
    and answered from ``answers``."""

    counts: FallingBackCounts
    clock: Clock
    pings: list
    answers: Iterator

    @property
    def redis(self):
        return self.counts.shared.storage


@pytest.fixture
def watched(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(rate_counts, "time", SimpleNamespace(monotonic=clock, time=time.time))
    watched = WatchedCounts(
        FallingBackCounts({"REDIS_URI": REDIS_URI, "REDIS_TIMEOUT": 0.5}), clock, [], iter(())
    )

    def ping():
        watched.pings.append(clock.now)
        return next(watched.answers)

    monkeypatch.setattr(watched.redis, "check", ping)
    return watched


def test_after_redis_fails_memory_counts_until_a_ping_answers_asked_1_2_4_up_to_32_s_apart(
    prefix, watched, monkeypatch, caplog
):
    counts, clock, redis_storage = watched.counts, watched.clock, watched.redis
    watched.answers = iter([False] * 7 + [True])

    def redis_is_away(*_args, **_kwargs):
        raise redis.ConnectionError("refused")

    limit = parse("5/minute")
    with monkeypatch.context() as outage, caplog.at_level(logging.INFO, "gateway.rate_counts"):
        outage.setattr(redis_storage, "incr", redis_is_away)
        remaining = []
        for clock.now in [0, 0.5, 1, 2.9, 3, 7, 15, 31, 63, 95, 126.9]:
            allowed, window = counts.hit(limit, prefix, "client", "global")
            remaining.append(window.remaining if allowed else "refused")
        assert "falling back to in-memory storage" in caplog.text
        assert "recovered" not in caplog.text
    clock.now = 127
    allowed, window = counts.hit(limit, prefix, "client", "global")

    # Counted in memory against the same limit, from the failed hit on.
    assert remaining == [4, 3, 2, 1, 0, *["refused"] * 6]
    # 1 s after the failure, then 2, 4, 8, 16 and 32 s apart, and 32 from then on.
    assert watched.pings == [1, 3, 7, 15, 31, 63, 95, 127]
    # Redis counts again, from its own count; memory keeps its counts for a next time.
    assert "Rate limit storage recovered" in caplog.text
    assert (allowed, window.remaining) == (True, 4)
    assert counts.memory.get_window_stats(limit, prefix, "client", "global").remaining == 0


def test_a_redis_that_answers_ping_but_refuses_counts_cannot_reset_the_limit(
    prefix, watched, monkeypatch, caplog
):
    counts, clock, redis_storage = watched.counts, watched.clock, watched.redis
    watched.answers = itertools.repeat(True)

    def out_of_memory(*_args, **_kwargs):
        raise redis.ResponseError("OOM command not allowed when used memory > 'maxmemory'")

    monkeypatch.setattr(redis_storage, "incr", out_of_memory)
    limit = parse("2/hour")
    allowed = []
    with caplog.at_level(logging.INFO, "gateway.rate_counts"):
        for tick in range(4 * 60):  # a guess every quarter of a second for a minute
            clock.now = tick / 4
            allowed.append(counts.hit(limit, prefix, "account", "login-failures")[0])

    assert allowed.count(True) == 2
    # Each look finds Redis "back" and the next count fails: the looks still back off.
    assert watched.pings == [1, 3, 7, 15, 31]


def test_requests_with_no_route_for_static_files_and_to_exempt_routes_are_not_counted(prefix):
    counter = redis.Redis.from_url(REDIS_URI)
    client = create_app(
        {"REDIS_URI": REDIS_URI, "RATE_LIMIT": "3/minute", "RATE_LIMIT_PREFIX": prefix}
    ).test_client()

    paths = ("/no/such/route", "/static/app.js", "/health/live", "/openapi.json")
    answers = [client.get(path) for path in paths]
    counted = client.post("/api/auth/token", json={})

    assert [r.status_code for r in answers] == [404, 404, 200, 200]
    assert not any("X-RateLimit-Remaining" in r.headers for r in answers)
    assert counted.headers["X-RateLimit-Remaining"] == "2"
    assert len(counter.keys(f"*{prefix}*")) == 1
