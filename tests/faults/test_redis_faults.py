"""F7: the Redis that holds the gateway's rate-limit counters dies under load,
then comes back empty.

What must happen (docs/gateway.md, "Rate limits"): the limiter never fails a
request over its storage. While Redis is away, each gunicorn worker counts in
its own memory against the same limit; once Redis answers again the counts are
Redis's again, so a client over its limit there is refused by every worker.
"""

import collections
import signal
import threading
import time

import pytest
import redis
import requests

from gateway.app import create_app
from tests.faults.processes import RedisServer

pytestmark = pytest.mark.faults

LIMIT = "100000"  # per minute, the fault suite's gateways: the load never reaches it
OUTAGE_SECONDS = 4
# gateway.rate_counts looks at a dead storage again after 1 s, 2 s more, 4 s more, ...
# so a 4 s outage is noticed over within about 6 s of its start.
ENFORCED_AGAIN_WITHIN_SECONDS = 15
REFUSED_IN_A_ROW = 10  # enough to land on both gunicorn workers
# A Redis that accepts connections and never answers: the request that finds
# out waits for the storage timeout (REDIS_TIMEOUT, 0.5 s), then memory counts.
HUNG_REDIS_BOUND_SECONDS = 2


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


class Probe:
    """An anonymous client, limited by its IP, sending a request the gateway
    refuses itself (400): counted by the limiter, and no service involved."""

    def __init__(self, base_url):
        self.url = f"{base_url}/api/auth/token"
        self.http = requests.Session()

    def __call__(self):
        return self.http.post(self.url, json={}, timeout=15)


def _no_server_error(statuses):
    return all(isinstance(status, int) and status < 500 for status in statuses)


def test_with_redis_gone_the_limiter_counts_in_memory_never_fails_and_uses_redis_once_back(
    scenario, redis_server
):
    [url] = scenario.start(gateway_env={"REDIS_URI": redis_server.uri})
    counters = redis.Redis.from_url(redis_server.uri)
    probe = Probe(url)
    before = probe()
    assert (before.status_code, before.headers["X-RateLimit-Limit"]) == (400, LIMIT)
    # The application-wide budget ("global"), not the sign-ups' email checks.
    [counter] = [key for key in counters.keys("*") if b"/ip:127.0.0.1/global/" in key]
    during, enforced = [], {}

    def over_the_limit_in_redis_is_refused_by_every_worker():
        started, in_a_row = time.monotonic(), 0
        while time.monotonic() - started < ENFORCED_AGAIN_WITHIN_SECONDS:
            response = probe()
            refused = response.status_code == 429 and "Retry-After" in response.headers
            in_a_row = in_a_row + 1 if refused else 0
            if in_a_row == REFUSED_IN_A_ROW:
                enforced["after_s"] = round(time.monotonic() - started, 2)
                return
            time.sleep(0.1)

    checker = threading.Thread(target=over_the_limit_in_redis_is_refused_by_every_worker)

    def redis_outage():
        redis_server.kill()
        deadline = time.monotonic() + OUTAGE_SECONDS
        while time.monotonic() < deadline:  # the outage itself, probed meanwhile
            started = time.monotonic()
            response = probe()
            during.append((response, time.monotonic() - started))
            time.sleep(0.2)
        redis_server.start()
        # The probe's counter as a Redis that survived would have it: over the limit.
        counters.set(counter, int(LIMIT), ex=60)
        checker.start()

    scenario.run(redis_outage, after=8)
    checker.join()
    scenario.figures["probes_during_outage"] = dict(
        collections.Counter(
            f"{r.status_code} limit={r.headers.get('X-RateLimit-Limit')}" for r, _ in during
        )
    )
    scenario.figures["slowest_probe_during_outage_s"] = round(max(s for _, s in during), 2)
    scenario.figures["limit_enforced_from_redis_again_after_s"] = enforced.get("after_s")
    log = scenario.shop.process("gateway-0").log_path.read_text()
    fell_back = log.count("falling back to in-memory storage")
    recovered = log.count("Rate limit storage recovered")
    scenario.figures["gateway_workers_fell_back_recovered"] = [fell_back, recovered]
    report = scenario.verify()

    assert _no_server_error(report["requests"]["fault"]), report
    assert _no_server_error(report["requests"]["after"]), report
    assert during and all(
        (r.status_code, r.headers.get("X-RateLimit-Limit")) == (400, LIMIT) for r, _ in during
    ), [(r.status_code, r.headers, r.text) for r, _ in during]
    assert enforced, f"not refused {REFUSED_IN_A_ROW} times in a row in time"
    # Each worker logged when it fell back to memory, and when it was on Redis again.
    assert 1 <= fell_back == recovered <= 2, (fell_back, recovered)


def test_a_redis_that_hangs_costs_a_request_at_most_its_timeout_and_never_fails_it(
    redis_server,
):
    # In process: no services needed for a request the gateway refuses itself.
    app = create_app({"REDIS_URI": redis_server.uri, "RATE_LIMIT": f"{LIMIT}/minute"})
    client = app.test_client()
    assert client.post("/api/auth/token", json={}).status_code == 400
    answers = []

    def request():
        started = time.monotonic()
        response = client.post("/api/auth/token", json={})
        answers.append((response.status_code, time.monotonic() - started))

    redis_server.popen.send_signal(signal.SIGSTOP)  # connections accepted, never answered
    try:
        caller = threading.Thread(target=request, daemon=True)
        caller.start()
        caller.join(HUNG_REDIS_BOUND_SECONDS)
    finally:
        redis_server.popen.send_signal(signal.SIGCONT)
    caller.join(10)

    [(status, seconds)] = answers
    assert status == 400 and seconds < HUNG_REDIS_BOUND_SECONDS, answers
