"""What the tracer provider records: nothing when nothing is exported, else as sampled."""

from extensions.trace_context import extract
from extensions.tracer_provider import build_provider

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def start_span(tracing_config, **kwargs):
    return build_provider("svc", tracing_config).get_tracer("test").start_span("work", **kwargs)


def test_with_no_exporter_no_span_is_recorded_yet_the_trace_goes_on():
    span = start_span(
        {"EXPORTER": "none", "SAMPLE_RATIO": 1.0}, context=extract({"traceparent": TRACEPARENT})
    )

    assert not span.is_recording()
    assert format(span.get_span_context().trace_id, "032x") == TRACEPARENT.split("-")[1]
    assert span.get_span_context().is_valid


def test_with_an_exporter_spans_are_recorded_as_the_sample_ratio_says():
    assert start_span({"EXPORTER": "memory", "SAMPLE_RATIO": 1.0}).is_recording()
    assert not start_span({"EXPORTER": "memory", "SAMPLE_RATIO": 0.0}).is_recording()
