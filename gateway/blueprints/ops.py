"""Liveness, readiness and metrics: for orchestrators and scrapers, never rate limited.

Readiness costs an RPC to every service, and anyone may ask for it, as often as
they like: each gunicorn worker answers from its last check for
``READY_CACHE_SECONDS`` (1 s), so a flood of probes costs the services at most
one check per worker per period (docs/security.md, "Readiness probe").
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from flask import Blueprint, current_app

from gateway.api import endpoint
from gateway.http_errors import ApiError
from gateway.rpc import RpcError
from gateway.schemas import StatusSchema
from shop.contract import SERVICES

bp = Blueprint("ops", __name__)
# Readiness asks every service at once, so the answer takes one timeout at worst.
_checks = ThreadPoolExecutor(max_workers=len(SERVICES), thread_name_prefix="ready")


def _health(client, service, timeout):
    try:
        client.probe(service, "health", timeout=timeout)
        return "ok"
    except RpcError as exc:
        return f"{type(exc).__name__}: {exc}"


@bp.get("/health/live")
@endpoint("The process is up", response=StatusSchema)
def live():
    return {"status": "ok"}


def _check_all(client, timeout):
    try:
        client.ping()
    except RpcError as exc:
        return {"broker": str(exc)}
    futures = {s: _checks.submit(_health, client, s, timeout) for s in SERVICES}
    return {"broker": "ok", **{s: f.result() for s, f in futures.items()}}


class _Readiness:
    """The last check, reused for ``seconds``; one thread checks while the others wait
    for its answer, so that probes arriving together cost one check, not one each."""

    def __init__(self, seconds):
        self.seconds = seconds
        self._lock = threading.Lock()
        self._checks, self._expires = None, 0.0

    def checks(self, client, timeout):
        with self._lock:
            if time.monotonic() >= self._expires:
                self._checks = _check_all(client, timeout)
                self._expires = time.monotonic() + self.seconds
            return self._checks


@bp.record_once
def _keep_readiness(state):
    state.app.extensions["shop.readiness"] = _Readiness(state.app.config["READY_CACHE_SECONDS"])


@bp.get("/health/ready")
@endpoint("The broker and every service answer", response=StatusSchema, errors=(503,))
def ready():
    checks = current_app.extensions["shop.readiness"].checks(
        current_app.extensions["shop.rpc"], current_app.config["HEALTH_TIMEOUT"]
    )
    if any(state != "ok" for state in checks.values()):
        raise ApiError(503, "SERVICE_UNAVAILABLE", "Not ready", checks)
    return {"status": "ok", "checks": checks}


@bp.get("/metrics")
@endpoint("Prometheus metrics", content_type="text/plain")
def metrics():
    return current_app.extensions["shop.metrics"].exposition()
