"""SQL counts of a benchmarked process, taken at the driver (psycopg2).

Python imports ``sitecustomize`` at start-up from its path: ``bench.order_path``
puts this folder on the ``PYTHONPATH`` of the services it starts, the working
tree's and a baseline revision's alike, so both are counted by the same code.
PostgreSQL here cannot count statements itself (``pg_stat_statements`` must be
preloaded, which needs a server restart), hence this.

Every psycopg2 connection of the process counts ``execute()`` calls by kind
(``SELECT 1`` pool pings apart) and ``commit()`` calls into
``$BENCH_SQL_COUNTS/<pid>.counts``: a memory-mapped array of int64, so the
benchmark reads it at any moment with no help from the process.
"""

import ctypes
import mmap
import os

KINDS = ("statements", "pings", "select", "insert", "update", "delete", "other", "commits")


def _install(directory):
    import psycopg2
    import psycopg2.extensions

    path = os.path.join(directory, f"{os.getpid()}.counts")
    with open(path, "wb") as file:
        file.write(bytes(8 * len(KINDS)))
    with open(path, "r+b") as file:
        shared = mmap.mmap(file.fileno(), 8 * len(KINDS))
    counts = (ctypes.c_int64 * len(KINDS)).from_buffer(shared)
    slot = {kind: i for i, kind in enumerate(KINDS)}

    def count(query):
        text = query.decode() if isinstance(query, bytes) else str(query)
        counts[slot["statements"]] += 1
        if text.strip().upper() == "SELECT 1":
            counts[slot["pings"]] += 1
            return
        verb = text.lstrip().split(None, 1)[0].lower() if text.strip() else "other"
        counts[slot.get(verb, slot["other"])] += 1

    class CountingCursor(psycopg2.extensions.cursor):
        def execute(self, query, vars=None):
            count(query)
            return super().execute(query, vars)

        def executemany(self, query, vars_list):
            count(query)
            return super().executemany(query, vars_list)

    class CountingConnection(psycopg2.extensions.connection):
        def commit(self):
            counts[slot["commits"]] += 1
            return super().commit()

    connect = psycopg2.connect

    def counting_connect(*args, **kwargs):
        kwargs.setdefault("connection_factory", CountingConnection)
        kwargs.setdefault("cursor_factory", CountingCursor)
        return connect(*args, **kwargs)

    psycopg2.connect = counting_connect


def read(directory):
    """The counts of every process that wrote into ``directory``, added up."""
    totals = dict.fromkeys(KINDS, 0)
    for name in os.listdir(directory):
        if name.endswith(".counts"):
            with open(os.path.join(directory, name), "rb") as file:
                raw = file.read(8 * len(KINDS))
            for kind, value in zip(KINDS, memoryview(raw).cast("q"), strict=True):
                totals[kind] += value
    return totals


if os.environ.get("BENCH_SQL_COUNTS"):
    _install(os.environ["BENCH_SQL_COUNTS"])
