"""The broker's control command, for the tests that stop and start the broker, and a
check that the broker can still do what the shop needs of it.

On the machines this project is built on the broker is a local node: ``rabbitmqctl``.
CI runs it in a container, and sets ``RABBITMQCTL`` to the command line that reaches it
(``docker exec CONTAINER rabbitmqctl``, .github/workflows/ci.yml).

Run as ``python -m tests.rabbitmqctl check`` (scripts/ensure-test-services.sh) it
checks that the broker can declare the shop's kind of quorum queue, and repairs one
that cannot (``healthy``), before the suite starts.
"""

import contextlib
import os
import shlex
import subprocess
import sys
import time
import uuid
from urllib.parse import quote

import kombu
import requests

from tests.polling import eventually

MANAGEMENT = "http://127.0.0.1:15672/api"  # the machine's broker; a cluster has its own
AUTH = ("guest", "guest")
AMQP = "amqp://guest:guest@127.0.0.1:5672"

# RabbitMQ 3.10's Ra keeps an in-memory table for every quorum queue that has written
# to the current write-ahead log, deleted queues included, until the log rolls over at
# 512 MiB. The suite deletes thousands of quorum queues with its vhosts and writes
# little, so the tables pile up; at the node's limit of 50,000 tables every quorum
# queue declaration fails with INTERNAL_ERROR. Rolling the log over frees them.
_ROLL_OVER_QUORUM_LOG = "ra_log_wal:force_roll_over(ra_log_wal)."
_RA_TABLES = "length([T || T <- ets:all(), ets:info(T, owner) =:= whereis(ra_log_ets)])."
_DEAD_LETTER_SUPERVISOR = "whereis(rabbit_fifo_dlx_sup)."
_RESTART_DEAD_LETTER_SUPERVISOR = "supervisor:restart_child(rabbit_sup, rabbit_fifo_dlx_sup)."
_SAY_RESTARTED = "The broker's supervisor of dead-letter workers had stopped: started again."


def rabbitmqctl(*args):
    command = shlex.split(os.environ.get("RABBITMQCTL", "rabbitmqctl"))
    completed = subprocess.run([*command, *args], check=True, capture_output=True, timeout=120)
    return completed.stdout.decode()


def free_quorum_queue_tables():
    """Free the broker's tables of quorum queues deleted since the last roll-over."""
    rabbitmqctl("eval", _ROLL_OVER_QUORUM_LOG)


def quorum_queue_tables():
    """How many in-memory tables the broker's Ra keeps for quorum queues."""
    return int(rabbitmqctl("eval", _RA_TABLES).strip())


def management_answers():
    try:
        return requests.get(f"{MANAGEMENT}/overview", auth=AUTH, timeout=2).status_code == 200
    except requests.RequestException:
        return False


# The shape of the shop's retry queues (extensions/events.py): a quorum queue that
# dead-letters at least once starts a dead-letter worker on the broker, and so fails to
# declare when the broker's supervisor of those workers has died (see ``healthy``).
_CHECKED_QUEUE = {
    "x-queue-type": "quorum",
    "x-dead-letter-exchange": "amq.direct",
    "x-dead-letter-strategy": "at-least-once",
    "x-overflow": "reject-publish",
}


@contextlib.contextmanager
def throwaway_vhost(prefix):
    """A vhost of its own, named ``prefix`` and a random suffix, that guest may use;
    deleted afterwards. Yields its name."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    url = f"{MANAGEMENT}/vhosts/{quote(name, safe='')}"
    requests.put(url, auth=AUTH, timeout=10).raise_for_status()
    try:
        requests.put(
            f"{MANAGEMENT}/permissions/{quote(name, safe='')}/{AUTH[0]}",
            auth=AUTH,
            json={"configure": ".*", "write": ".*", "read": ".*"},
            timeout=10,
        ).raise_for_status()
        yield name
    finally:
        requests.delete(url, auth=AUTH, timeout=30)


def quorum_queues_work(amqp=AMQP):
    """Whether the broker declares a quorum queue, in a vhost made for the purpose."""
    try:
        with (
            throwaway_vhost("broker-check") as vhost,
            kombu.Connection(f"{amqp}/{vhost}", connect_timeout=5) as connection,
        ):
            queue = kombu.Queue("check", durable=True, queue_arguments=_CHECKED_QUEUE)
            queue(connection.channel()).declare()
        return True
    except Exception:  # any failure is the answer "no"
        return False


def start_app():
    """Start the broker's application again after an outage, and return once it serves
    what the tests use: the management API, and quorum queues (see ``healthy``)."""
    rabbitmqctl("start_app")
    eventually(management_answers, timeout=60, interval=0.5)
    healthy()


def healthy(timeout=20):
    """Return once the broker declares the shop's kind of quorum queue, repairing it if
    it cannot.

    RabbitMQ 3.10.8 runs the workers of quorum queues that dead-letter at least once
    under one supervisor, ``rabbit_fifo_dlx_sup``, which restarts every worker that
    crashes. A queue deleted while its worker starts (a vhost deleted just after the broker
    came back from an outage) crashes it at every restart, the supervisor gives up and
    stops, and nothing starts it again: from then on every such queue fails to declare
    with 541 INTERNAL_ERROR, until the broker's application restarts. The shop cannot
    work around a broker in that state, and a test that meets one proves nothing about
    the shop; so that supervisor is started again.
    A broker that still cannot declare within ``timeout`` seconds has its local node
    restarted.
    """
    if rabbitmqctl("eval", _DEAD_LETTER_SUPERVISOR).strip() == "undefined":
        print(_SAY_RESTARTED, file=sys.stderr)
        rabbitmqctl("eval", _RESTART_DEAD_LETTER_SUPERVISOR)
    try:
        eventually(quorum_queues_work, timeout=timeout, interval=1)
        return
    except AssertionError:
        if "RABBITMQCTL" in os.environ:
            raise AssertionError("the broker cannot declare a quorum queue") from None
    print("The broker cannot declare a quorum queue: restarting its node.", file=sys.stderr)
    _restart_local_node()
    eventually(quorum_queues_work, timeout=60, interval=1)


def _restart_local_node():
    """Stop the machine's node and start it as the machine starts it."""
    rabbitmqctl("stop")
    subprocess.run(["rabbitmq-server", "-detached"], check=True, timeout=60)
    deadline = time.monotonic() + 120
    while subprocess.run(["rabbitmqctl", "await_startup"], capture_output=True).returncode:
        if time.monotonic() > deadline:
            raise AssertionError("the broker did not start again within 120 s")
        time.sleep(1)
    eventually(management_answers, timeout=60, interval=0.5)


if __name__ == "__main__":
    if sys.argv[1:] != ["check"]:
        sys.exit("usage: python -m tests.rabbitmqctl check")
    healthy()
