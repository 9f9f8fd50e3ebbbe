"""What every traced side shares: the W3C trace context on Nameko messages, and
what a span records (a redacted error, the call's arguments, messaging attributes).

The context travels as Nameko context data, that is as the AMQP headers
``nameko.traceparent`` and ``nameko.tracestate``, so one trace follows a
request through every service (and from the gateway, which sends the same).
"""

import inspect
import json
import traceback
from functools import lru_cache

from nameko.messaging import HeaderEncoder
from opentelemetry.trace import Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shop.redact import redact, redact_text

TRACE_KEYS = ("traceparent", "tracestate")
HEADER_PREFIX = HeaderEncoder.header_prefix  # "nameko"
MAX_ATTRIBUTE_LENGTH = 1024
_propagator = TraceContextTextMapPropagator()


def inject(span_context_or_ctx=None):
    """The W3C headers (``traceparent``, ``tracestate``) for a context."""
    carrier = {}
    _propagator.inject(carrier, context=span_context_or_ctx)
    return carrier


def extract(data, prefix=""):
    """The OTel context held by ``data`` under ``<prefix>traceparent`` and friends."""
    carrier = {key: data[prefix + key] for key in TRACE_KEYS if data.get(prefix + key)}
    return _propagator.extract(carrier)


def as_headers(carrier):
    return {f"{HEADER_PREFIX}.{key}": value for key, value in carrier.items()}


def _truncate(text):
    return text if len(text) <= MAX_ATTRIBUTE_LENGTH else text[: MAX_ATTRIBUTE_LENGTH - 3] + "..."


@lru_cache(maxsize=1024)
def _signature(function):
    return inspect.signature(function)


def arguments_attribute(method, args, kwargs):
    """The call's arguments as redacted JSON, named by the method's signature."""
    try:
        # Signatures are slow to build: cache them per function, bind ``self`` by hand.
        function = getattr(method, "__func__", None)
        if function is not None:
            args = (method.__self__, *args)
        bound = _signature(function or method).bind_partial(*args, **kwargs).arguments
        bound.pop("self", None)
    except (TypeError, ValueError):
        bound = {"args": list(args), **kwargs}
    return _truncate(json.dumps(redact(dict(bound)), default=repr, sort_keys=True))


def set_error(span, exc):
    stacktrace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    span.record_exception(
        exc,
        attributes={
            "exception.message": redact_text(str(exc)),
            "exception.stacktrace": redact_text(stacktrace),
        },
    )
    span.set_attribute("error.type", type(exc).__name__)
    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))


def messaging_attributes(operation, exchange, routing_key, payload):
    attributes = {
        "messaging.system": "rabbitmq",
        "messaging.operation.type": operation,
        "messaging.operation.name": operation,
        "messaging.destination.name": exchange,
        "messaging.rabbitmq.destination.routing_key": routing_key,
    }
    if isinstance(payload, dict) and isinstance(payload.get("event_id"), str):
        attributes["messaging.message.id"] = payload["event_id"]
    return attributes
