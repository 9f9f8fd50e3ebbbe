"""Bearer JWTs issued by ``users.login``, verified here on every request.

The algorithm list is pinned to the configured one, so a token signed with
another algorithm (``none`` included) or another key is refused.
"""

from dataclasses import dataclass

import jwt
from flask import current_app, g, request

from gateway.errors import ApiError

REQUIRED_CLAIMS = ["sub", "role", "iat", "exp"]


@dataclass(frozen=True)
class Caller:
    id: int
    role: str

    @property
    def is_admin(self):
        return self.role == "admin"


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
    if not isinstance(sub, str) or not sub.isdigit() or role not in ("customer", "admin"):
        raise jwt.InvalidTokenError("Bad claims")
    return Caller(int(sub), role)


def load_caller():
    """Read the caller from the Authorization header once per request.

    Sets ``g.caller`` (``None`` when anonymous) and ``g.auth_error`` (why a
    presented token was refused); routes that need a caller raise that error.
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


def require_caller():
    caller = load_caller()
    if caller is None:
        raise unauthorized(g.auth_error or "Log in first: POST /api/auth/token")
    return caller


def require_admin():
    caller = require_caller()
    if not caller.is_admin:
        raise forbidden("Admins only")
    return caller


def require_self_or_admin(user_id):
    caller = require_caller()
    if caller.id != user_id and not caller.is_admin:
        raise forbidden("You may only act on your own account")
    return caller
