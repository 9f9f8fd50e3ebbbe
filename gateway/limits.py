"""Rate limits: per user when the request carries a valid token, per client IP otherwise.

With ``REDIS_URI`` set the counters live in Redis, so a limit holds across
gunicorn workers and gateway instances; if Redis goes away the limiter falls
back to per-process memory rather than failing requests.
"""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from gateway import auth


def rate_limit_key():
    caller = auth.load_caller()
    return f"user:{caller.id}" if caller else f"ip:{get_remote_address()}"


def make_limiter(app):
    settings = app.config
    limit = settings["RATE_LIMIT"]
    return Limiter(
        rate_limit_key,
        app=app,
        # One budget per client across all routes, not one per route.
        application_limits=[limit],
        storage_uri=settings.get("REDIS_URI") or "memory://",
        key_prefix=settings["RATE_LIMIT_PREFIX"],
        strategy="fixed-window",
        headers_enabled=True,
        swallow_errors=True,
        in_memory_fallback_enabled=True,
        in_memory_fallback=[limit],
    )
