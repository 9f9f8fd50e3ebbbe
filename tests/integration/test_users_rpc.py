"""The users service's RPC methods over real RabbitMQ, on PostgreSQL and SQLite."""

import jwt
import pytest

from shop.errors import Conflict, NotFound, Unauthorized

ALICE = {"email": "Alice@Example.com", "name": "Alice", "password": "wonderland-42"}


def test_a_new_user_is_returned_without_any_password_or_hash(shop):
    user = shop.users.create_user(ALICE)

    assert user["email"] == "alice@example.com"
    assert (user["role"], user["status"], user["points"]) == ("customer", "active", 0)
    assert not {"password", "password_hash"} & set(user)
    assert shop.users.get_user(user["id"]) == user


def test_an_email_is_unique_whatever_its_case(shop):
    shop.users.create_user(ALICE)

    with pytest.raises(Conflict) as taken:
        shop.users.create_user({**ALICE, "email": "ALICE@example.COM"})

    assert taken.value.details == {"email": ["Already registered."]}


def test_concurrent_sign_ups_with_one_email_let_exactly_one_succeed(shop):
    replies = [shop.users.create_user.call_async(ALICE) for _ in range(5)]

    outcomes = []
    for reply in replies:
        try:
            outcomes.append(reply.result()["id"])
        except Conflict:
            outcomes.append("conflict")

    assert outcomes.count("conflict") == 4


def test_a_sign_up_run_again_with_its_key_answers_with_the_account_it_made(shop):
    # As when the broker delivers the call again: its first run committed, and its
    # acknowledgement died with its process.
    first = shop.users.create_user(ALICE, idempotency_key="sign-up-1")
    accounts = shop.users.list_users()["total"]

    again = shop.users.create_user(ALICE, idempotency_key="sign-up-1")

    assert again == first
    assert shop.users.list_users()["total"] == accounts


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({}, "sign-up-2"),  # another request
        ({}, None),  # a request with no key
        ({"name": "Mallory"}, "sign-up-1"),  # the key again, for another sign-up
        ({"password": "not-wonderland"}, "sign-up-1"),
    ],
)
def test_only_the_same_sign_up_with_its_key_finds_the_email_its_own(shop, change, key):
    shop.users.create_user(ALICE, idempotency_key="sign-up-1")

    with pytest.raises(Conflict) as taken:
        shop.users.create_user({**ALICE, **change}, idempotency_key=key)

    assert taken.value.details == {"email": ["Already registered."]}


def test_login_issues_a_signed_token_that_expires(shop, shop_config):
    user = shop.users.create_user(ALICE)

    token = shop.users.login("alice@example.com", ALICE["password"])

    assert (token["token_type"], token["expires_in"]) == ("Bearer", 3600)
    claims = jwt.decode(
        token["access_token"], shop_config["TOKEN"]["SECRET"], algorithms=["HS256"]
    )
    assert (claims["sub"], claims["role"]) == (str(user["id"]), "customer")
    assert claims["exp"] - claims["iat"] == 3600


@pytest.mark.parametrize(
    ("email", "password"),
    [("alice@example.com", "wrong-password"), ("nobody@example.com", "wonderland-42")],
)
def test_login_with_a_wrong_email_or_password_is_unauthorized(shop, email, password):
    shop.users.create_user(ALICE)

    with pytest.raises(Unauthorized):
        shop.users.login(email, password)


def test_a_disabled_or_deleted_user_cannot_log_in(shop):
    disabled = shop.users.create_user(ALICE)
    deleted = shop.users.create_user({**ALICE, "email": "bob@example.com"})
    shop.users.update_user(disabled["id"], {"status": "disabled"})
    shop.users.delete_user(deleted["id"])

    with pytest.raises(Unauthorized):
        shop.users.login("alice@example.com", ALICE["password"])
    with pytest.raises(Unauthorized):
        shop.users.login("bob@example.com", ALICE["password"])


def test_a_deleted_user_is_gone_from_reads_and_frees_the_email(shop):
    user = shop.users.create_user(ALICE)

    assert shop.users.delete_user(user["id"]) == {"id": user["id"], "deleted": True}

    with pytest.raises(NotFound):
        shop.users.get_user(user["id"])
    with pytest.raises(NotFound):
        shop.users.delete_user(user["id"])
    assert shop.users.create_user(ALICE)["id"] != user["id"]


def test_update_changes_the_fields_given_and_a_new_password_works(shop):
    user = shop.users.create_user(ALICE)

    updated = shop.users.update_user(
        user["id"], {"name": "Alice L.", "password": "new-password-1"}
    )

    assert (updated["name"], updated["email"]) == ("Alice L.", "alice@example.com")
    assert shop.users.login("alice@example.com", "new-password-1")["access_token"]


def test_users_are_listed_a_page_at_a_time_with_the_total(shop):
    for n in range(5):
        shop.users.create_user({**ALICE, "email": f"user{n}@example.com"})

    page = shop.users.list_users(page=2, per_page=2)

    # Five customers plus the bootstrapped admin.
    assert (page["page"], page["per_page"], page["total"]) == (2, 2, 6)
    assert [u["email"] for u in page["items"]] == ["user1@example.com", "user2@example.com"]


def test_the_admin_from_the_config_is_bootstrapped_and_can_log_in(shop):
    token = shop.users.login("admin@example.com", "admin-password")

    [admin] = [u for u in shop.users.list_users()["items"] if u["email"] == "admin@example.com"]
    assert admin["role"] == "admin"
    assert token["access_token"]


def test_health_reports_the_service_ok(shop):
    assert shop.users.health() == {"service": "users", "status": "ok"}
