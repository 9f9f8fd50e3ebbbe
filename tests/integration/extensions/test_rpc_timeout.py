"""Service-to-service RPC with a deadline (``extensions.rpc``), on the real RabbitMQ."""

import time

import eventlet
import pytest
from kombu import Connection
from nameko.standalone.rpc import ClusterRpcProxy
from opentelemetry.trace import SpanKind, StatusCode

from extensions.rpc import RequestPublisher, TimedRpcProxy, rpc
from extensions.tracer_provider import memory_exporter
from extensions.tracing import Tracing
from shop.errors import Unavailable, UpstreamTimeout
from tests.polling import eventually

TIMEOUT = 0.5


class Target:
    name = "rpct_target"

    gate = eventlet.Event()  # replaced for each test; ``block`` waits on it
    recorded = 0  # calls that reached ``record``

    @rpc
    def block(self):
        Target.gate.wait()

    @rpc
    def record(self):
        Target.recorded += 1

    @rpc
    def ping(self):
        return "pong"


class Caller:
    name = "rpct_caller"

    tracer = Tracing()
    target = TimedRpcProxy("rpct_target")
    nobody = TimedRpcProxy("rpct_nobody")

    @rpc
    def call(self, method):
        return getattr(self.target, method)()

    @rpc
    def call_nobody(self):
        return self.nobody.anything()


@pytest.fixture
def config(rabbit_config):
    memory_exporter.clear()
    return dict(rabbit_config, RPC_TIMEOUT_SECONDS=TIMEOUT, TRACING={"EXPORTER": "memory"})


@pytest.fixture
def target(config, runner_factory):
    Target.gate, Target.recorded = eventlet.Event(), 0
    runner = runner_factory(config, Target)
    runner.start()
    yield runner
    Target.gate.send()  # lets blocked workers end before the runner is killed


def start_caller(runner_factory, config, **overrides):
    runner = runner_factory(dict(config, **overrides), Caller)
    runner.start()
    return runner.service_map["rpct_caller"]


def pending_replies(container):
    proxy = next(d for d in container.dependencies if isinstance(d, TimedRpcProxy))
    return proxy.rpc_reply_listener._reply_events


def client_spans(name):
    spans = memory_exporter.get_finished_spans()
    return [s for s in spans if s.name == name and s.kind == SpanKind.CLIENT]


def queue_depth(config, queue):
    with Connection(config["AMQP_URI"]) as connection:
        return connection.default_channel.queue_declare(queue, passive=True).message_count


def test_a_call_nobody_answers_raises_upstream_timeout_after_the_timeout(
    config, target, runner_factory
):
    caller = start_caller(runner_factory, config)

    with ClusterRpcProxy(config, timeout=10) as cluster:
        started = time.monotonic()
        with pytest.raises(UpstreamTimeout) as raised:
            cluster.rpct_caller.call("block")
        elapsed = time.monotonic() - started

        assert TIMEOUT <= elapsed < TIMEOUT + 1
        assert raised.value.details == {"service": "rpct_target", "method": "block"}
        assert pending_replies(caller) == {}  # the listener forgot the call it gave up on
        # The worker that timed out is free, and the proxy works for the next call.
        assert cluster.rpct_caller.call("ping") == "pong"


def test_repeated_timeouts_do_not_use_up_the_callers_workers(config, target, runner_factory):
    start_caller(runner_factory, config, max_workers=2)

    with ClusterRpcProxy(config, timeout=10) as cluster:
        started = time.monotonic()
        calls = [cluster.rpct_caller.call.call_async("block") for _ in range(6)]
        for call in calls:
            with pytest.raises(UpstreamTimeout):
                call.result()

        # Three rounds of two workers, each freed by its timeout.
        assert time.monotonic() - started < 3 * TIMEOUT + 1.5
        assert cluster.rpct_caller.call("ping") == "pong"


def test_a_service_nobody_runs_is_unavailable_at_once(config, runner_factory):
    caller = start_caller(runner_factory, config, RPC_TIMEOUT_SECONDS=5)

    with ClusterRpcProxy(config, timeout=10) as cluster:
        started = time.monotonic()
        with pytest.raises(Unavailable) as raised:
            cluster.rpct_caller.call_nobody()

        assert time.monotonic() - started < 1
        assert raised.value.details == {"service": "rpct_nobody"}
        assert pending_replies(caller) == {}  # nothing was sent: no reply to wait for
    client = eventually(lambda: client_spans("rpct_nobody/anything"))[0]
    assert client.attributes["error.type"] == "Unavailable"


def test_a_request_nobody_took_in_time_expires_instead_of_running_later(
    config, target, runner_factory
):
    target.stop()  # its queue stays, bound and durable, with nobody consuming it
    start_caller(runner_factory, config)

    with ClusterRpcProxy(config, timeout=10) as cluster:
        with pytest.raises(UpstreamTimeout):
            cluster.rpct_caller.call("record")
        eventually(lambda: queue_depth(config, "rpc-rpct_target") == 0, timeout=5)

        runner_factory(config, Target).start()
        # Queued after the request that expired: once this is answered, that
        # one would have been delivered first, and would have run by now.
        assert cluster.rpct_target.ping() == "pong"

    assert Target.recorded == 0


def test_a_timed_out_call_ends_its_client_span_as_an_error(config, target, runner_factory):
    start_caller(runner_factory, config)

    with ClusterRpcProxy(config, timeout=10) as cluster, pytest.raises(UpstreamTimeout):
        cluster.rpct_caller.call("block")

    client = eventually(lambda: client_spans("rpct_target/block"))[0]
    server = eventually(
        lambda: [s for s in memory_exporter.get_finished_spans() if s.name == "rpct_caller/call"]
    )[0]
    assert client.status.status_code == StatusCode.ERROR
    assert client.attributes["error.type"] == "UpstreamTimeout"
    assert client.parent.span_id == server.context.span_id


def test_a_broker_that_cannot_be_reached_is_unavailable():
    publisher = RequestPublisher("pyamqp://guest:guest@127.0.0.1:1/")

    with pytest.raises(Unavailable) as raised:
        publisher.publish({"args": [], "kwargs": {}}, routing_key="rpct_target.ping")

    assert raised.value.details == {"service": "rpct_target"}
