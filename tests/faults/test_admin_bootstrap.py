"""The admin bootstrap in the production shape (each service its own ``nameko
run`` process, the gateway under gunicorn) while the users database is slow to
take writes: a SHARE lock held by the test lets reads through and makes every
INSERT into ``users`` wait until the test releases it."""

import json

import pytest
import requests
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from tests.faults.processes import ADMIN, SERVICES
from tests.polling import eventually
from users.models import User

pytestmark = pytest.mark.faults


class UsersTableLock:
    def __init__(self, db_uri):
        self.engine = create_engine(db_uri)
        self.holder = self.engine.connect()
        self.transaction = self.holder.begin()
        self.holder.execute(text("LOCK TABLE users IN SHARE MODE"))

    def inserts_waiting(self):
        # Asked on a connection of its own: a transaction keeps one snapshot of
        # pg_stat_activity, and the holder's transaction stays open.
        with self.engine.connect() as connection:
            return connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND query ILIKE 'INSERT INTO users%'"
                )
            )

    def release(self):
        if self.transaction.is_active:
            self.transaction.rollback()
            self.holder.close()

    def close(self):
        self.release()
        self.engine.dispose()


@pytest.fixture
def users_table_lock(pg_db_uris):
    lock = UsersTableLock(pg_db_uris["users:Base"])
    yield lock
    lock.close()


def ready(url):
    response = requests.get(f"{url}/health/ready", timeout=10)
    return response.status_code, response.json()


def bootstrap_lines(process):
    lines = [
        json.loads(line) for line in process.log_path.read_text().splitlines() if line[:1] == "{"
    ]
    return [line for line in lines if line.get("logger") == "users.admin"]


def test_the_first_admin_login_after_the_shop_first_reports_ready_succeeds(
    shop_processes, users_table_lock
):
    for service in SERVICES:
        shop_processes.start_service(service)
    _, url = shop_processes.start_gateway()

    def ready_or_held_back_by_the_bootstrap():
        shop_processes.assert_alive()
        try:
            status, body = ready(url)
        except requests.RequestException:
            return None  # gunicorn is not listening yet
        if status == 200:
            return "ready"
        checks = body.get("details", {})
        # users' queue exists (so its consumer is up: a timeout, not an unknown
        # service) and the others answer, yet users stays silent while its
        # bootstrap waits: exactly what readiness must wait for.
        if (
            checks.get("inventory") == checks.get("orders") == "ok"
            and checks.get("users", "").startswith("UpstreamTimeout")
            and users_table_lock.inserts_waiting()
        ):
            return "held back"
        return None

    outcome = eventually(ready_or_held_back_by_the_bootstrap, timeout=90, interval=0.02)
    if outcome == "held back":
        users_table_lock.release()
        eventually(lambda: ready(url)[0] == 200, timeout=60, interval=0.02)

    response = requests.post(
        f"{url}/api/auth/token", json={"email": ADMIN[0], "password": ADMIN[1]}, timeout=10
    )
    assert (outcome, response.status_code) == ("held back", 200), response.text


def test_two_users_instances_starting_at_once_create_one_admin_and_both_say_what_they_did(
    shop_processes, users_table_lock, pg_db_uris
):
    instances = [shop_processes.start_service("users") for _ in range(2)]

    # Both have looked for the admin, found none, and now try to insert it.
    eventually(
        lambda: shop_processes.assert_alive() or users_table_lock.inserts_waiting() == 2,
        timeout=90,
    )
    users_table_lock.release()

    lines = eventually(
        lambda: (
            all(bootstrap_lines(p) for p in instances) and [bootstrap_lines(p) for p in instances]
        ),
        timeout=60,
    )
    messages = sorted(line["message"] for [line] in lines)
    assert messages[0].startswith("admin account created"), messages
    assert "already exists" in messages[1], messages
    engine = create_engine(pg_db_uris["users:Base"])
    with Session(engine) as session:
        admins = session.scalar(
            select(func.count()).select_from(User).where(User.email == ADMIN[0])
        )
    engine.dispose()
    assert admins == 1
    shop_processes.assert_alive()
