"""A worker that finishes after its broker connection dropped must leave its
container running (nameko 2.14 guards the ack only against py-amqp's own
``ConnectionError``; a dead socket raises ``ConnectionResetError``, and a reply
published while the broker is down raises kombu's ``OperationalError``). Its
message was never acknowledged, so the broker delivers it again."""

import pytest
from kombu.exceptions import OperationalError
from nameko.amqp.publish import Publisher
from nameko.rpc import Responder
from nameko.standalone.events import event_dispatcher
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.utils import get_container

from extensions.events import ReliableEventHandler, reliable_event_handler
from tests.faults import inject
from tests.faults.slow_service import Gate, SlowService, hold_two_workers
from tests.polling import eventually

pytestmark = pytest.mark.faults


@pytest.fixture
def workers_in_flight(rabbit_config, runner_factory):
    """An RPC worker and an event worker of a running service, both held mid-work."""
    held = hold_two_workers(rabbit_config, runner_factory)
    yield held.container
    held.proxy.stop()


def _both_delivered_again():
    return sorted(SlowService.gate.calls) == ["event", "event", "rpc", "rpc"]


@pytest.mark.broker_outage
def test_workers_finishing_while_the_broker_is_down_leave_the_service_running(
    workers_in_flight,
):
    def release_workers_during_outage():
        SlowService.gate.open.send()  # they reply and ack into a dead connection
        eventually(lambda: not workers_in_flight._worker_threads, timeout=30)

    inject.broker_outage(release_workers_during_outage)

    eventually(_both_delivered_again, timeout=30)
    assert not workers_in_flight._died.ready()


def test_workers_finishing_after_the_broker_closed_their_connection_leave_it_running(
    workers_in_flight, rabbit_config
):
    # The management API lists a new connection within its stats interval.
    eventually(lambda: inject.close_connections(rabbit_config["AMQP_URI"]), timeout=15)
    SlowService.gate.open.send()

    eventually(_both_delivered_again, timeout=30)
    assert not workers_in_flight._died.ready()


class _UnreachablePublisher(Publisher):
    """A reply publisher whose broker node does not answer (paused, cut off)."""

    def publish(self, payload, **kwargs):
        raise OperationalError("timed out")


def test_a_request_whose_reply_could_not_be_sent_is_not_run_again(
    rabbit_config, runner_factory, monkeypatch
):
    # Its work is done and its caller times out. Left unacknowledged on a connection
    # that lives on, it would run a second time whenever the service reconnects.
    gate = SlowService.gate = Gate()
    gate.open.send()  # workers pass straight through
    runner_factory(rabbit_config, SlowService).start()
    monkeypatch.setattr(Responder, "publisher_cls", _UnreachablePublisher)
    with ClusterRpcProxy(rabbit_config) as proxy:
        proxy.slow.work.call_async()
        eventually(lambda: gate.calls == ["rpc"])
    monkeypatch.undo()

    eventually(lambda: inject.close_connections(rabbit_config["AMQP_URI"]), timeout=15)
    with ClusterRpcProxy(rabbit_config, timeout=20) as proxy:
        assert proxy.slow.work() == "done"  # answered once the service has reconnected

    assert gate.calls == ["rpc", "rpc"]


class FlakyService:
    name = "flaky"
    calls = []  # the event ids it was given, in turn

    @reliable_event_handler("source", "happened")
    def on_happened(self, payload):
        FlakyService.calls.append(payload["event_id"])
        if len(FlakyService.calls) == 1:
            raise RuntimeError("a moment's trouble")  # retried after a delay


def test_an_event_whose_retry_could_not_be_scheduled_is_handled_again(
    rabbit_config, runner_factory
):
    # Left unacknowledged on a connection that lives on, it would wait for as long
    # as that connection lasts: an order pending, points never awarded.
    FlakyService.calls = []
    config = dict(rabbit_config, EVENTS={"RETRY_DELAYS_SECONDS": [0.2]})
    runner = runner_factory(config, FlakyService)
    runner.start()
    container = get_container(runner, FlakyService)
    handler = next(e for e in container.entrypoints if isinstance(e, ReliableEventHandler))
    handler.retry_publisher = _UnreachablePublisher(config["AMQP_URI"])

    event_dispatcher(config)("source", "happened", {"event_id": "e1", "data": {}})

    eventually(lambda: FlakyService.calls == ["e1", "e1"], timeout=10)
