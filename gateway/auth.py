"""Bearer JWTs issued by ``users.login``, verified here on every request.

The algorithm list is pinned to the configured one, so a token signed with
another algorithm (``none`` included) or another key is refused.

A token is only as good as its account: a route that needs a caller also asks
the users service for the account (``users.get_user``), and refuses the token
of a deleted or disabled account (401). The caller's role is the lesser of the
token's and the account's, so a demotion takes effect at once, a promotion at
the next log-in. Each worker remembers an answer for ``ACCOUNT_CACHE_SECONDS``
(``GATEWAY_ACCOUNT_CACHE_SECONDS``, 30 s): the bound on how long a token
outlives its account's deletion, disabling or demotion, for one call to users
per user, worker and period. A change made through this worker is seen at once
(``forget_account``). Should the users service not answer, the route fails
(503/504) rather than trust the token alone.
"""

import threading
import time
from dataclasses import dataclass

import jwt
from flask import current_app, g, request

from gateway.http_errors import ApiError
from shop.contract import ROLES

REQUIRED_CLAIMS = ["sub", "role", "iat", "exp"]
ACCOUNT_GONE = "This account is deleted or disabled: log in again"


@dataclass(frozen=True)
class Caller:
    id: int
    role: str

    @property
    def is_admin(self):
        return self.role == "admin"


@dataclass(frozen=True)
class Account:
    role: str
    active: bool


class AccountCache:
    """What the users service last said about each account, per process, for ``seconds``.

    ``None`` stands for an account that no longer exists. Entries come only from
    tokens with a valid signature, so their number is bounded by the real users;
    ``max_entries`` bounds it anyway.
    """

    def __init__(self, seconds, max_entries=10_000):
        self.seconds = seconds
        self.max_entries = max_entries
        self._entries = {}  # user id -> (expires at, Account or None)
        self._lock = threading.Lock()

    def get(self, user_id):
        """``(True, account)`` while an answer is fresh, else ``(False, None)``."""
        entry = self._entries.get(user_id)
        if entry is None or entry[0] <= time.monotonic():
            return False, None
        return True, entry[1]

    def put(self, user_id, account):
        if self.seconds <= 0:
            return
        now = time.monotonic()
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                if len(self._entries) >= self.max_entries:
                    self._entries = {}
            self._entries[user_id] = (now + self.seconds, account)

    def forget(self, user_id):
        self._entries.pop(user_id, None)


def unauthorized(message):
    return ApiError(401, "UNAUTHORIZED", message, headers={"WWW-Authenticate": "Bearer"})


def forbidden(message="You may not do this"):
    return ApiError(403, "FORBIDDEN", message)


def _decode(token):
    settings = current_app.config["TOKEN"]
    claims = jwt.decode(
        token,
        settings["SECRET"],
        algorithms=[settings["ALGORITHM"]],
        options={"require": REQUIRED_CLAIMS},
        leeway=5,
    )
    sub, role = claims["sub"], claims["role"]
    if not isinstance(sub, str) or not sub.isdigit() or role not in ROLES:
        raise jwt.InvalidTokenError("Bad claims")
    return Caller(int(sub), role)


def load_caller():
    """Read the caller from the Authorization header once per request.

    Sets ``g.caller`` (``None`` when anonymous) and ``g.auth_error`` (why a
    presented token was refused); routes that need a caller raise that error.
    This is the token alone, which is all the rate limiter needs:
    ``require_caller`` checks the account too. A route gets its caller from its
    access check, in ``gateway.api.endpoint``.
    """
    if "caller" in g:
        return g.caller
    g.caller, g.auth_error = None, None
    header = request.headers.get("Authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            g.auth_error = "Use an 'Authorization: Bearer <token>' header"
        else:
            try:
                g.caller = _decode(token.strip())
            except jwt.ExpiredSignatureError:
                g.auth_error = "Token expired"
            except jwt.InvalidTokenError:
                g.auth_error = "Invalid token"
    return g.caller


def account_cache():
    extensions = current_app.extensions
    if "shop.accounts" not in extensions:
        extensions.setdefault(
            "shop.accounts", AccountCache(current_app.config["ACCOUNT_CACHE_SECONDS"])
        )
    return extensions["shop.accounts"]


def forget_account(user_id):
    """Drop this worker's cached answer about ``user_id`` (after changing the account)."""
    account_cache().forget(user_id)


def _account(user_id):
    cache = account_cache()
    fresh, account = cache.get(user_id)
    if fresh:
        return account
    from gateway.api import rpc  # gateway.api imports this module

    try:
        user = rpc("users", "get_user", user_id)
        account = Account(user["role"], user["status"] == "active")
    except ApiError as exc:
        if exc.status != 404:
            raise
        account = None
    cache.put(user_id, account)
    return account


def require_caller():
    """The caller, whose token is valid and whose account is live; else 401."""
    caller = load_caller()
    if caller is None:
        raise unauthorized(g.auth_error or "Log in first: POST /api/auth/token")
    if g.get("account_checked"):
        return caller
    account = _account(caller.id)
    if account is None or not account.active:
        g.caller, g.auth_error = None, ACCOUNT_GONE
        raise unauthorized(ACCOUNT_GONE)
    role = min(caller.role, account.role, key=_rank)
    g.caller, g.account_checked = Caller(caller.id, role), True
    return g.caller


def _rank(role):
    return ROLES.index(role) if role in ROLES else -1


def require_admin():
    token_caller = load_caller()
    # A customer's token is refused on its own word: no call to users for it.
    if token_caller is not None and not token_caller.is_admin:
        raise forbidden("Admins only")
    caller = require_caller()
    if not caller.is_admin:
        raise forbidden("Admins only")
    return caller


def check_self_or_admin(caller, user_id):
    """403 unless ``caller`` (as the access check resolved it) is ``user_id`` or an admin."""
    if caller.id != user_id and not caller.is_admin:
        raise forbidden("You may only act on your own account")
