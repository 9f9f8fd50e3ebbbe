import secrets
import time

import jwt
import pytest

from gateway import auth
from gateway.app import create_app

SECRET = secrets.token_hex(32)  # the gateway refuses a secret written down anywhere
# Port 1 refuses at once: routes that would reach a service answer 503 quickly.
NO_BROKER = "pyamqp://guest:guest@127.0.0.1:1/"


def gateway_config(**settings):
    """The gateway's config in these tests: no broker, no Redis, a rate limit no test
    reaches, the test session's token secret; ``settings`` add to it or override it."""
    return {
        "AMQP_URI": NO_BROKER,
        "TOKEN": {"SECRET": SECRET, "ALGORITHM": "HS256"},
        "REDIS_URI": "",
        "RATE_LIMIT": "1000/minute",
        **settings,
    }


@pytest.fixture
def app():
    app = create_app(gateway_config())
    # No users service here to ask about accounts: user 7, whom make_token names, is
    # live and an admin (a caller's role is then the token's own).
    accounts = app.extensions["shop.accounts"] = auth.AccountCache(3600)
    accounts.put(7, auth.Account("admin", active=True))
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def make_token(sub="7", role="customer", secret=SECRET, algorithm="HS256", **claims):
    now = int(time.time())
    payload = {"sub": sub, "role": role, "iat": now, "exp": now + 600, **claims}
    return jwt.encode(payload, secret, algorithm=algorithm)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}
