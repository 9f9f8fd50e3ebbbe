"""One measured window of ``bench.order_path``: orders or reads against a running shop.

CPU is read from /proc right before the first request and as soon as the shop
is quiet again: every order confirmed and every outbox row published. The
broker's and PostgreSQL's own counters (messages, commits) lag behind: they
are read after ``STATS_SETTLE_SECONDS`` more, outside the CPU window.
"""

import json
import time

import psycopg2
import requests

from bench import cpu, load
from bench.probe.sitecustomize import read as read_sql_counts
from bench.stack import PG_ADMIN_URI
from tests.rabbitmqctl import AUTH, MANAGEMENT
from tools.migrate import SERVICES

# RabbitMQ's management plugin emits statistics every 5 s (collect_statistics_interval).
# A PostgreSQL (15 and later) backend that goes idle within 1 s of its last report holds its counts
# back for 10 s more (PGSTAT_MIN_INTERVAL, PGSTAT_IDLE_INTERVAL in pgstat.c): read
# sooner, a window's last commits would count toward the next window, or toward none.
STATS_SETTLE_SECONDS = 11
CONFIRM_DEADLINE_SECONDS = 120
PROCESSES = ("gateway", *SERVICES)  # read by process id; the rest by name (bench/cpu.py)
SHARED = ("broker", "postgres", "redis")


def _dsn(uri):
    return uri.replace("postgresql+psycopg2://", "postgresql://", 1)


def _database(uri):
    return uri.rsplit("/", 1)[1]


def _poll(probe, what):
    deadline = time.monotonic() + CONFIRM_DEADLINE_SECONDS
    while not probe():
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up waiting for {what}")
        time.sleep(0.05)


def _percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else None


class Watch:
    """The bench's own connections to PostgreSQL, open for a whole window.

    A connection opened and closed during the window would be a backend that
    ended in it, and ``bench.cpu`` counts those as the shop's; these are open
    before the first sample and closed after the last, and ``pids`` leaves out
    what their queries cost."""

    def __init__(self, shop):
        self.shop = shop
        self.names = [_database(uri) for uri in shop.db_uris.values()]
        self._open = []
        try:
            self.admin = self._connect(f"{PG_ADMIN_URI}/postgres")
            self.databases = {s: self._connect(_dsn(uri)) for s, uri in shop.db_uris.items()}
            self.outboxes = [
                connection
                for connection in self.databases.values()
                if self._rows(connection, "SELECT to_regclass('outbox') IS NOT NULL")[0][0]
            ]
        except BaseException:
            self.close()
            raise
        self.pids = [connection.get_backend_pid() for connection in self._open]

    def _connect(self, dsn):
        connection = psycopg2.connect(dsn)
        self._open.append(connection)
        connection.autocommit = True  # each poll sees the latest commits
        return connection

    def close(self):
        for connection in self._open:
            connection.close()

    def _rows(self, connection, query, *params):
        with connection.cursor() as cursor:
            cursor.execute(query, params or None)
            return cursor.fetchall()

    def server_counts(self):
        stats = (
            requests.get(f"{MANAGEMENT}/vhosts/{self.shop.vhost}", auth=AUTH, timeout=10)
            .json()
            .get("message_stats", {})
        )
        # sessions: connections opened to the shop's databases, each a new backend.
        ((commits, sessions),) = self._rows(
            self.admin,
            "SELECT sum(xact_commit), sum(sessions) FROM pg_stat_database WHERE datname = ANY(%s)",
            self.names,
        )
        return {
            "amqp_published": stats.get("publish", 0),
            "amqp_delivered": stats.get("deliver_get", 0),
            "db_commits": int(commits),
            "db_sessions": int(sessions),
        }

    def sample(self):
        sample = cpu.sample(self.shop.pids, not_postgres=self.pids)
        # The backends of this shop's connections (other tenants' are not).
        backends = self._rows(
            self.admin,
            "SELECT pid FROM pg_stat_activity WHERE datname = ANY(%s) AND pid <> ALL(%s)",
            self.names,
            self.pids,
        )
        sample["pg_backends"] = cpu.process_seconds([pid for (pid,) in backends])
        return sample

    def outbox_backlog(self):
        query = "SELECT count(*) FROM outbox WHERE published_at IS NULL"
        return sum(self._rows(connection, query)[0][0] for connection in self.outboxes)

    def settled(self, ids):
        return self._rows(
            self.databases["orders"],
            "SELECT id, status, updated_at FROM orders WHERE id = ANY(%s) AND status <> 'pending'",
            ids,
        )


def _cpu_ms(before, after, count):
    used = cpu.per_request_ms(before, after, count)
    used["services"] = sum(used[s] for s in SERVICES)
    used["total"] = used["gateway"] + used["services"] + sum(used[s] for s in SHARED)
    names = (*PROCESSES, *SHARED, "pg_backends", "services", "total")
    return {f"cpu_{name}_ms": round(used[name], 3) for name in names}


def _counts(before, after, count):
    return {name: round((after[name] - before[name]) / count, 2) for name in after}


def window(shop, request, total, concurrency, orders):
    """Send ``request`` ``total`` times; for orders, wait until each is confirmed."""
    watch = Watch(shop)
    try:
        return _measure(watch, request, total, concurrency, orders)
    finally:
        watch.close()


def _measure(watch, request, total, concurrency, orders):
    shop = watch.shop
    host, port = shop.base_url.removeprefix("http://").split(":")
    server_before = watch.server_counts()
    sql_before = read_sql_counts(shop.sql_counts)
    cpu_before = watch.sample()
    replies = load.run_count(host, int(port), request, total, concurrency)
    ok = [r for r in replies if r[2] < 300]
    result = {
        "requests": total,
        "failed": total - len(ok),
        "http_p50_ms": round(_percentile([r[1] for r in ok], 0.5) * 1000, 2),
        "http_p99_ms": round(_percentile([r[1] for r in ok], 0.99) * 1000, 2),
    }
    first_sent, last_done = replies[0][0], max(r[0] + r[1] for r in replies)
    done = len(ok)
    if orders:
        sent_at = {json.loads(r[3])["id"]: r[0] for r in ok}
        ids = list(sent_at)
        settled = []

        def all_settled():
            settled[:] = watch.settled(ids)
            return len(settled) == len(ids)

        _poll(all_settled, "every order to leave pending")
        _poll(lambda: watch.outbox_backlog() == 0, "the outboxes to drain")
        confirmed = {i: at.timestamp() for i, status, at in settled if status == "confirmed"}
        done = len(confirmed)
        waits = [confirmed[i] - sent_at[i] for i in confirmed]
        last_done = max(confirmed.values())
        result.update(
            confirmed=done,
            confirm_p50_ms=round(_percentile(waits, 0.5) * 1000, 2),
            confirm_p99_ms=round(_percentile(waits, 0.99) * 1000, 2),
        )
    cpu_after = watch.sample()
    sql_after = read_sql_counts(shop.sql_counts)
    time.sleep(STATS_SETTLE_SECONDS)
    server_after = watch.server_counts()
    result["per_second"] = round(done / (last_done - first_sent), 1)
    result.update(_cpu_ms(cpu_before, cpu_after, done))
    result.update({f"sql_{k}": v for k, v in _counts(sql_before, sql_after, done).items()})
    result.update(_counts(server_before, server_after, done))
    return result
