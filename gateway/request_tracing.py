"""W3C trace context: honour an incoming ``traceparent``, pass it on to the services.

A server span wraps each request, made by the same tracer provider the
services use (``extensions.tracer_provider``, exporter chosen by config ``TRACING``),
so one trace runs from the HTTP request through every service it reaches.
"""

import secrets
from contextlib import contextmanager

from flask import current_app, g, request
from opentelemetry import context, trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from extensions.trace_context import set_error
from extensions.tracer_provider import build_provider

_propagator = TraceContextTextMapPropagator()


def make_tracer(tracing_config):
    return build_provider("gateway", tracing_config or {}).get_tracer("gateway")


def start_request_span():
    parent = _propagator.extract(request.headers)
    span = current_app.extensions["shop.tracer"].start_span(
        f"{request.method} {request.path}",
        context=parent,
        kind=trace.SpanKind.SERVER,
        attributes={"http.request.method": request.method, "url.path": request.path},
    )
    g.span = span
    g.trace_token = context.attach(trace.set_span_in_context(span, parent))


def end_request_span(status=None):
    span = g.pop("span", None)
    if span is None:
        return
    if status is not None:
        span.set_attribute("http.response.status_code", status)
    span.end()
    context.detach(g.pop("trace_token"))


@contextmanager
def client_span(service, method):
    """A CLIENT span around one outgoing RPC, current while it runs, so the
    service's server span hangs under it (RPC semantic conventions)."""
    span = current_app.extensions["shop.tracer"].start_span(
        f"{service}/{method}",
        kind=trace.SpanKind.CLIENT,
        attributes={"rpc.system": "nameko", "rpc.service": service, "rpc.method": method},
    )
    token = context.attach(trace.set_span_in_context(span))
    try:
        yield span
    except Exception as exc:
        set_error(span, exc)
        raise
    finally:
        context.detach(token)
        span.end()


def outgoing_headers():
    """``{"traceparent", "tracestate"?}`` for the current request's outgoing calls."""
    carrier = {}
    _propagator.inject(carrier)
    if "traceparent" not in carrier:
        if "fallback_traceparent" not in g:
            g.fallback_traceparent = f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
        carrier["traceparent"] = g.fallback_traceparent
    return carrier


def trace_id():
    return outgoing_headers()["traceparent"].split("-")[1]
