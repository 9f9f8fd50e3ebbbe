"""The broker's control command, for the tests that stop and start the broker.

On the machines this project is built on the broker is a local node: ``rabbitmqctl``.
CI runs it in a container, and sets ``RABBITMQCTL`` to the command line that reaches it
(``docker exec CONTAINER rabbitmqctl``, .github/workflows/ci.yml).
"""

import os
import shlex
import subprocess

# RabbitMQ 3.10's Ra keeps an in-memory table for every quorum queue that has written
# to the current write-ahead log, deleted queues included, until the log rolls over at
# 512 MiB. The suite deletes thousands of quorum queues with its vhosts and writes
# little, so the tables pile up; at the node's limit of 50,000 tables every quorum
# queue declaration fails with INTERNAL_ERROR. Rolling the log over frees them.
_ROLL_OVER_QUORUM_LOG = "ra_log_wal:force_roll_over(ra_log_wal)."
_RA_TABLES = "length([T || T <- ets:all(), ets:info(T, owner) =:= whereis(ra_log_ets)])."


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
