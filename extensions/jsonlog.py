"""JSON log lines that say which worker, request and trace they belong to.

config.yaml's LOGGING selects the formatter::

    formatters:
      json:
        (): extensions.jsonlog.JsonFormatter

and a service adds the worker's fields to every line it logs::

    class OrdersService:
        name = "orders"
        log_context = LogContext()

Each line is one JSON object with ``timestamp``, ``level``, ``logger``,
``message``, and, where known, ``service``, ``entrypoint``, ``call_id``,
``request_id``, ``trace_id`` and ``span_id``. Secret-looking keys and
``password=...`` style text are redacted before the line is written.
"""

import logging
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from weakref import WeakKeyDictionary

from nameko.extensions import DependencyProvider
from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from shop.redact import redact

log = logging.getLogger(__name__)

# Per greenthread (and per Flask request thread): greenlets have their own context.
_fields = ContextVar("shop_log_fields", default=None)


def bind(**fields):
    """Add fields to every log line of the current greenthread; returns a reset token."""
    return _fields.set({**(_fields.get() or {}), **fields})


def unbind(token):
    _fields.reset(token)


@contextmanager
def bound(**fields):
    token = bind(**fields)
    try:
        yield
    finally:
        unbind(token)


def current_fields():
    fields = dict(_fields.get() or {})
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        fields["trace_id"] = format(span_context.trace_id, "032x")
        fields["span_id"] = format(span_context.span_id, "016x")
    return fields


class JsonFormatter(_JsonFormatter):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("timestamp", True)
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        if not args:
            kwargs.setdefault("fmt", "%(levelname)s %(name)s %(message)s")
        super().__init__(*args, **kwargs)

    def add_fields(self, log_data, record, message_dict):
        super().add_fields(log_data, record, message_dict)
        for key, value in current_fields().items():
            log_data.setdefault(key, value)

    def process_log_record(self, log_data):
        return redact(log_data)


class LogContext(DependencyProvider):
    """Binds the worker's service, entrypoint, call id and request id to its log lines."""

    def __init__(self):
        self.tokens = WeakKeyDictionary()

    def get_dependency(self, worker_ctx):
        return None

    def worker_setup(self, worker_ctx):
        try:
            fields = {
                "service": worker_ctx.service_name,
                "entrypoint": worker_ctx.entrypoint.method_name,
                "call_id": worker_ctx.call_id,
            }
            request_id = worker_ctx.data.get("request_id")
            if request_id:
                fields["request_id"] = request_id
            self.tokens[worker_ctx] = bind(**fields)
        except Exception:
            log.warning("could not bind the worker's log fields", exc_info=True)

    def worker_teardown(self, worker_ctx):
        token = self.tokens.pop(worker_ctx, None)
        if token is not None:
            # A token made in another context cannot be reset here; nothing to undo then.
            with suppress(ValueError):
                unbind(token)
