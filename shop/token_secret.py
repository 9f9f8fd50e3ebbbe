"""The token secret (``TOKEN.SECRET``, from ``JWT_SECRET``): one check for every process.

Whoever knows the secret can sign ``{"sub": "1", "role": "admin"}``. So the users
service, which signs tokens (``extensions.token_settings``), and the gateway, which verifies
them (``gateway.settings``), refuse to start when it is missing, shorter than
``MIN_BYTES`` or a value that has been published. The error says how to set it
and never contains the value.

``python -m tools.token_secret new FILE`` makes one (``make run`` keeps one per
checkout in ``var/jwt-secret``).
"""

MIN_BYTES = 32

# Every value that has been written down in this repository as a token secret, in
# any commit: git history and forks keep them public for good.
# tests/unit/shop/test_no_published_secrets.py fails on any other one found
# in the repository, so a value is added here the moment it is published.
PUBLISHED = frozenset(
    {
        # config.yaml's default, compose's default and the Kubernetes Secret's placeholder.
        "dev-only-secret-change-me-0123456789abcdef",
        "compose-only-secret-change-me-0123456789abcdef",
        "change-me-to-64-random-characters-0123456789abcdef0123456789",
        # Test secrets of the unit tests before they made their own.
        "unit-test-secret-0123456789abcdef-0123456789",
        "unit-test-secret-0123456789abcdef",
    }
)
# A placeholder says so: an edited copy of one ("...change-me-2") is refused too.
_PLACEHOLDER_WORDS = ("change-me", "changeme", "replace-me", "example", "placeholder")

HOW_TO_SET = (
    "Set JWT_SECRET to at least 32 random bytes, e.g. "
    "JWT_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))'). "
    "`make run` keeps one per checkout in var/jwt-secret; compose reads it from "
    "docker/.env (see docker/.env.example); Kubernetes from the Secret shop-secrets "
    '(docs/security.md, "Token secret").'
)


class InsecureTokenSecret(RuntimeError):
    """The configured token secret would let others sign tokens."""


def _normalized(secret):
    # How a value copied out of a YAML or env file may arrive: padded or still quoted.
    return secret.strip().strip("\"'").strip()


def problem_with(secret):
    """Why ``secret`` must not sign tokens, or None when it may."""
    if secret is None or (isinstance(secret, str) and not secret.strip()):
        return "is not set"
    if not isinstance(secret, str):
        return "is not a string"
    if len(secret.encode("utf-8")) < MIN_BYTES:
        return f"is shorter than {MIN_BYTES} bytes"
    normalized = _normalized(secret)
    if normalized in PUBLISHED or any(word in normalized.lower() for word in _PLACEHOLDER_WORDS):
        return "is a published value (it appears in the shop's repository or docs)"
    return None


def check_token_secret(secret):
    """Return ``secret`` when it is fit to sign tokens; raise ``InsecureTokenSecret``."""
    problem = problem_with(secret)
    if problem is not None:
        raise InsecureTokenSecret(
            f"JWT_SECRET {problem}. The shop neither signs nor accepts tokens with a missing, "
            f"short or published secret, since others could forge them. {HOW_TO_SET}"
        )
    return secret


def checked_token_settings(config):
    """The ``TOKEN`` section of a config, its secret checked."""
    settings = config.get("TOKEN") or {}
    check_token_secret(settings.get("SECRET"))
    return settings
