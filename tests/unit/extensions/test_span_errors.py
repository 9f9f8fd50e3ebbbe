"""An error recorded on a span is redacted like a log line."""

import json
from types import SimpleNamespace

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from extensions.tracing import WorkerTrace

HASH = "$argon2id$v=19$m=65536,t=3,p=4$2f7tSOyU3ONhxnL6sZTNrw$EQcSzfzmgvBzT6wU8pS1x7gF5l1Xz"


def test_an_error_escaping_a_child_span_is_recorded_without_its_secrets():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    worker_trace = WorkerTrace(SimpleNamespace(tracer=provider.get_tracer(__name__)), None)

    with pytest.raises(RuntimeError), worker_trace.span("save user"):
        raise RuntimeError(f"[parameters: ('ann@example.com', '{HASH}')] password=hunter2")

    [span] = exporter.get_finished_spans()
    recorded = json.dumps([dict(event.attributes) for event in span.events])
    assert "ann@example.com" in recorded, "the error itself is recorded"
    for secret in ("hunter2", "2f7tSOyU3ONhxnL6sZTNrw", "m=65536"):
        assert secret not in recorded
    assert span.status.status_code == StatusCode.ERROR
