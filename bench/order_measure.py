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

# RabbitMQ's management plugin emits statistics every 5 s (collect_statistics_interval);
# a PostgreSQL backend reports its commits within a second of going idle.
STATS_SETTLE_SECONDS = 6
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


def _server_counts(shop):
    stats = (
        requests.get(f"{MANAGEMENT}/vhosts/{shop.vhost}", auth=AUTH, timeout=10)
        .json()
        .get("message_stats", {})
    )
    with psycopg2.connect(f"{PG_ADMIN_URI}/postgres") as connection:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT sum(xact_commit) FROM pg_stat_database WHERE datname = ANY(%s)",
                ([_database(uri) for uri in shop.db_uris.values()],),
            )
            commits = int(cursor.fetchone()[0])
        connection.rollback()
    connection.close()
    return {
        "amqp_published": stats.get("publish", 0),
        "amqp_delivered": stats.get("deliver_get", 0),
        "db_commits": commits,
    }


def _backends(shop):
    """The PostgreSQL backends of this shop's connections (other tenants' are not)."""
    connection = psycopg2.connect(f"{PG_ADMIN_URI}/postgres")
    with connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = ANY(%s)",
            ([_database(uri) for uri in shop.db_uris.values()],),
        )
        pids = [pid for (pid,) in cursor.fetchall()]
    connection.close()
    return pids


def _sample(shop):
    sample = cpu.sample(shop.pids)
    sample["pg_backends"] = cpu.process_seconds(_backends(shop))
    return sample


def _cpu_ms(before, after, count):
    used = cpu.per_request_ms(before, after, count)
    used["services"] = sum(used[s] for s in SERVICES)
    used["total"] = used["gateway"] + used["services"] + sum(used[s] for s in SHARED)
    names = (*PROCESSES, *SHARED, "pg_backends", "services", "total")
    return {f"cpu_{name}_ms": round(used[name], 3) for name in names}


def _counts(before, after, count):
    return {name: round((after[name] - before[name]) / count, 2) for name in after}


def _outbox_backlog(shop):
    backlog = 0
    for uri in shop.db_uris.values():
        with psycopg2.connect(_dsn(uri)) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass('outbox') IS NOT NULL")
            if cursor.fetchone()[0]:
                cursor.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                backlog += cursor.fetchone()[0]
        connection.close()
    return backlog


def _settled(orders_db, ids):
    with psycopg2.connect(_dsn(orders_db)) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, status, updated_at FROM orders WHERE id = ANY(%s) AND status <> 'pending'",
            (ids,),
        )
        rows = cursor.fetchall()
    connection.close()
    return rows


def window(shop, request, total, concurrency, orders):
    """Send ``request`` ``total`` times; for orders, wait until each is confirmed."""
    host, port = shop.base_url.removeprefix("http://").split(":")
    server_before = _server_counts(shop)
    sql_before = read_sql_counts(shop.sql_counts)
    cpu_before = _sample(shop)
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
            settled[:] = _settled(shop.db_uris["orders"], ids)
            return len(settled) == len(ids)

        _poll(all_settled, "every order to leave pending")
        _poll(lambda: _outbox_backlog(shop) == 0, "the outboxes to drain")
        confirmed = {i: at.timestamp() for i, status, at in settled if status == "confirmed"}
        done = len(confirmed)
        waits = [confirmed[i] - sent_at[i] for i in confirmed]
        last_done = max(confirmed.values())
        result.update(
            confirmed=done,
            confirm_p50_ms=round(_percentile(waits, 0.5) * 1000, 2),
            confirm_p99_ms=round(_percentile(waits, 0.99) * 1000, 2),
        )
    cpu_after = _sample(shop)
    sql_after = read_sql_counts(shop.sql_counts)
    time.sleep(STATS_SETTLE_SECONDS)
    server_after = _server_counts(shop)
    result["per_second"] = round(done / (last_done - first_sent), 1)
    result.update(_cpu_ms(cpu_before, cpu_after, done))
    result.update({f"sql_{k}": v for k, v in _counts(sql_before, sql_after, done).items()})
    result.update(_counts(server_before, server_after, done))
    return result
