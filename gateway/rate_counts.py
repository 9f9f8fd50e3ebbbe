"""Where the rate limits' counts live: Redis, or this process's memory while Redis is away.

``FallingBackCounts`` counts fixed windows (``limits``' strategy) in the storage
that ``REDIS_URI`` names: for a plain Redis, ``OneTripRedisStorage``, which counts a
request and reads its window in one round trip. When Redis refuses, or does not
answer within ``REDIS_TIMEOUT``, it counts in memory against the same limits and
looks at Redis again 1 s later, then 2, 4, 8, 16 and 32 s apart, and every 32 s
from then on; once Redis answers a PING it counts there again. The memory counts
are kept for as long as their windows last, so a Redis that answers PING but
refuses counts cannot wipe them (docs/gateway.md, "Rate limits when Redis fails").
"""

import logging
import math
import threading
import time
from dataclasses import dataclass

from limits import RateLimitItem
from limits.storage import MemoryStorage, RedisStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

log = logging.getLogger(__name__)

_SCHEME_PREFIX = "gateway+"

# limits' incr_expire.lua, returning the counter's time to live as well.
_INCR_EXPIRE_TTL = """
local amount = tonumber(ARGV[2])
local current = redis.call("incrby", KEYS[1], amount)
if current == amount then
    redis.call("expire", KEYS[1], ARGV[1])
end
return {current, redis.call("ttl", KEYS[1])}
"""


class OneTripRedisStorage(RedisStorage):
    """limits' Redis storage with one round trip per request instead of three.

    A fixed window counts a hit (``incr``), then reads the counter back (``get``)
    and its expiry (``get_expiry``) for the ``X-RateLimit-*`` headers. Here the
    hit returns both, and the two reads that follow it on the same thread are
    answered from that result: the same figures the Redis reads would give,
    less any hits other requests made in between.
    """

    STORAGE_SCHEME = [f"{_SCHEME_PREFIX}{scheme}" for scheme in RedisStorage.STORAGE_SCHEME]

    def __init__(self, uri, **options):
        super().__init__(uri.removeprefix(_SCHEME_PREFIX), **options)
        self._incr_expire_ttl = self.get_connection().register_script(_INCR_EXPIRE_TTL)
        self._last_hit = threading.local()

    def incr(self, key, expiry, amount=1):
        count, ttl = self._incr_expire_ttl([self.prefixed_key(key)], [expiry, amount])
        self._last_hit.value = (key, int(count), time.time() + max(int(ttl), 0))
        return int(count)

    def get(self, key):
        last = getattr(self._last_hit, "value", None)
        return last[1] if last and last[0] == key else super().get(key)

    def get_expiry(self, key):
        # The last of the reads after a hit: forget the hit, so that nothing
        # later on this thread is answered from it.
        last = getattr(self._last_hit, "value", None)
        self.forget_hit()
        return last[2] if last and last[0] == key else super().get_expiry(key)

    def forget_hit(self):
        """Called at the end of every request too, however it ended."""
        self._last_hit.value = None


def storage_uri(redis_uri):
    """limits' storage URI: ours for a plain Redis, anything else as given."""
    if not redis_uri:
        return "memory://"
    scheme = redis_uri.partition("://")[0]
    return f"{_SCHEME_PREFIX}{redis_uri}" if scheme in RedisStorage.STORAGE_SCHEME else redis_uri


def storage_options(uri, timeout):
    """Socket timeouts for a Redis storage: a Redis that accepts connections and
    never answers would otherwise hold every request (and the check for its return)."""
    if uri.removeprefix(_SCHEME_PREFIX).partition("://")[0] not in RedisStorage.STORAGE_SCHEME:
        return {}
    return {"socket_timeout": timeout, "socket_connect_timeout": timeout}


@dataclass(frozen=True)
class Window:
    """What the ``X-RateLimit-*`` headers say: a limit, what is left of it, when it resets."""

    limit: RateLimitItem
    remaining: int
    reset_at: int  # epoch seconds


def _window(counter, limit, identifiers):
    reset, remaining = counter.get_window_stats(limit, *identifiers)
    return Window(limit, remaining, int(reset + 1))


# After a Redis failure, how long until each next look at it: 1 s, then twice as
# long each time, up to this.
_LONGEST_RECHECK_SECONDS = 32


class FallingBackCounts:
    """Fixed-window counts in Redis, or in this process's memory while Redis is away."""

    def __init__(self, settings):
        self.memory = FixedWindowRateLimiter(MemoryStorage())
        uri = storage_uri(settings.get("REDIS_URI"))
        self.shared = None  # without REDIS_URI: memory only
        if uri != "memory://":
            storage = storage_from_string(uri, **storage_options(uri, settings["REDIS_TIMEOUT"]))
            self.shared = FixedWindowRateLimiter(storage)
        self._lock = threading.Lock()
        self._redis_away = False
        self._next_check = 0.0
        self._check_delay = 1.0
        self._back_since = -math.inf  # when a PING last brought Redis back

    def hit(self, limit, *identifiers):
        """Count one request: whether it is within the limit, and the window after it."""

        def count(counter):
            allowed = counter.hit(limit, *identifiers)
            return allowed, _window(counter, limit, identifiers)

        return self._on_counts(count)

    def spent(self, limit, *identifiers):
        """Whether nothing is left of the window, counting nothing (one read)."""
        return self._on_counts(lambda counter: not counter.test(limit, *identifiers))

    def peek(self, limit, *identifiers):
        """The window as it stands, counting nothing."""

        return self._on_counts(lambda counter: _window(counter, limit, identifiers))

    def forget_hit(self):
        if self.shared is not None and isinstance(self.shared.storage, OneTripRedisStorage):
            self.shared.storage.forget_hit()

    def _on_counts(self, use):
        counter = self._counter()
        try:
            return use(counter)
        except Exception:
            if counter is self.memory:
                raise
            self._fall_back()
            return use(self.memory)

    def _counter(self):
        if self.shared is None:
            return self.memory
        if self._redis_away and time.monotonic() >= self._next_check:
            self._look_at_redis_again()
        return self.memory if self._redis_away else self.shared

    def _fall_back(self):
        with self._lock:
            if self._redis_away:
                return
            self._redis_away = True
            now = time.monotonic()
            # A Redis that answers PING but refuses counts (disk full, out of memory,
            # a read-only replica) fails again as soon as it is back: the looks at it
            # keep backing off rather than start again at 1 s.
            if now - self._back_since >= _LONGEST_RECHECK_SECONDS:
                self._check_delay = 1.0
            self._schedule_check(now)
        log.warning("Rate limit storage unreachable - falling back to in-memory storage")

    def _schedule_check(self, now):
        self._next_check = now + self._check_delay
        self._check_delay = min(self._check_delay * 2, _LONGEST_RECHECK_SECONDS)

    def _look_at_redis_again(self):
        # One request thread looks; the others count in memory meanwhile.
        if not self._lock.acquire(blocking=False):
            return
        try:
            if not self._redis_away or time.monotonic() < self._next_check:
                return
            if self.shared.storage.check():  # a PING, within REDIS_TIMEOUT
                # The memory counts stay, each until its window ends: should Redis
                # fail again, they still hold against the clients counted in them.
                self._redis_away = False
                self._back_since = time.monotonic()
                log.info("Rate limit storage recovered")
            else:
                self._schedule_check(time.monotonic())
        finally:
            self._lock.release()
