"""The gateway will not verify tokens with a secret that anyone could know."""

import pytest

from gateway.app import create_app
from tests.unit.gateway.conftest import NO_BROKER

# The three public values the shop once shipped: config.yaml's default, compose's and
# the Kubernetes placeholder.
SHIPPED = [
    "dev-only-secret-change-me-0123456789abcdef",
    "compose-only-secret-change-me-0123456789abcdef",
    "change-me-to-64-random-characters-0123456789abcdef0123456789",
]


def _app(secret):
    return create_app(
        {
            "AMQP_URI": NO_BROKER,
            "TOKEN": {"SECRET": secret, "ALGORITHM": "HS256"},
            "REDIS_URI": "",
        }
    )


@pytest.mark.parametrize(
    "secret",
    [None, "", "x" * 31, "é" * 15, *SHIPPED, f"  {SHIPPED[0]}\n", f'"{SHIPPED[1]}"'],
    ids=[
        "missing",
        "empty",
        "31 bytes",
        "30 bytes in 15 characters",
        *SHIPPED,
        "padded",
        "quoted",
    ],
)
def test_the_gateway_refuses_to_start_and_says_how_to_set_the_secret(secret):
    with pytest.raises(RuntimeError) as refused:
        _app(secret)

    message = str(refused.value)
    assert "JWT_SECRET" in message
    assert "secrets.token_hex(32)" in message  # how to make one
    assert "var/jwt-secret" in message and "docker/.env" in message and "shop-secrets" in message
    if secret and secret.strip():
        assert secret.strip().strip('"') not in message  # the value never reaches a log
