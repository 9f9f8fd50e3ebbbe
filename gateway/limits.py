"""Rate limits: per user when the request carries a valid token, per client IP otherwise.

Two more guard the accounts (docs/security.md, "Enumeration and brute force"):
failed logins per account, whatever the address, and per client IP the sign-ups
and email changes that reach the taken-email check.

With ``REDIS_URI`` set the counters live in Redis, so a limit holds across
gunicorn workers and gateway instances. If Redis goes away, or stops answering
within ``REDIS_TIMEOUT``, each process counts in its own memory against the same
limits rather than failing requests, and goes back to Redis once it answers
(docs/gateway.md, "Rate limits": the decision and why). Without ``REDIS_URI``
gunicorn runs one worker (``gateway/gunicorn_conf.py``), so memory is exact.
"""

import hashlib
import threading
import time

from flask import request
from flask_limiter import ApplicationLimit, Limiter
from flask_limiter.util import get_remote_address
from limits.storage import RedisStorage
from werkzeug.exceptions import HTTPException

from gateway import auth
from gateway.api import json_body
from shop.contract import normalize_email

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

    flask-limiter counts a hit (``incr``), then reads the counter back (``get``)
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


def rate_limit_key():
    caller = auth.load_caller()
    return f"user:{caller.id}" if caller else f"ip:{get_remote_address()}"


LOGIN = "auth.issue_token"
# The routes whose 409 says that an email is registered.
EMAIL_CHECKS = frozenset({"users.sign_up", "users.update_user"})


def _body_email():
    """The email a JSON body names, else None. The limiter runs before the view
    validates the body: a body it cannot read is the view's to refuse."""
    if not request.is_json:
        return None
    try:
        body = json_body()
    except (HTTPException, ValueError, RecursionError):  # too large, malformed, too deep
        return None
    email = body.get("email") if isinstance(body, dict) else None
    return email if isinstance(email, str) else None


def _login_account_key():
    # Hashed: the counters' keys need not hold anyone's email.
    email = normalize_email(_body_email()).encode()
    return f"login:{hashlib.sha256(email).hexdigest()}"


def _not_a_login():
    return request.endpoint != LOGIN or _body_email() is None


def _not_an_email_check():
    # Admins list users anyway; a change that names no email checks nothing.
    caller = auth.load_caller()
    return (
        request.endpoint not in EMAIL_CHECKS
        or _body_email() is None
        or (caller is not None and caller.is_admin)
    )


def account_limits(settings):
    """The two account guards, as flask-limiter limits on every request that exempt
    all but their routes, so that the in-memory fall-back keeps them too."""
    return [
        # Counted after the answer, and only when it is a 401: a user who logs in
        # uses none of it, and guesses from every address count toward one budget.
        ApplicationLimit(
            limit_provider=settings["LOGIN_FAILURE_LIMIT"],
            key_function=_login_account_key,
            scope="login-failures",
            exempt_when=_not_a_login,
            deduct_when=lambda response: response.status_code == 401,
        ),
        # Each answer that could say "taken" (409) or "free" (200, 201) counts, per
        # address even with a token: new accounts must not bring new budgets.
        ApplicationLimit(
            limit_provider=settings["EMAIL_CHECK_LIMIT"],
            key_function=lambda: f"ip:{get_remote_address()}",
            scope="email-checks",
            exempt_when=_not_an_email_check,
            deduct_when=lambda response: response.status_code in (200, 201, 409),
        ),
    ]


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


def make_limiter(app):
    settings = app.config
    limit = settings["RATE_LIMIT"]
    guards = account_limits(settings)
    uri = storage_uri(settings.get("REDIS_URI"))
    limiter = Limiter(
        rate_limit_key,
        app=app,
        # One budget per client across all routes, not one per route.
        application_limits=[limit, *guards],
        storage_uri=uri,
        storage_options=storage_options(uri, settings["REDIS_TIMEOUT"]),
        key_prefix=settings["RATE_LIMIT_PREFIX"],
        strategy="fixed-window",
        headers_enabled=True,
        # Redis unreachable: the same limit, counted per process (see the module doc);
        # any other storage error lets the request through rather than fail it.
        swallow_errors=True,
        in_memory_fallback_enabled=True,
        in_memory_fallback=[limit, *guards],
    )
    if limiter.enabled and isinstance(limiter.storage, OneTripRedisStorage):
        app.teardown_request(lambda _exc: limiter.storage.forget_hit())
    return limiter
