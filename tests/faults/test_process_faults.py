"""F2 and F3: a service process killed, or stopped gracefully, while orders are in flight;
and a sign-up whose process is killed between its commit and its acknowledgement."""

import signal
import threading
import time

import psycopg2
import pytest
import requests

from tests.faults import inject
from tests.polling import eventually

pytestmark = pytest.mark.faults

# A service that stops on SIGTERM must be gone well inside Kubernetes' default
# grace period (30 s): nameko stops consuming at once and waits only for the
# workers in flight, which take milliseconds here (an RPC to another service
# gives up after RPC_TIMEOUT_SECONDS, 3).
GRACE_SECONDS = 10
RECOVERY_SECONDS = 30
# While a service is down its callers get 504 (no reply within RPC_TIMEOUT) or
# 503 (its circuit open); never a 500.
DOWNTIME_STATUSES = {200, 201, 409, 503, 504}


def _duplicates_ignored(shop):
    """Redelivered events that a handler found it had already applied."""
    return sum(
        p.log_path.read_text(errors="replace").count("ignoring duplicate event")
        for p in shop.processes
    )


def test_each_service_killed_mid_load_and_restarted_loses_nothing_and_applies_nothing_twice(
    scenario,
):
    scenario.start()
    shop = scenario.shop
    kills = scenario.figures["kills"] = {}

    def kill_each_service_then_restart_it():
        for service in ("orders", "inventory", "users"):
            process = shop.process(f"{service}-0")
            busy = inject.when_busy(process)
            killed = time.monotonic()
            process.signal(signal.SIGKILL)
            assert process.wait(timeout=5) == -signal.SIGKILL
            shop.restart(process)
            shop.wait_ready()
            kills[service] = {
                "workers_in_flight": busy,
                "down_s": round(time.monotonic() - killed, 1),
            }
            time.sleep(1)  # traffic through the restarted service before the next kill

    scenario.run(kill_each_service_then_restart_it, after=5)
    scenario.figures["redelivered"] = inject.redeliveries(scenario.amqp_uri)
    scenario.figures["duplicates_ignored"] = _duplicates_ignored(shop)
    report = scenario.verify(settle_timeout=RECOVERY_SECONDS)

    assert set(report["requests"]["fault"]) <= DOWNTIME_STATUSES, report
    assert report["first_order_after_fault_s"] <= RECOVERY_SECONDS, report


@pytest.mark.parametrize("service", ["orders", "users"])
def test_a_service_stopped_by_sigterm_mid_load_finishes_its_workers_and_exits_0(scenario, service):
    scenario.start()
    shop = scenario.shop
    process = shop.process(f"{service}-0")
    stop = scenario.figures["stop"] = {}

    def terminate_then_restart():
        stop["workers_in_flight"] = inject.when_busy(process)
        terminated = time.monotonic()
        process.signal(signal.SIGTERM)
        try:
            stop["exit_code"] = process.wait(timeout=3 * GRACE_SECONDS)
        except Exception:
            process.popen.kill()  # so the run goes on; the assertion below reports it
            stop["exit_code"] = "still running"
        stop["exit_s"] = round(time.monotonic() - terminated, 2)
        shop.restart(process)
        shop.wait_ready()

    scenario.run(terminate_then_restart, after=5)
    scenario.figures["redelivered"] = inject.redeliveries(scenario.amqp_uri)
    scenario.figures["duplicates_ignored"] = _duplicates_ignored(shop)
    report = scenario.verify(settle_timeout=RECOVERY_SECONDS)

    assert stop["exit_code"] == 0, (stop, process.log_tail())
    assert stop["exit_s"] < GRACE_SECONDS, stop
    assert set(report["requests"]["fault"]) <= DOWNTIME_STATUSES, report
    assert report["first_order_after_fault_s"] <= RECOVERY_SECONDS, report


# A deferred trigger holds the commit of the first sign-up, after its insert, on an
# advisory lock that the test holds: the users process running it is killed right
# there, so its acknowledgement never reaches the broker. PostgreSQL completes the
# commit once the lock is let go, as it notices no client gone during a statement
# (client_connection_check_interval is 0, its default). The trigger is the test
# database's own.
HOLD_FIRST_COMMIT = """
CREATE TABLE held (email text, held_by text);
CREATE FUNCTION hold_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM held) THEN
        INSERT INTO held VALUES (NEW.email, current_setting('application_name'));
        PERFORM pg_advisory_xact_lock(1);
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER hold_commit AFTER INSERT ON users
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION hold_commit();
"""


def _consumers(amqp_uri, queue):
    # The management API leaves a queue's figures out until its first statistics.
    return next((q.get("consumers") for q in inject.queues(amqp_uri) if q["name"] == queue), None)


def _users_session_waiting_on(cursor, wait_event):
    """The process (``PGAPPNAME``) whose session in this database waits on ``wait_event``."""
    cursor.execute(
        "SELECT application_name FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event = %s",
        (wait_event,),
    )
    row = cursor.fetchone()
    return row and row[0]


def test_a_sign_up_whose_process_died_between_commit_and_ack_answers_201_when_redelivered(
    shop_processes, pg_db_uris, rabbit_config
):
    shop = shop_processes
    # Two users processes: the broker hands the unacknowledged call to the other one.
    for name in ("users-0", "users-1"):
        shop.start_service("users", PGAPPNAME=name)  # names each one's sessions
    shop.start_service("inventory")
    shop.start_service("orders")
    _, url = shop.start_gateway()
    shop.wait_ready(url)
    eventually(lambda: _consumers(rabbit_config["AMQP_URI"], "rpc-users") == 2)
    database = psycopg2.connect(pg_db_uris["users:Base"].replace("+psycopg2", "", 1))
    database.autocommit = True
    cursor = database.cursor()
    try:
        cursor.execute(HOLD_FIRST_COMMIT)
        cursor.execute("SELECT pg_advisory_lock(1)")
        body = {"email": "held@example.com", "name": "Held", "password": "correct-horse-9"}
        answer = {}
        sign_up = threading.Thread(
            target=lambda: answer.update(
                response=requests.post(f"{url}/api/users", json=body, timeout=30)
            )
        )
        sign_up.start()

        held_by = shop.process(eventually(lambda: _users_session_waiting_on(cursor, "advisory")))
        held_by.signal(signal.SIGKILL)
        assert held_by.wait(timeout=5) == -signal.SIGKILL
        # The call delivered again: the other process's insert waits for the held commit.
        other = eventually(lambda: _users_session_waiting_on(cursor, "transactionid"))
        cursor.execute("SELECT pg_advisory_unlock(1)")
        sign_up.join(timeout=30)

        assert not sign_up.is_alive()
        response = answer["response"]
        assert response.status_code == 201, response.text
        assert other != held_by.name
        cursor.execute("SELECT id FROM users WHERE email = 'held@example.com'")
        assert cursor.fetchall() == [(response.json()["id"],)]
        cursor.execute("SELECT email, held_by FROM held")
        assert cursor.fetchall() == [("held@example.com", held_by.name)]
    finally:
        database.close()
