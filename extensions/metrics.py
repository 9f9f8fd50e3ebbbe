"""Prometheus metrics for Nameko services.

    class OrdersService:
        name = "orders"
        metrics = Metrics()

Counts every worker by outcome, times it, tracks in-flight and max workers,
and serves the process's registry on ``METRICS.PORT`` with the process's
``/health/live`` and ``/health/ready`` (``extensions.endpoint``: one HTTP
endpoint per process, shared by every service that runs in it; each series
carries a ``service`` label). Nothing in it is the shop's: series of the
shop's own live in ``extensions.shop_metrics``,
and extensions that own state the alerts watch report it through a
``report_state()`` method, called every ``STATE_INTERVAL_SECONDS``.
"""

import logging
import time
from weakref import WeakKeyDictionary

import eventlet
from nameko.events import EventHandler
from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc
from prometheus_client import Counter, Gauge, Histogram

from extensions import endpoint
from extensions.hooks import carry_on

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

CALLS = Counter(
    "nameko_entrypoint_calls",
    "Entrypoint calls handled, by outcome (success or error).",
    ["service", "entrypoint", "type", "outcome"],
)
ERRORS = Counter(
    "nameko_entrypoint_errors",
    "Entrypoint calls that raised, by exception type.",
    ["service", "entrypoint", "exception"],
)
LATENCY = Histogram(
    "nameko_entrypoint_duration_seconds",
    "Time from worker setup to teardown.",
    ["service", "entrypoint", "type"],
    buckets=LATENCY_BUCKETS,
)
IN_FLIGHT = Gauge("nameko_workers_in_flight", "Workers running now.", ["service"])
MAX_WORKERS = Gauge("nameko_max_workers", "The service's worker pool size.", ["service"])


def entrypoint_type(entrypoint):
    if isinstance(entrypoint, Rpc):
        return "rpc"
    if isinstance(entrypoint, EventHandler):
        return "event"
    return type(entrypoint).__name__.lower()


class Metrics(DependencyProvider):
    def __init__(self):
        self.started = WeakKeyDictionary()
        self.series = {}
        self.serving = False

    def setup(self):
        config = self.container.config.get("METRICS") or {}
        self.port = int(config.get("PORT") or 0)
        self.address = str(config.get("ADDRESS") or "0.0.0.0")
        self.state_interval = float(config.get("STATE_INTERVAL_SECONDS") or 15)
        self.service = self.container.service_name
        self.in_flight = IN_FLIGHT.labels(self.service)
        MAX_WORKERS.labels(self.service).set(self.container.max_workers)

    def start(self):
        # Port 0 turns the endpoint off (the gateway serves its own /metrics).
        if self.port:
            self.serving = endpoint.acquire(self.port, self.address, self.container)
        if self.serving:
            self.container.spawn_managed_thread(self._report_state, identifier="metrics.state")

    def stop(self):
        if self.serving:
            self.serving = False
            endpoint.release(self.port, self.container)

    def kill(self):
        self.stop()

    def _report_state(self):
        # Extensions that own state the alerts need (the outbox's backlog, an
        # event handler's dead letters) report it themselves: this module needs
        # to know nothing of them.
        reporters = [ext for ext in self.container.extensions if hasattr(ext, "report_state")]
        while self.serving:
            for reporter in reporters:
                try:
                    reporter.report_state()
                except Exception:
                    # The database or broker is down: readiness says so already.
                    log.debug("no state from %r", reporter, exc_info=True)
            eventlet.sleep(self.state_interval)

    def get_dependency(self, worker_ctx):
        return self

    def worker_setup(self, worker_ctx):
        self.started[worker_ctx] = time.perf_counter()
        self.in_flight.inc()

    def _series(self, entrypoint):
        # Looking up labelled children takes a lock each time: keep them per entrypoint.
        series = self.series.get(entrypoint)
        if series is None:
            name, kind = entrypoint.method_name, entrypoint_type(entrypoint)
            series = self.series[entrypoint] = {
                "success": CALLS.labels(self.service, name, kind, "success"),
                "error": CALLS.labels(self.service, name, kind, "error"),
                "latency": LATENCY.labels(self.service, name, kind),
            }
        return series

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        with carry_on(log, "could not count a worker"):
            entrypoint = worker_ctx.entrypoint
            name = entrypoint.method_name
            self._series(entrypoint)["success" if exc_info is None else "error"].inc()
            if exc_info is not None:
                ERRORS.labels(self.service, name, type(exc_info[1]).__name__).inc()

    def worker_teardown(self, worker_ctx):
        started = self.started.pop(worker_ctx, None)
        if started is None:
            return
        self.in_flight.dec()
        with carry_on(log, "could not time a worker"):
            self._series(worker_ctx.entrypoint)["latency"].observe(time.perf_counter() - started)
