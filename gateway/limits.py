"""Rate limits: per user when the request carries a valid token, per client IP otherwise.

Two more guard the accounts (docs/security.md, "Enumeration and brute force"):
failed logins per account, whatever the address, and per client IP the sign-ups
and email changes that reach the taken-email check.

With ``REDIS_URI`` set the counters live in Redis, so a limit holds across
gunicorn workers and gateway instances. If Redis goes away, or stops answering
within ``REDIS_TIMEOUT``, each process counts in its own memory against the same
limits rather than failing requests, and goes back to Redis once it answers
(``gateway.rate_counts``; docs/gateway.md, "Rate limits": the decision and why).
Without ``REDIS_URI`` gunicorn runs one worker (``gateway/gunicorn_conf.py``), so
memory is exact. ``RATELIMIT_ENABLED`` False in the app's config (benchmarks,
tests) turns it all off.

The checks are written on ``limits``, the library flask-limiter is built on, and
not through flask-limiter: its bookkeeping around the one Redis round trip (the
limits resolved, parsed and filtered again on every request) cost 0.7 ms of the
2.9 ms of gateway CPU a product read took under gunicorn (docs/performance.md).
"""

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import g, request
from limits import RateLimitItem, parse
from werkzeug.exceptions import HTTPException, TooManyRequests

from gateway import auth
from gateway.api import json_body
from gateway.rate_counts import FallingBackCounts
from shop.contract import normalize_email

log = logging.getLogger(__name__)


def _client_address():
    return request.remote_addr or "127.0.0.1"


def rate_limit_key():
    caller = auth.load_caller()
    return f"user:{caller.id}" if caller else f"ip:{_client_address()}"


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
    # Hashed: the counters' keys need not hold anyone's email. A lone surrogate
    # (JSON allows "\ud800") is hashed as it is rather than failing the guard.
    email = normalize_email(_body_email()).encode("utf-8", "surrogatepass")
    return f"login:{hashlib.sha256(email).hexdigest()}"


def _is_login():
    return request.endpoint == LOGIN and _body_email() is not None


def _is_email_check():
    # Admins list users anyway; a change that names no email checks nothing.
    if request.endpoint not in EMAIL_CHECKS or _body_email() is None:
        return False
    caller = auth.load_caller()
    return caller is None or not caller.is_admin


@dataclass(frozen=True)
class Guard:
    """A limit on some requests only, counted after the answer and only when
    ``counts(response)``: the request is refused once the budget is spent."""

    limit: RateLimitItem
    scope: str
    applies: Callable[[], bool]
    key: Callable[[], str]
    counts: Callable[[object], bool]


def account_guards(settings):
    return (
        # Only a 401 counts: a user who logs in uses none of it, and guesses from
        # every address count toward one budget.
        Guard(
            parse(settings["LOGIN_FAILURE_LIMIT"]),
            "login-failures",
            applies=_is_login,
            key=_login_account_key,
            counts=lambda response: response.status_code == 401,
        ),
        # Each answer that could say "taken" (409) or "free" (200, 201) counts, per
        # address even with a token: new accounts must not bring new budgets.
        Guard(
            parse(settings["EMAIL_CHECK_LIMIT"]),
            "email-checks",
            applies=_is_email_check,
            key=lambda: f"ip:{_client_address()}",
            counts=lambda response: response.status_code in (200, 201, 409),
        ),
    )


class RateLimits:
    """The application-wide limit on every request, and the account guards on theirs.

    A request with no route (404, 405) is not counted, nor one for static files or
    to an ``exempt`` blueprint (as flask-limiter had it). The answer carries the
    ``X-RateLimit-*`` headers of the limit it was counted against, or of the guard
    that refused it; a 429 adds ``Retry-After``. The guards read a request's body
    only once it is within the application-wide limit.
    """

    def __init__(self, settings, exempt=()):
        self.enabled = settings.get("RATELIMIT_ENABLED", True)
        self.prefix = settings["RATE_LIMIT_PREFIX"]
        self.limit = parse(settings["RATE_LIMIT"])
        self.guards = account_guards(settings)
        self.exempt = {blueprint.name for blueprint in exempt}
        self.counts = FallingBackCounts(settings) if self.enabled else None

    def init_app(self, app):
        if not self.enabled:
            return
        app.before_request(self.check_request)
        app.after_request(self.finish_request)
        app.teardown_request(lambda _exc: self.counts.forget_hit())

    def check_request(self):
        endpoint = request.endpoint
        if endpoint is None or endpoint.rpartition(".")[2] == "static":
            return
        if request.blueprint in self.exempt:
            return
        try:
            allowed, g.rate_limit_window = self.counts.hit(
                self.limit, self.prefix, rate_limit_key(), "global"
            )
            # Only a request within the limit has its body read for the guards.
            guards = [guard for guard in self.guards if allowed and guard.applies()]
            g.rate_limit_guards = guards
            refused = g.rate_limit_window if not allowed else self._refusing_guard(guards)
        except Exception:  # the last guard: a limiter fault lets the request through
            log.exception("Rate limiting failed; the request goes through unchecked")
            return
        if refused is not None:
            g.rate_limit_window = refused
            raise TooManyRequests(str(refused.limit), retry_after=_seconds_until(refused.reset_at))

    def _refusing_guard(self, guards):
        for guard in guards:
            identifiers = (self.prefix, guard.key(), guard.scope)
            if self.counts.spent(guard.limit, *identifiers):
                return self.counts.peek(guard.limit, *identifiers)
        return None

    def finish_request(self, response):
        try:
            for guard in g.get("rate_limit_guards", ()):
                if guard.counts(response):
                    self.counts.hit(guard.limit, self.prefix, guard.key(), guard.scope)
        except Exception:
            log.exception("Rate limiting failed; this answer was not counted")
        window = g.get("rate_limit_window")
        if window is not None:
            response.headers["X-RateLimit-Limit"] = str(window.limit.amount)
            response.headers["X-RateLimit-Remaining"] = str(window.remaining)
            response.headers["X-RateLimit-Reset"] = str(window.reset_at)
        return response


def _seconds_until(epoch_seconds):
    return max(1, int(epoch_seconds - time.time()))
