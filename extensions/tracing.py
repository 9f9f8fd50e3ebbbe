"""OpenTelemetry tracing for Nameko services.

    class OrdersService:
        name = "orders"
        tracer = Tracing()

        @rpc
        def create_order(self, user_id, items):
            with self.tracer.span("price items"):
                ...

Every worker gets a span: SERVER for an RPC, CONSUMER for an event handler,
INTERNAL otherwise. Calls a traced worker makes through ``RpcProxy`` get a
CLIENT span and events it dispatches (``EventDispatcher`` or the outbox) a
PRODUCER span; ``extensions.tracing_nameko`` makes those, and ``Tracing.setup``
installs it. The W3C trace context travels as Nameko context data, that is
as the AMQP headers ``nameko.traceparent`` and ``nameko.tracestate``, so one
trace follows a request through every service. Config (``TRACING``):
``EXPORTER`` otlp | console | memory | none, ``OTLP_ENDPOINT``,
``SAMPLE_RATIO``, ``RECORD_ARGUMENTS``.
"""

import inspect
import json
import logging
import os
import socket
import traceback
import uuid
from contextlib import contextmanager
from functools import lru_cache
from importlib import metadata
from weakref import WeakKeyDictionary

from nameko.events import EventHandler
from nameko.extensions import DependencyProvider
from nameko.messaging import HeaderEncoder
from nameko.rpc import Rpc
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shop.redact import redact, redact_text

log = logging.getLogger(__name__)

TRACE_KEYS = ("traceparent", "tracestate")
HEADER_PREFIX = HeaderEncoder.header_prefix  # "nameko"
MAX_ATTRIBUTE_LENGTH = 1024
_propagator = TraceContextTextMapPropagator()

# EXPORTER "memory" (tests): every traced service of the process writes here.
memory_exporter = InMemorySpanExporter()


class _SharedMemoryExporter(SpanExporter):
    """Writes to ``memory_exporter`` but survives a container's shutdown."""

    def export(self, spans):
        return memory_exporter.export(spans)

    def shutdown(self):
        pass


def _service_version():
    try:
        return metadata.version("shop")
    except metadata.PackageNotFoundError:
        return "unknown"


def build_provider(service_name, tracing_config):
    """A TracerProvider for one service, exporting as the config says.

    With nothing to export to, no span is recorded whatever ``SAMPLE_RATIO``
    says: spans still get ids, so the trace context travels on and log lines
    carry trace ids, but nothing is built only to be thrown away (attributes,
    events, the arguments' JSON). Such a service passes its traces on unsampled.
    """
    processor = _span_processor(tracing_config)
    if processor is None:
        sampler = ALWAYS_OFF
    else:
        sampler = ParentBased(TraceIdRatioBased(float(tracing_config.get("SAMPLE_RATIO", 1.0))))
    resource = Resource.create(
        {
            "service.name": service_name,
            "service.namespace": "shop",
            "service.version": _service_version(),
            "service.instance.id": f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}",
        }
    )
    provider = TracerProvider(resource=resource, sampler=sampler)
    if processor is not None:
        provider.add_span_processor(processor)
    return provider


def _span_processor(tracing_config):
    """The span processor of ``EXPORTER``, or None when spans go nowhere."""
    exporter = str(tracing_config.get("EXPORTER", "none")).lower()
    try:
        if exporter == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            endpoint = tracing_config.get("OTLP_ENDPOINT") or "http://localhost:4318/v1/traces"
            timeout = float(tracing_config.get("OTLP_TIMEOUT_SECONDS", 5))
            # Batching keeps the export (and a collector that is down) off the workers.
            return BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=timeout))
        if exporter == "console":
            return BatchSpanProcessor(ConsoleSpanExporter())
        if exporter == "memory":
            return SimpleSpanProcessor(_SharedMemoryExporter())
        if exporter != "none":
            log.warning("unknown TRACING.EXPORTER %r; spans are not exported", exporter)
    except Exception:
        log.warning("could not set up the %s span exporter; spans are not exported", exporter)
    return None


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


class WorkerTrace:
    """What a worker gets: its trace ids and child spans of its own."""

    def __init__(self, provider, worker_ctx):
        self._provider = provider
        self._worker_ctx = worker_ctx

    @property
    def current_span(self):
        return self._provider.worker_span(self._worker_ctx)

    @property
    def trace_id(self):
        return format(self.current_span.get_span_context().trace_id, "032x")

    def set_attribute(self, key, value):
        self.current_span.set_attribute(key, redact({key: value})[key])

    @contextmanager
    def span(self, name, **attributes):
        # OpenTelemetry would record an escaping error as it is (message and
        # stack trace unredacted): set_error records it redacted instead.
        with self._provider.tracer.start_as_current_span(
            name,
            attributes=redact(attributes),
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield span
            except Exception as exc:
                set_error(span, exc)
                raise


class Tracing(DependencyProvider):
    def __init__(self, record_arguments=None):
        self.record_arguments = record_arguments
        self.spans = WeakKeyDictionary()

    def setup(self):
        config = self.container.config.get("TRACING") or {}
        if self.record_arguments is None:
            self.record_arguments = str(config.get("RECORD_ARGUMENTS", True)).lower() in (
                "1",
                "true",
                "yes",
            )
        self.provider = build_provider(self.container.service_name, config)
        self.tracer = self.provider.get_tracer("extensions.tracing", _service_version())
        # Imported here: tracing_nameko imports this module (for Tracing and the helpers).
        from extensions.tracing_nameko import instrument_nameko

        instrument_nameko()

    def stop(self):
        try:
            self.provider.shutdown()  # flushes what the batch processor holds
        except Exception:
            log.warning("tracer provider did not shut down cleanly", exc_info=True)

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return WorkerTrace(self, worker_ctx)

    def worker_span(self, worker_ctx):
        entry = self.spans.get(worker_ctx)
        return entry[0] if entry else trace.INVALID_SPAN

    def worker_setup(self, worker_ctx):
        try:
            span = self._start_worker_span(worker_ctx)
            token = otel_context.attach(trace.set_span_in_context(span))
            self.spans[worker_ctx] = (span, token)
            # Everything published from now on (outbox rows, plain RPC headers)
            # names this span as its parent.
            worker_ctx.data.update(inject(trace.set_span_in_context(span)))
        except Exception:
            log.warning("could not start the worker's span", exc_info=True)

    def _start_worker_span(self, worker_ctx):
        entrypoint = worker_ctx.entrypoint
        service, method = worker_ctx.service_name, entrypoint.method_name
        attributes = {"nameko.call_id": worker_ctx.call_id}
        if isinstance(entrypoint, Rpc):
            kind, name = SpanKind.SERVER, f"{service}/{method}"
            attributes.update(
                {"rpc.system": "nameko", "rpc.service": service, "rpc.method": method}
            )
        elif isinstance(entrypoint, EventHandler):
            kind, name = SpanKind.CONSUMER, f"process {entrypoint.event_type}"
            payload = worker_ctx.args[0] if worker_ctx.args else None
            attributes.update(
                messaging_attributes(
                    "process",
                    f"{entrypoint.source_service}.events",
                    entrypoint.event_type,
                    payload,
                )
            )
            attributes["messaging.consumer.group.name"] = f"{service}.{method}"
        else:
            kind, name = SpanKind.INTERNAL, f"{service}/{method}"
        span = self.tracer.start_span(
            name, context=extract(worker_ctx.data), kind=kind, attributes=attributes
        )
        # Serialising arguments is the dearest part: only for spans that are kept.
        if self.record_arguments and span.is_recording():
            method_obj = getattr(worker_ctx.service, method, None)
            if method_obj is not None:
                span.set_attribute(
                    "nameko.arguments",
                    arguments_attribute(method_obj, worker_ctx.args, worker_ctx.kwargs),
                )
        return span

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        entry = self.spans.get(worker_ctx)
        if entry is None or exc_info is None:
            return
        try:
            set_error(entry[0], exc_info[1])
        except Exception:
            log.warning("could not record the worker's error on its span", exc_info=True)

    def worker_teardown(self, worker_ctx):
        entry = self.spans.pop(worker_ctx, None)
        if entry is None:
            return
        span, token = entry
        try:
            span.end()
            otel_context.detach(token)
        except Exception:
            log.warning("could not end the worker's span", exc_info=True)

    def parent_context(self, worker_ctx):
        """The current context, or the worker's span when called from another greenthread."""
        if trace.get_current_span().get_span_context().is_valid:
            return otel_context.get_current()
        return trace.set_span_in_context(self.worker_span(worker_ctx))
