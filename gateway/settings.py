"""Gateway settings: config.yaml (shared with the services) plus environment variables."""

import os

from extensions.config import load_config
from shop.token_secret import checked_token_settings

# name -> (environment variable, default, type)
_FROM_ENV = {
    "RPC_TIMEOUT": ("RPC_TIMEOUT", 5.0, float),
    "HEALTH_TIMEOUT": ("HEALTH_TIMEOUT", 1.0, float),
    "READY_CACHE_SECONDS": ("READY_CACHE_SECONDS", 1.0, float),
    "RATE_LIMIT": ("RATE_LIMIT", "100/minute", str),
    "LOGIN_FAILURE_LIMIT": ("LOGIN_FAILURE_LIMIT", "10/15minutes", str),
    "EMAIL_CHECK_LIMIT": ("EMAIL_CHECK_LIMIT", "10/hour", str),
    "REDIS_URI": ("REDIS_URI", "", str),
    "REDIS_TIMEOUT": ("REDIS_TIMEOUT", 0.5, float),
    "MAX_CONTENT_LENGTH": ("MAX_BODY_BYTES", 64 * 1024, int),
    "BREAKER_FAIL_MAX": ("BREAKER_FAIL_MAX", 5, int),
    "BREAKER_RESET_SECONDS": ("BREAKER_RESET_SECONDS", 10.0, float),
    "LOG_LEVEL": ("LOG_LEVEL", "INFO", str),
    "RATE_LIMIT_PREFIX": ("RATE_LIMIT_PREFIX", "gateway", str),
    # How long each worker trusts what the users service said about an account
    # (gateway/auth.py): the bound on a deleted, disabled or demoted account's
    # token still working. 0 asks on every request.
    "ACCOUNT_CACHE_SECONDS": ("GATEWAY_ACCOUNT_CACHE_SECONDS", 30.0, float),
    # Seconds a request may take to arrive whole, from its connection or, on a
    # kept-alive one, its first byte; then 408 (gateway/gunicorn_worker.py).
    "READ_TIMEOUT": ("GATEWAY_READ_TIMEOUT", 10.0, float),
}


def from_env(name):
    """One setting as the environment (or its default) gives it."""
    env, default, cast = _FROM_ENV[name]
    return cast(os.environ.get(env, default))


def load(overrides=None):
    overrides = dict(overrides or {})
    settings = {name: from_env(name) for name in _FROM_ENV}
    if not {"AMQP_URI", "TOKEN"} <= overrides.keys():
        shop = load_config(os.environ.get("SHOP_CONFIG", "config.yaml"))
        settings["AMQP_URI"] = shop["AMQP_URI"]
        settings["TOKEN"] = shop["TOKEN"]
        settings["TRACING"] = shop.get("TRACING") or {}
        settings["LOGGING"] = shop.get("LOGGING")
    settings.update(overrides)
    # The gateway trusts any token signed with this secret: it will not run with a known one.
    checked_token_settings(settings)
    return settings
