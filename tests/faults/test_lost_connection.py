"""A worker that finishes after its broker connection dropped must leave its
container running (nameko 2.14 guards the ack only against py-amqp's own
``ConnectionError``; a dead socket raises ``ConnectionResetError``, and a reply
published while the broker is down raises kombu's ``OperationalError``). Its
message was never acknowledged, so the broker delivers it again."""

import pytest
from eventlet.event import Event
from nameko.rpc import rpc
from nameko.standalone.events import event_dispatcher
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.utils import get_container

from extensions.events import reliable_event_handler
from tests.faults import inject
from tests.polling import eventually

pytestmark = pytest.mark.faults


class Gate:
    """Workers wait here until the test has cut the connection under them."""

    def __init__(self):
        self.calls = []
        self.open = Event()

    def enter(self, what):
        self.calls.append(what)
        if not self.open.ready():
            self.open.wait()


class SlowService:
    name = "slow"
    gate = None  # a new Gate per test

    @rpc
    def work(self):
        SlowService.gate.enter("rpc")
        return "done"

    @reliable_event_handler("source", "happened")
    def on_happened(self, payload):
        SlowService.gate.enter("event")


@pytest.fixture
def workers_in_flight(rabbit_config, runner_factory):
    """An RPC worker and an event worker of a running service, both held mid-work."""
    SlowService.gate = Gate()
    runner = runner_factory(rabbit_config, SlowService)
    runner.start()
    cluster_proxy = ClusterRpcProxy(rabbit_config)
    cluster_proxy.start().slow.work.call_async()
    event_dispatcher(rabbit_config)("source", "happened", {"event_id": "e1", "data": {}})
    eventually(lambda: len(SlowService.gate.calls) == 2)
    yield get_container(runner, SlowService)
    cluster_proxy.stop()


def _both_delivered_again():
    return sorted(SlowService.gate.calls) == ["event", "event", "rpc", "rpc"]


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
