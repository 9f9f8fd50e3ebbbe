"""Worker spans for Nameko services: the ``Tracing`` dependency provider.

    class OrdersService:
        name = "orders"
        tracer = Tracing()

        @rpc
        def create_order(self, user_id, items):
            with self.tracer.span("price items"):
                ...

Every worker gets a span: SERVER for an RPC, CONSUMER for an event handler,
INTERNAL otherwise, continuing the trace context the message carried
(``extensions.trace_context``). Calls a traced worker makes through ``RpcProxy``
get a CLIENT span and events it dispatches (``EventDispatcher`` or the outbox) a
PRODUCER span; ``extensions.tracing_nameko`` makes those, and ``Tracing.setup``
enrols itself there. Config (``TRACING``): ``RECORD_ARGUMENTS``, and what
``extensions.tracer_provider`` reads (``EXPORTER``, ``OTLP_ENDPOINT``,
``SAMPLE_RATIO``).
"""

import logging
from contextlib import contextmanager
from weakref import WeakKeyDictionary

from nameko.events import EventHandler
from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from extensions import tracing_nameko
from extensions.hooks import carry_on
from extensions.trace_context import (
    arguments_attribute,
    extract,
    inject,
    messaging_attributes,
    set_error,
)
from extensions.tracer_provider import build_provider
from shop.redact import redact
from shop.version import shop_version

log = logging.getLogger(__name__)


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
        self.tracer = self.provider.get_tracer("extensions.tracing", shop_version())
        tracing_nameko.instrument(self)

    def stop(self):
        with carry_on(log, "tracer provider did not shut down cleanly"):
            self.provider.shutdown()  # flushes what the batch processor holds

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return WorkerTrace(self, worker_ctx)

    def worker_span(self, worker_ctx):
        entry = self.spans.get(worker_ctx)
        return entry[0] if entry else trace.INVALID_SPAN

    def worker_setup(self, worker_ctx):
        with carry_on(log, "could not start the worker's span"):
            span = self._start_worker_span(worker_ctx)
            token = otel_context.attach(trace.set_span_in_context(span))
            self.spans[worker_ctx] = (span, token)
            # Everything published from now on (outbox rows, plain RPC headers)
            # names this span as its parent.
            worker_ctx.data.update(inject(trace.set_span_in_context(span)))

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
        with carry_on(log, "could not record the worker's error on its span"):
            set_error(entry[0], exc_info[1])

    def worker_teardown(self, worker_ctx):
        entry = self.spans.pop(worker_ctx, None)
        if entry is None:
            return
        span, token = entry
        with carry_on(log, "could not end the worker's span"):
            span.end()
            otel_context.detach(token)

    def parent_context(self, worker_ctx):
        """The current context, or the worker's span when called from another greenthread."""
        if trace.get_current_span().get_span_context().is_valid:
            return otel_context.get_current()
        return trace.set_span_in_context(self.worker_span(worker_ctx))
