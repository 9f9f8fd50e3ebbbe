"""A call whose process is killed between its commit and its acknowledgement: the
broker delivers it again, to the service's other process, and it takes effect once.

Its own module, not in ``test_process_faults.py``: that one runs in the end-to-end
stream of ``scripts/test.sh``, the longer of the two.
"""

import signal
import threading

import psycopg2
import pytest
import requests

from tests.faults import inject
from tests.faults.load import customers
from tests.faults.processes import SERVICES
from tests.polling import eventually

pytestmark = pytest.mark.faults

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
        try:
            self.query(HOLD_FIRST_COMMIT.format(write=write))
            self.query("SELECT pg_advisory_lock(1)")
        except BaseException:
            self.close()
            raise

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

    def send_and_keep_the_answer():
        try:
            answer["response"] = send()
        except Exception as exc:  # raised in the test's thread below
            answer["error"] = exc

    request = threading.Thread(target=send_and_keep_the_answer)
    request.start()
    killed = shop.process(eventually(lambda: held.waiting("advisory")))
    killed.signal(signal.SIGKILL)
    assert killed.wait(timeout=5) == -signal.SIGKILL
    # Delivered again: the other process's statement waits on the held transaction.
    again = eventually(lambda: held.waiting("transactionid"))
    held.let_go()
    request.join(timeout=30)
    assert not request.is_alive()
    if "error" in answer:
        raise answer["error"]
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
