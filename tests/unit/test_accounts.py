from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import jwt
import pytest

from shop.contract import normalize_email
from users import accounts

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def user(**overrides):
    fields = {"id": 7, "role": "customer", "status": "active", "deleted_at": None}
    return SimpleNamespace(**{**fields, **overrides})


def test_emails_are_compared_trimmed_and_lower_case():
    assert normalize_email("  Ann@Example.COM ") == "ann@example.com"


def test_a_password_hash_verifies_only_its_password_and_is_not_the_password():
    password_hash = accounts.hash_password("correct-horse")

    assert "correct-horse" not in password_hash
    assert password_hash.startswith("$argon2")
    assert accounts.verify_password(password_hash, "correct-horse")
    assert not accounts.verify_password(password_hash, "wrong-horse")


def test_a_missing_or_garbled_hash_never_verifies():
    assert not accounts.verify_password(None, "anything")
    assert not accounts.verify_password("not-a-hash", "anything")


@pytest.mark.parametrize(
    ("overrides", "allowed"),
    [({}, True), ({"status": "disabled"}, False), ({"deleted_at": NOW}, False)],
)
def test_only_live_active_users_may_log_in(overrides, allowed):
    assert accounts.can_log_in(user(**overrides)) is allowed
    assert not accounts.can_log_in(None)


def test_a_token_names_the_user_and_role_and_expires_after_its_ttl():
    token = accounts.issue_token(user(role="admin"), "s" * 32, "HS256", 600, NOW)

    claims = jwt.decode(
        token["access_token"], "s" * 32, algorithms=["HS256"], options={"verify_exp": False}
    )
    assert claims == {"sub": "7", "role": "admin", "iat": 1767225600, "exp": 1767226200}
    assert (token["token_type"], token["expires_in"]) == ("Bearer", 600)


@pytest.mark.parametrize(
    ("total", "points"), [("0.99", 0), ("1.00", 1), ("37.50", 37), ("120.99", 120), ("0.00", 0)]
)
def test_points_are_one_per_whole_unit_of_the_total(total, points):
    assert accounts.points_for_total(total) == points


def _signed_up(**overrides):
    return user(**{"signup_key": "k-1", "name": "Ann", "created_at": NOW, **overrides})


def test_a_sign_up_run_again_soon_with_its_key_and_name_may_be_the_same():
    soon = NOW + accounts.SIGN_UP_RETRY_WINDOW

    assert accounts.may_be_the_same_sign_up(_signed_up(), "Ann", "k-1", soon)


@pytest.mark.parametrize(
    ("account", "name", "key", "later"),
    [
        (_signed_up(), "Ann", "k-2", timedelta(0)),  # another key
        (_signed_up(), "Bob", "k-1", timedelta(0)),  # another sign-up with the key
        (_signed_up(signup_key=None), "Ann", "k-1", timedelta(0)),  # made with no key
        (_signed_up(), "Ann", "k-1", accounts.SIGN_UP_RETRY_WINDOW + timedelta(seconds=1)),
        (_signed_up(status="disabled"), "Ann", "k-1", timedelta(0)),  # as login hides it
        (None, "Ann", "k-1", timedelta(0)),  # no account (deleted meanwhile)
    ],
)
def test_no_other_sign_up_and_none_too_late_is_the_same(account, name, key, later):
    assert not accounts.may_be_the_same_sign_up(account, name, key, NOW + later)
