"""The admin bootstrap at start: it creates the ADMIN_EMAIL account once, and
never takes over, promotes or revives an account that exists or existed."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
from nameko.runners import ServiceRunner
from nameko.standalone.rpc import ClusterRpcProxy

from shop.errors import Unauthorized
from users.service import UsersService

ADMIN_EMAIL, ADMIN_PASSWORD = "admin@example.com", "admin-password"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def start_users(shop_config):
    """Start the users service alone (again and again: each call is a restart
    once the previous instance is killed), with ``overrides`` on the config."""
    runners = []

    def start(**overrides):
        for runner in runners:
            runner.kill()
        runner = ServiceRunner({**shop_config, **overrides})
        runner.add_service(UsersService)
        runner.start()
        runners.append(runner)
        return runner

    yield start
    for runner in runners:
        runner.kill()


@pytest.fixture
def users(shop_config):
    with ClusterRpcProxy(shop_config, timeout=30) as rpc:
        yield rpc.users


def role_in_token(shop_config, email, password, users):
    token = users.login(email, password)["access_token"]
    return jwt.decode(token, shop_config["TOKEN"]["SECRET"], algorithms=["HS256"])["role"]


def accounts_with_the_admin_email(users):
    return [u for u in users.list_users(per_page=100)["items"] if u["email"] == ADMIN_EMAIL]


def bootstrap_lines(caplog):
    return [r for r in caplog.records if r.name == "users.admin"]


def test_the_first_start_creates_the_admin_and_logs_it_without_the_password(
    start_users, users, shop_config, caplog
):
    caplog.set_level(logging.INFO, logger="users.admin")

    start_users()

    [admin] = accounts_with_the_admin_email(users)
    assert (admin["role"], admin["status"]) == ("admin", "active")
    assert role_in_token(shop_config, ADMIN_EMAIL, ADMIN_PASSWORD, users) == "admin"
    [line] = bootstrap_lines(caplog)
    assert "created" in line.getMessage() and ADMIN_EMAIL in line.getMessage()
    assert ADMIN_PASSWORD not in caplog.text


def test_a_customer_who_signed_up_with_the_admin_email_first_stays_a_customer(
    start_users, users, shop_config, caplog
):
    start_users(ADMIN_EMAIL="", ADMIN_PASSWORD="")
    users.create_user({"email": ADMIN_EMAIL, "name": "Mallory", "password": "mallorys-own"})
    caplog.set_level(logging.INFO, logger="users.admin")

    start_users()

    [account] = accounts_with_the_admin_email(users)
    assert (account["name"], account["role"]) == ("Mallory", "customer")
    assert role_in_token(shop_config, ADMIN_EMAIL, "mallorys-own", users) == "customer"
    with pytest.raises(Unauthorized):
        users.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    [line] = bootstrap_lines(caplog)
    assert line.levelno == logging.WARNING
    assert "exists" in line.getMessage() and "customer" in line.getMessage()


def _the_admin_after_a_restart(start_users, users, change):
    """Start users, make ``change`` to the admin it made, start it again: the admin's account."""
    start_users()
    [admin] = accounts_with_the_admin_email(users)
    users.update_user(admin["id"], change)

    start_users()

    return users.get_user(admin["id"])


def test_a_disabled_admin_stays_disabled_after_a_restart(start_users, users):
    admin = _the_admin_after_a_restart(start_users, users, {"status": "disabled"})

    assert admin["status"] == "disabled"
    with pytest.raises(Unauthorized):
        users.login(ADMIN_EMAIL, ADMIN_PASSWORD)


def test_a_demoted_admin_is_not_promoted_again_by_a_restart(start_users, users):
    admin = _the_admin_after_a_restart(start_users, users, {"role": "customer"})

    assert admin["role"] == "customer"


def test_a_deleted_admin_is_not_created_again_by_a_restart(start_users, users):
    start_users()
    [admin] = accounts_with_the_admin_email(users)
    users.delete_user(admin["id"])

    start_users()

    assert accounts_with_the_admin_email(users) == []
    with pytest.raises(Unauthorized):
        users.login(ADMIN_EMAIL, ADMIN_PASSWORD)


def admin_command(shop_config, *args):
    """``python -m users.admin ...`` as an operator runs it, on this test's database."""
    return subprocess.run(
        [sys.executable, "-m", "users.admin", *args],
        cwd=REPO,
        env={**os.environ, "USERS_DB_URI": shop_config["DB_URIS"]["users:Base"]},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_operator_promotes_and_demotes_a_user_from_the_command_line(
    start_users, users, shop_config
):
    start_users()
    ann = users.create_user({"email": "ann@example.com", "name": "Ann", "password": "anns-pass"})

    promoted = admin_command(shop_config, "promote", "Ann@Example.com")

    assert promoted.returncode == 0, promoted.stderr
    assert "customer -> admin" in promoted.stdout
    assert users.get_user(ann["id"])["role"] == "admin"
    assert role_in_token(shop_config, "ann@example.com", "anns-pass", users) == "admin"

    demoted = admin_command(shop_config, "demote", "ann@example.com")

    assert demoted.returncode == 0, demoted.stderr
    assert role_in_token(shop_config, "ann@example.com", "anns-pass", users) == "customer"


def test_the_command_line_refuses_an_unknown_or_deleted_account(start_users, users, shop_config):
    start_users()
    gone = users.create_user({"email": "gone@example.com", "name": "G", "password": "gones-pass"})
    users.delete_user(gone["id"])

    for email in ("nobody@example.com", "gone@example.com"):
        refused = admin_command(shop_config, "promote", email)

        assert refused.returncode == 1
        assert "no live account" in refused.stderr
