"""Tracing across small Nameko services on the real RabbitMQ, spans kept in memory."""

import json

import pytest
from nameko.events import EventDispatcher, event_handler
from nameko.exceptions import RemoteError
from nameko.rpc import RpcProxy, rpc
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.services import entrypoint_waiter
from nameko.testing.utils import find_free_port
from opentelemetry.trace import SpanKind, StatusCode

from extensions.tracer_provider import memory_exporter
from extensions.tracing import Tracing
from tests.integration.extensions.outbox_table import PlacesItems, outbox_db_uri
from tests.polling import eventually

ROOT_TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
ROOT_TRACE_ID = int("0af7651916cd43dd8448eb211c80319c", 16)
ROOT_SPAN_ID = int("b7ad6b7169203331", 16)


class BackService:
    name = "trace_back"
    tracer = Tracing()
    dispatch = EventDispatcher()

    @rpc
    def work(self, value, password=None):
        with self.tracer.span("double it", value=value):
            self.dispatch("worked", {"event_id": "e-1", "data": {"value": value}})
            return value * 2

    @rpc
    def fail(self, token):
        raise ValueError("cannot do that")


class FrontService:
    name = "trace_front"
    tracer = Tracing()
    back = RpcProxy("trace_back")

    @rpc
    def handle(self, value, credentials):
        return self.back.work(value, password="hunter2")

    @rpc
    def handle_failing(self, token):
        return self.back.fail(token)


class ListenerService:
    name = "trace_listener"
    tracer = Tracing()

    @event_handler("trace_back", "worked")
    def on_worked(self, payload):
        pass

    @event_handler("trace_outbox", "placed")
    def on_placed(self, payload):
        pass


class OutboxService(PlacesItems):
    name = "trace_outbox"
    tracer = Tracing()


@pytest.fixture
def config(rabbit_config, tmp_path):
    memory_exporter.clear()
    return dict(
        rabbit_config,
        TRACING={"EXPORTER": "memory", "SAMPLE_RATIO": 1.0},
        DB_URIS={"trace_outbox:Base": outbox_db_uri(tmp_path)},
        OUTBOX={"POLL_INTERVAL_SECONDS": 0.2},
    )


def spans_named(name):
    return [span for span in memory_exporter.get_finished_spans() if span.name == name]


def one_span(name):
    spans = eventually(lambda: spans_named(name))
    assert len(spans) == 1, [s.name for s in memory_exporter.get_finished_spans()]
    return spans[0]


def test_a_call_through_two_services_and_an_event_makes_one_tree_of_spans(config, runner_factory):
    runner = runner_factory(config, FrontService, BackService, ListenerService)
    runner.start()
    listener = runner.service_map["trace_listener"]

    with (
        entrypoint_waiter(listener, "on_worked"),
        ClusterRpcProxy(config, context_data={"traceparent": ROOT_TRACEPARENT}) as cluster,
    ):
        assert cluster.trace_front.handle(21, {"password": "p4ss"}) == 42

    front = one_span("trace_front/handle")
    client = next(s for s in spans_named("trace_back/work") if s.kind == SpanKind.CLIENT)
    back = next(s for s in spans_named("trace_back/work") if s.kind == SpanKind.SERVER)
    inner = one_span("double it")
    publish = one_span("publish worked")
    consume = one_span("process worked")

    assert {s.context.trace_id for s in (front, client, back, inner, publish, consume)} == {
        ROOT_TRACE_ID
    }
    assert front.kind == SpanKind.SERVER and front.parent.span_id == ROOT_SPAN_ID
    assert client.parent.span_id == front.context.span_id
    assert back.parent.span_id == client.context.span_id
    assert inner.parent.span_id == back.context.span_id
    assert publish.kind == SpanKind.PRODUCER and publish.parent.span_id == inner.context.span_id
    assert consume.kind == SpanKind.CONSUMER and consume.parent.span_id == publish.context.span_id
    assert front.resource.attributes["service.name"] == "trace_front"
    assert back.resource.attributes["service.name"] == "trace_back"
    assert consume.resource.attributes["service.name"] == "trace_listener"
    assert back.attributes["rpc.system"] == "nameko"
    assert (back.attributes["rpc.service"], back.attributes["rpc.method"]) == (
        "trace_back",
        "work",
    )
    assert consume.attributes["messaging.system"] == "rabbitmq"
    assert consume.attributes["messaging.destination.name"] == "trace_back.events"
    assert consume.attributes["messaging.rabbitmq.destination.routing_key"] == "worked"
    assert consume.attributes["messaging.message.id"] == "e-1"
    assert json.loads(back.attributes["nameko.arguments"])["value"] == 21


def test_a_failing_call_marks_the_server_and_client_spans_as_errors(config, runner_factory):
    runner = runner_factory(config, FrontService, BackService)
    runner.start()

    with ClusterRpcProxy(config) as cluster, pytest.raises(RemoteError):
        cluster.trace_front.handle_failing("secret-token")

    server = next(s for s in spans_named("trace_back/fail") if s.kind == SpanKind.SERVER)
    client = next(s for s in spans_named("trace_back/fail") if s.kind == SpanKind.CLIENT)
    front = one_span("trace_front/handle_failing")
    for span in (server, client, front):
        assert span.status.status_code == StatusCode.ERROR, span.name
    assert server.attributes["error.type"] == "ValueError"
    assert any(event.name == "exception" for event in server.events)


def test_no_span_attribute_holds_a_password_or_token(config, runner_factory):
    runner = runner_factory(config, FrontService, BackService, ListenerService)
    runner.start()

    with ClusterRpcProxy(config) as cluster:
        cluster.trace_front.handle(1, {"password": "p4ss", "token": "t0ken"})
        with pytest.raises(RemoteError):
            cluster.trace_front.handle_failing("secret-token")

    eventually(lambda: spans_named("trace_back/fail"))
    text = json.dumps(
        [
            {"attributes": dict(s.attributes), "events": [dict(e.attributes) for e in s.events]}
            for s in memory_exporter.get_finished_spans()
        ]
    )
    for secret in ("p4ss", "t0ken", "hunter2", "secret-token"):
        assert secret not in text
    assert "[REDACTED]" in text


def test_an_outbox_event_is_published_in_a_producer_span_under_the_worker_that_wrote_it(
    config, runner_factory
):
    runner = runner_factory(config, OutboxService, ListenerService)
    runner.start()
    listener = runner.service_map["trace_listener"]

    with entrypoint_waiter(listener, "on_placed"), ClusterRpcProxy(config) as cluster:
        cluster.trace_outbox.place("book")

    place = one_span("trace_outbox/place")
    publish = one_span("publish placed")
    consume = one_span("process placed")
    assert publish.kind == SpanKind.PRODUCER
    assert publish.parent.span_id == place.context.span_id
    assert consume.parent.span_id == publish.context.span_id
    assert publish.attributes["messaging.destination.name"] == "trace_outbox.events"


def test_a_collector_that_is_down_does_not_fail_any_call(config, runner_factory):
    dead_endpoint = f"http://127.0.0.1:{find_free_port()}/v1/traces"
    config["TRACING"] = {"EXPORTER": "otlp", "OTLP_ENDPOINT": dead_endpoint}
    runner = runner_factory(config, FrontService, BackService)
    runner.start()

    with ClusterRpcProxy(config) as cluster:
        results = [cluster.trace_front.handle(n, {}) for n in range(20)]

    assert results == [n * 2 for n in range(20)]
