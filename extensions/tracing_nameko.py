"""Tracing of Nameko's own messaging: RPC calls and event dispatch.

Nameko has no hooks for what a worker sends, so ``instrument()`` patches its
RPC proxy (``MethodProxy``) and ``EventDispatcher``: calls get a CLIENT span,
dispatched events a PRODUCER span, and both carry the W3C ``traceparent`` /
``tracestate`` headers of that span, so the receiving worker continues the
trace. ``publish_traced`` does the same for the outbox relay.

A service's ``Tracing`` (``extensions.tracing``) enrols itself through
``instrument()`` from its ``setup``, so this module never imports it: imports
go one way.
"""

import logging
from contextlib import contextmanager
from weakref import WeakSet

from nameko.events import EventDispatcher
from nameko.messaging import HeaderEncoder
from nameko.rpc import MethodProxy
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from extensions.trace_context import (
    HEADER_PREFIX,
    as_headers,
    extract,
    inject,
    messaging_attributes,
    set_error,
)

log = logging.getLogger(__name__)


# Every service's ``Tracing``, enrolled by its ``setup``.
_enrolled = WeakSet()


def provider_for(container):
    """The container's ``Tracing``: how the patched RPC proxy and event dispatcher,
    and the outbox relay, find the tracer of the calling service."""
    for dependency in getattr(container, "dependencies", ()):
        if dependency in _enrolled:
            return dependency
    return None


@contextmanager
def _publish_span(container, exchange, routing_key, payload, headers, parent=None):
    """A PRODUCER span around publishing one message; yields the headers to send.

    ``parent`` defaults to the context carried in ``headers`` (the outbox
    stores the writing worker's headers with each row).
    """
    provider = provider_for(container)
    if provider is None:
        yield headers
        return
    try:
        if parent is None:
            parent = extract(headers, prefix=f"{HEADER_PREFIX}.")
        span = provider.tracer.start_span(
            f"publish {routing_key}",
            context=parent,
            kind=SpanKind.PRODUCER,
            attributes=messaging_attributes("publish", exchange, routing_key, payload),
        )
        traced_headers = {**headers, **as_headers(inject(trace.set_span_in_context(span)))}
    except Exception:
        log.warning("could not start a publish span", exc_info=True)
        yield headers
        return
    try:
        yield traced_headers
    except Exception as exc:
        set_error(span, exc)
        raise
    finally:
        span.end()


def publish_traced(container, sender, event_type, payload, headers, parent=None):
    """Publish one event through ``sender``'s publisher to its exchange, in a PRODUCER span.

    ``sender`` is an ``EventDispatcher`` or the outbox relay: what sends events.
    """
    with _publish_span(
        container, sender.exchange.name, event_type, payload, headers, parent
    ) as traced_headers:
        sender.publisher.publish(
            payload,
            exchange=sender.exchange,
            routing_key=event_type,
            extra_headers=traced_headers,
        )


class _TracedReply:
    """An RpcReply whose ``result()`` ends the CLIENT span of its call."""

    def __init__(self, reply, span):
        self._reply = reply
        self._span = span

    def result(self):
        try:
            return self._reply.result()
        except Exception as exc:
            set_error(self._span, exc)
            raise
        finally:
            self._span.end()

    def __getattr__(self, name):
        return getattr(self._reply, name)


def _traced_rpc_call(original):
    def _call(self, *args, **kwargs):
        provider = provider_for(getattr(self.worker_ctx, "container", None))
        if provider is None:
            return original(self, *args, **kwargs)
        try:
            span = provider.tracer.start_span(
                f"{self.service_name}/{self.method_name}",
                context=provider.parent_context(self.worker_ctx),
                kind=SpanKind.CLIENT,
                attributes={
                    "rpc.system": "nameko",
                    "rpc.service": self.service_name,
                    "rpc.method": self.method_name,
                },
            )
            self._trace_headers = as_headers(inject(trace.set_span_in_context(span)))
        except Exception:
            log.warning("could not start an RPC client span", exc_info=True)
            return original(self, *args, **kwargs)
        try:
            reply = original(self, *args, **kwargs)
        except Exception as exc:
            set_error(span, exc)
            span.end()
            raise
        return _TracedReply(reply, span)

    _call.__wrapped__ = original
    return _call


def _rpc_headers(self, worker_ctx):
    headers = HeaderEncoder.get_message_headers(self, worker_ctx)
    headers.update(getattr(self, "_trace_headers", {}))
    return headers


def _traced_dispatcher(original):
    def get_dependency(self, worker_ctx):
        dispatch = original(self, worker_ctx)
        provider = provider_for(worker_ctx.container)
        if provider is None:
            return dispatch

        def traced_dispatch(event_type, event_data):
            # Headers are read at dispatch time, after the worker's span started.
            headers = self.get_message_headers(worker_ctx)
            parent = provider.parent_context(worker_ctx)
            publish_traced(
                worker_ctx.container, self, event_type, event_data, headers, parent=parent
            )

        return traced_dispatch

    get_dependency.__wrapped__ = original
    return get_dependency


def instrument(tracing):
    """Trace the RPC calls and dispatched events of the workers of ``tracing``'s service."""
    _enrolled.add(tracing)
    _instrument_nameko()


def _instrument_nameko():
    """Trace nameko's RPC proxy and event dispatcher (once per process).

    Both stay untouched for callers outside a traced service: the wrappers
    look up the calling container and step aside when it has no ``Tracing``.
    """
    if hasattr(MethodProxy._call, "__wrapped__"):
        return
    MethodProxy._call = _traced_rpc_call(MethodProxy._call)
    MethodProxy.get_message_headers = _rpc_headers
    EventDispatcher.get_dependency = _traced_dispatcher(EventDispatcher.get_dependency)
