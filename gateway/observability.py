"""Request ids, one JSON access-log line per request, and Prometheus metrics."""

import logging
import logging.config
import os
import re
import sys
import time
import uuid

from flask import Response, g, has_request_context, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from extensions.jsonlog import JsonFormatter
from gateway import request_tracing

access_log = logging.getLogger("gateway.access")
# A client's own request id is kept if it is short and plain (it ends up in logs).
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class HttpMetrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "gateway_http_requests_total",
            "HTTP requests handled, by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "gateway_http_errors_total",
            "HTTP error responses, by route and error code",
            ["method", "route", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "gateway_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["method", "route", "status"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.rpc_calls = Counter(
            "gateway_rpc_calls_total",
            "RPC calls to services, by outcome",
            ["service", "method", "outcome"],
            registry=self.registry,
        )
        self.rpc_latency = Histogram(
            "gateway_rpc_duration_seconds",
            "Time an RPC call took, reply or not",
            ["service", "method"],
            buckets=_BUCKETS,
            registry=self.registry,
        )

    def observe_rpc(self, service, method, outcome, seconds):
        self.rpc_calls.labels(service, method, outcome).inc()
        self.rpc_latency.labels(service, method).observe(seconds)

    def exposition(self):
        registry = self.registry
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # Under several gunicorn workers, sum what every worker wrote.
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


class _RequestContext(logging.Filter):
    """Stamp every log record with the service and, during a request, its request id."""

    def filter(self, record):
        record.service = "gateway"
        if has_request_context():
            record.request_id = g.get("request_id")
        return True


# The gateway's own loggers only: gateway.rate_counts among them says when the
# rate limiter falls back to memory and when Redis is back.
_LOGGERS = ("gateway",)


def _formatter(logging_config):
    """The services' formatter, as config.yaml's console handler names it (``LOG_FORMAT``):
    JSON lines with one schema for gateway and services (timestamp, level, logger,
    service, request_id, trace_id, span_id; secrets redacted), or plain lines."""
    try:
        name = logging_config["handlers"]["console"]["formatter"]
        spec = dict(logging_config["formatters"][name])
    except (KeyError, TypeError):
        return JsonFormatter()
    return logging.config.DictConfigurator({}).configure_formatter(spec)


def configure_logging(level="INFO", logging_config=None):
    handler = logging.StreamHandler(sys.stderr)
    handler._shop_gateway = True
    handler.setFormatter(_formatter(logging_config))
    handler.addFilter(_RequestContext())
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if any(getattr(h, "_shop_gateway", False) for h in logger.handlers):
            continue
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False


def _route():
    return request.url_rule.rule if request.url_rule else "<unmatched>"


def begin_request():
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
    g.started = time.perf_counter()
    request_tracing.start_request_span()


def finish_request(metrics, response):
    seconds = time.perf_counter() - g.get("started", time.perf_counter())
    response.headers["X-Request-ID"] = g.get("request_id", "")
    route, status = _route(), response.status_code
    g.status = status
    metrics.requests.labels(request.method, route, status).inc()
    metrics.latency.labels(request.method, route, status).observe(seconds)
    if status >= 400 and response.is_json:
        code = (response.get_json(silent=True) or {}).get("error", "UNKNOWN")
        metrics.errors.labels(request.method, route, code).inc()
    caller = g.get("caller")
    access_log.info(
        "%s %s %s %.1f ms",
        request.method,
        request.path,
        status,
        seconds * 1000,
        extra={
            "method": request.method,
            "route": route,
            "path": request.path,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "user_id": caller.id if caller else None,
            "trace_id": request_tracing.trace_id() if "span" in g else None,
            "remote_addr": request.remote_addr,
        },
    )
    return response
