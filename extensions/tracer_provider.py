"""The OpenTelemetry tracer provider of one service, built from config ``TRACING``.

``EXPORTER`` otlp | console | memory | none, ``OTLP_ENDPOINT``,
``OTLP_TIMEOUT_SECONDS``, ``SAMPLE_RATIO``. Used by ``extensions.tracing``
for the services and by ``gateway.request_tracing`` for the gateway.
"""

import logging
import os
import socket
import uuid

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider, export
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, TraceIdRatioBased

from shop.version import shop_version

log = logging.getLogger(__name__)

# EXPORTER "memory" (tests): every traced service of the process writes here.
memory_exporter = InMemorySpanExporter()


class _SharedMemoryExporter(export.SpanExporter):
    """Writes to ``memory_exporter`` but survives a container's shutdown."""

    def export(self, spans):
        return memory_exporter.export(spans)

    def shutdown(self):
        pass


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
            "service.version": shop_version(),
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
            return export.BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=timeout))
        if exporter == "console":
            return export.BatchSpanProcessor(export.ConsoleSpanExporter())
        if exporter == "memory":
            return export.SimpleSpanProcessor(_SharedMemoryExporter())
        if exporter != "none":
            log.warning("unknown TRACING.EXPORTER %r; spans are not exported", exporter)
    except Exception:
        log.warning("could not set up the %s span exporter; spans are not exported", exporter)
    return None
