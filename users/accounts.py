"""Account rules of the users service: emails, passwords, tokens and points.

Plain Python (no Nameko, no database), so each rule is unit-tested alone.
"""

from datetime import timedelta
from decimal import Decimal

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified when the email is unknown, so that a wrong email costs as much time
# as a wrong password and response times do not reveal which accounts exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password):
    return _hasher.hash(password)


def verify_password(password_hash, password):
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


# How long a sign-up may be run again and answer with the account it made: a
# redelivery comes within the caller's RPC timeout, a client's retry within minutes.
# Later, the key is no way in to an account: it finds the email taken like any other.
SIGN_UP_RETRY_WINDOW = timedelta(minutes=10)


def may_be_the_same_sign_up(user, name, key, now):
    """Whether ``user`` may have been made by this sign-up run again (same key and name,
    still active, made within ``SIGN_UP_RETRY_WINDOW``); its password must match too."""
    return (
        can_log_in(user)
        and user.signup_key == key
        and user.name == name
        and now - user.created_at <= SIGN_UP_RETRY_WINDOW
    )


def can_log_in(user):
    return user is not None and user.deleted_at is None and user.status == "active"


def is_active_admin(user):
    return can_log_in(user) and user.role == "admin"


def issue_token(user, secret, algorithm, ttl_seconds, now):
    """A signed access token naming the user and role, valid for ``ttl_seconds``."""
    claims = {
        "sub": str(user.id),
        "role": user.role,
        "iat": now,
        "exp": now + timedelta(seconds=ttl_seconds),
    }
    token = jwt.encode(claims, secret, algorithm=algorithm)
    return {"access_token": token, "token_type": "Bearer", "expires_in": ttl_seconds}


def points_for_total(total):
    """Loyalty points for an order total (a decimal string): one per whole unit."""
    return int(Decimal(total)) if Decimal(total) > 0 else 0
