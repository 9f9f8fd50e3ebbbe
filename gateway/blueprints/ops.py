"""Liveness, readiness and metrics: for orchestrators and scrapers, never rate limited."""

from concurrent.futures import ThreadPoolExecutor

from flask import Blueprint, current_app

from gateway.api import endpoint
from gateway.errors import ApiError
from gateway.rpc import RpcError
from gateway.schemas import StatusSchema

bp = Blueprint("ops", __name__)

SERVICES = ("users", "inventory", "orders")
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


@bp.get("/health/ready")
@endpoint("The broker and every service answer", response=StatusSchema, errors=(503,))
def ready():
    client = current_app.extensions["shop.rpc"]
    timeout = current_app.config["HEALTH_TIMEOUT"]
    try:
        client.ping()
    except RpcError as exc:
        raise ApiError(503, "SERVICE_UNAVAILABLE", "Not ready", {"broker": str(exc)}) from None
    futures = {s: _checks.submit(_health, client, s, timeout) for s in SERVICES}
    checks = {"broker": "ok", **{s: f.result() for s, f in futures.items()}}
    if any(state != "ok" for state in checks.values()):
        raise ApiError(503, "SERVICE_UNAVAILABLE", "Not ready", checks)
    return {"status": "ok", "checks": checks}


@bp.get("/metrics")
@endpoint("Prometheus metrics", content_type="text/plain")
def metrics():
    return current_app.extensions["shop.metrics"].exposition()
