"""F2 and F3: a service process killed, or stopped gracefully, while orders are in flight;
and a sign-up and a stock change whose process is killed between commit and acknowledgement."""

import signal
import threading
import time

import psycopg2
import pytest
import requests

from tests.faults import inject
from tests.faults.load import customers
from tests.faults.processes import SERVICES
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


# A deferred trigger holds the commit of a table's first write on an advisory lock
# that the test holds: the process running it is killed right there, so its
# acknowledgement never reaches the broker, which delivers the call to the service's
# other process. PostgreSQL completes the held commit once the lock is let go, as it
# notices no client gone during a statement (client_connection_check_interval is 0,
# its default). The trigger is the test database's own.
HOLD_FIRST_COMMIT = """
CREATE TABLE held (held_by text);
CREATE FUNCTION hold_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM held) THEN
        INSERT INTO held VALUES (current_setting('application_name'));
        PERFORM pg_advisory_xact_lock(1);
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER hold_commit AFTER {write}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION hold_commit();
"""


class HeldCommit:
    """The first ``write`` ("INSERT ON users") holds its transaction's commit until
    ``let_go()``."""

    def __init__(self, db_uri, write):
        self.connection = psycopg2.connect(db_uri.replace("+psycopg2", "", 1))
        self.connection.autocommit = True
        self.query(HOLD_FIRST_COMMIT.format(write=write))
        self.query("SELECT pg_advisory_lock(1)")

    def query(self, sql, *params):
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params or None)
            return cursor.fetchall() if cursor.description else None

    def waiting(self, wait_event):
        """The process (``PGAPPNAME``) whose session here waits on ``wait_event``, or None."""
        rows = self.query(
            "SELECT application_name FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event = %s",
            wait_event,
        )
        return rows[0][0] if rows else None

    def let_go(self):
        self.query("SELECT pg_advisory_unlock(1)")

    def close(self):
        self.connection.close()


def _consumers(amqp_uri, queue):
    # The management API leaves a queue's figures out until its first statistics.
    return next((q.get("consumers") for q in inject.queues(amqp_uri) if q["name"] == queue), None)


def _shop_with_two(shop, service, amqp_uri):
    """The shop with two processes of ``service``, each naming its database sessions."""
    for index in range(2):
        shop.start_service(service, PGAPPNAME=f"{service}-{index}")
    for other in SERVICES:
        if other != service:
            shop.start_service(other)
    _, url = shop.start_gateway()
    shop.wait_ready(url)
    eventually(lambda: _consumers(amqp_uri, f"rpc-{service}") == 2)
    return url


def _killed_between_commit_and_ack(shop, held, send):
    """``send()`` an HTTP request whose call is killed with its process while its commit
    is held, and let the commit go once the call, delivered again, waits for it.

    Returns the response, the killed process and the process that ran the call again.
    """
    answer = {}
    request = threading.Thread(target=lambda: answer.update(response=send()))
    request.start()
    killed = shop.process(eventually(lambda: held.waiting("advisory")))
    killed.signal(signal.SIGKILL)
    assert killed.wait(timeout=5) == -signal.SIGKILL
    # Delivered again: the other process's statement waits on the held transaction.
    again = eventually(lambda: held.waiting("transactionid"))
    held.let_go()
    request.join(timeout=30)
    assert not request.is_alive()
    assert held.query("SELECT held_by FROM held") == [(killed.name,)]
    return answer["response"], killed.name, again


def test_a_sign_up_whose_process_died_between_commit_and_ack_answers_201_when_redelivered(
    shop_processes, pg_db_uris, rabbit_config
):
    url = _shop_with_two(shop_processes, "users", rabbit_config["AMQP_URI"])
    held = HeldCommit(pg_db_uris["users:Base"], "INSERT ON users")
    try:
        body = {"email": "held@example.com", "name": "Held", "password": "correct-horse-9"}
        response, killed, again = _killed_between_commit_and_ack(
            shop_processes,
            held,
            lambda: requests.post(f"{url}/api/users", json=body, timeout=30),
        )

        assert again != killed
        assert response.status_code == 201, response.text
        accounts = held.query("SELECT id FROM users WHERE email = %s", body["email"])
        assert accounts == [(response.json()["id"],)]
    finally:
        held.close()


def test_a_stock_change_whose_process_died_between_commit_and_ack_is_made_once(
    shop_processes, pg_db_uris, rabbit_config
):
    url = _shop_with_two(shop_processes, "inventory", rabbit_config["AMQP_URI"])
    admin, _, products = customers(url, buyers=0, products=1, stock=10)
    [product_id] = products
    held = HeldCommit(pg_db_uris["inventory:Base"], "UPDATE ON products")
    try:
        # No Idempotency-Key: the key the gateway makes for the request is what
        # keeps the second delivery from changing the stock again.
        response, killed, again = _killed_between_commit_and_ack(
            shop_processes,
            held,
            lambda: requests.post(
                f"{url}/api/products/{product_id}/stock",
                json={"delta": 5},
                headers={"Authorization": f"Bearer {admin}"},
                timeout=30,
            ),
        )

        assert again != killed
        assert response.status_code == 200, response.text
        assert response.json()["stock"] == 15
        stock = held.query("SELECT stock FROM products WHERE id = %s", product_id)
        assert stock == [(15,)]
    finally:
        held.close()
