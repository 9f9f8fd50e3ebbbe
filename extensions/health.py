"""Liveness and readiness of a service process, served beside ``/metrics``.

``/health/live`` answers whether the process's event loop is responsive: a
heartbeat greenthread ticks every second, and a loop that was blocked for
longer than ``LIVE_STALL_SECONDS`` (a CPU-bound worker, a blocking call that
escaped eventlet) shows as a stale tick. A loop blocked right now cannot
answer at all, which the probe's own timeout reports.

``/health/ready`` answers whether each service in the process can take work:
its broker connection is up, every one of its queue consumers is consuming,
and its databases answer ``SELECT 1`` within ``DATABASE_TIMEOUT_SECONDS``.
Neither check calls another service, so one service's outage never marks its
callers unready (the gateway's own ``/health/ready`` is the shop-wide view).
"""

import threading
import time

import eventlet
from nameko.messaging import QueueConsumer
from nameko_sqlalchemy import Database

LIVE_STALL_SECONDS = 5
DATABASE_TIMEOUT_SECONDS = 1
HEARTBEAT_SECONDS = 1


class Heartbeat:
    """A tick from the event loop every second, for as long as the process runs."""

    def __init__(self):
        self.last = time.monotonic()
        self.running = True
        thread = threading.Thread(target=self._tick, name="health-heartbeat", daemon=True)
        thread.start()

    def _tick(self):
        while self.running:
            self.last = time.monotonic()
            time.sleep(HEARTBEAT_SECONDS)

    def stop(self):
        self.running = False

    def stall(self):
        """Seconds the loop has gone without a tick beyond its interval."""
        return max(0.0, time.monotonic() - self.last - HEARTBEAT_SECONDS)


def liveness(heartbeat):
    stall = heartbeat.stall()
    return stall < LIVE_STALL_SECONDS, {"event_loop_stall_seconds": round(stall, 3)}


def readiness(containers):
    """``(ready, {service: {check: problem or "ok"}})`` for the containers of a process."""
    report = {container.service_name: _container_checks(container) for container in containers}
    ready = bool(report) and all(
        problem == "ok" for checks in report.values() for problem in checks.values()
    )
    return ready, {"services": report}


def _container_checks(container):
    checks = {"consumers": _consumers_problem(container)}
    for database in _extensions(container, Database):
        checks[f"database:{database.attr_name}"] = _database_problem(database)
    return checks


def _extensions(container, kind):
    return [extension for extension in container.extensions if isinstance(extension, kind)]


def _consumers_problem(container):
    # Reads QueueConsumer internals (nameko 2.14, pinned <2.15): there is no public
    # "are you consuming" question, and asking the broker would count other replicas.
    for queue_consumer in {*_extensions(container, QueueConsumer)}:
        thread = queue_consumer._gt
        if thread is None or thread.dead:
            return "the queue consumer has stopped"
        if not queue_consumer._consumers_ready.ready():
            return "not yet consuming"
        for consumer in queue_consumer._consumers.values():
            channel = consumer.channel
            connection = getattr(channel, "connection", None)
            if connection is None or not connection.connected or not channel.is_open:
                return "no broker connection"
            if not consumer._active_tags:
                return f"not consuming from {', '.join(q.name for q in consumer.queues)}"
    return "ok"


def _database_problem(database):
    try:
        with eventlet.Timeout(DATABASE_TIMEOUT_SECONDS), database.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except eventlet.Timeout:
        return f"no answer within {DATABASE_TIMEOUT_SECONDS}s"
    except Exception as error:
        return f"unreachable ({type(error).__name__})"
    return "ok"
