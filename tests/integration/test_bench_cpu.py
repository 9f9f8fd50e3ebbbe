"""``bench.cpu`` counts what PostgreSQL spent in backends that ended between two samples."""

from pathlib import Path

import psycopg2

from bench import cpu
from bench.stack import PG_ADMIN_URI
from tests.polling import eventually

BUSY = "SELECT sum(i) FROM generate_series(1, 3000000) AS i"


def _busy_backend_that_ends():
    """Run a query of some CPU on a connection of its own, close it; its CPU seconds."""
    connection = psycopg2.connect(f"{PG_ADMIN_URI}/postgres")
    pid = connection.get_backend_pid()
    with connection.cursor() as cursor:
        cursor.execute(BUSY)
    spent = cpu.process_seconds([pid])[pid]
    connection.close()
    eventually(lambda: not Path(f"/proc/{pid}").exists())  # ended, and reaped by the server
    return spent


def _ended(sample):
    """The server's entry: the CPU of the backends it has reaped."""
    (reaped,) = [cpu for key, cpu in sample["postgres"].items() if isinstance(key, str)]
    return reaped


def test_a_backend_that_ended_between_two_samples_is_counted():
    before = cpu.sample({})
    spent = _busy_backend_that_ends()
    after = cpu.sample({})

    assert spent > 0.05  # the query did cost something to count
    # Other tenants' backends may have ended too: at least this one's CPU, compared in
    # clock ticks, as /proc counts it (a difference of floats can fall short by 1e-14).
    assert round((_ended(after) - _ended(before)) * cpu.TICK) >= round(spent * cpu.TICK)


def test_the_backends_of_the_measuring_connections_are_left_out():
    watcher = psycopg2.connect(f"{PG_ADMIN_URI}/postgres")
    pid = watcher.get_backend_pid()
    before = cpu.sample({}, not_postgres=[pid])
    with watcher.cursor() as cursor:
        cursor.execute(BUSY)
    after = cpu.sample({}, not_postgres=[pid])
    unfiltered = cpu.sample({})
    watcher.close()

    assert pid in unfiltered["postgres"]  # a postgres process, left out when asked
    assert pid not in before["postgres"] and pid not in after["postgres"]
