"""W3C trace context: honour an incoming ``traceparent``, pass it on to the services.

A server span wraps each request; with an OpenTelemetry SDK configured in
the process it is recorded and exported, without one the API is a no-op and
the incoming context (or a fresh trace id) is still carried on, so services'
logs and spans join the caller's trace either way.
"""

import secrets

from flask import g, request
from opentelemetry import context, trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_propagator = TraceContextTextMapPropagator()
_tracer = trace.get_tracer("gateway")


def start_request_span():
    parent = _propagator.extract(request.headers)
    span = _tracer.start_span(
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
