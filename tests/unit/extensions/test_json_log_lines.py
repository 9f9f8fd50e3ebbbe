import json
import logging

import pytest
from opentelemetry.sdk.trace import TracerProvider

from extensions.jsonlog import JsonFormatter, bound


@pytest.fixture
def log_lines():
    lines = []

    class ListHandler(logging.Handler):
        def emit(self, record):
            lines.append(json.loads(self.format(record)))

    handler = ListHandler()
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.jsonlog")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield logger, lines
    logger.removeHandler(handler)


def test_each_record_is_one_json_object_with_level_logger_message_and_time(log_lines):
    logger, lines = log_lines

    logger.info("stock for %s is %d", "SKU-1", 3)

    assert lines[0]["level"] == "INFO"
    assert lines[0]["logger"] == "tests.jsonlog"
    assert lines[0]["message"] == "stock for SKU-1 is 3"
    assert lines[0]["timestamp"]


def test_bound_worker_fields_and_the_current_trace_appear_on_every_line(log_lines):
    logger, lines = log_lines
    tracer = TracerProvider().get_tracer(__name__)

    with (
        bound(service="orders", entrypoint="create_order", call_id="orders.create_order.1"),
        tracer.start_as_current_span("work") as span,
    ):
        logger.info("inside")
    logger.info("outside")

    inside, outside = lines
    assert inside["service"] == "orders"
    assert inside["entrypoint"] == "create_order"
    assert inside["call_id"] == "orders.create_order.1"
    assert inside["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert inside["span_id"] == format(span.get_span_context().span_id, "016x")
    assert "service" not in outside and "trace_id" not in outside


def test_passwords_and_tokens_never_reach_the_line(log_lines):
    logger, lines = log_lines

    logger.info("login %s password=%s", "a@example.com", "hunter2", extra={"token": "tok-123"})
    try:
        raise ValueError("bad Authorization: Bearer tok-456")
    except ValueError:
        logger.exception("failed")

    text = json.dumps(lines)
    for secret in ("hunter2", "tok-123", "tok-456"):
        assert secret not in text
    assert "a@example.com" in text
