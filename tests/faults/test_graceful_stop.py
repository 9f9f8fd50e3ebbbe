"""A service told to stop (SIGTERM: ``nameko run`` calls ``ServiceRunner.stop``)
finishes its workers in flight, and their messages are settled: the broker does
not hand the same request or event to the next instance to run it again."""

import eventlet
import pytest
from eventlet.event import Event
from kombu import Connection
from nameko.rpc import rpc
from nameko.standalone.events import event_dispatcher
from nameko.standalone.rpc import ClusterRpcProxy

from extensions.events import reliable_event_handler
from tests.polling import eventually

pytestmark = pytest.mark.faults

# Longer than one turn of the consumer's loop (kombu drains events with a 1 s
# timeout): a worker still busy after that is what a slow RPC or a slow
# database call looks like at SIGTERM.
WORK_AFTER_STOP_SECONDS = 2.5


class Gate:
    def __init__(self):
        self.calls = []
        self.open = Event()

    def enter(self, what):
        self.calls.append(what)
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


def test_workers_in_flight_at_stop_finish_and_their_messages_are_not_delivered_again(
    rabbit_config, runner_factory
):
    SlowService.gate = Gate()
    runner = runner_factory(rabbit_config, SlowService)
    runner.start()
    with ClusterRpcProxy(rabbit_config) as proxy:
        reply = proxy.slow.work.call_async()
        event_dispatcher(rabbit_config)("source", "happened", {"event_id": "e1", "data": {}})
        eventually(lambda: len(SlowService.gate.calls) == 2)

        stopping = eventlet.spawn(runner.stop)
        eventlet.sleep(WORK_AFTER_STOP_SECONDS)  # the workers are still busy meanwhile
        SlowService.gate.open.send()
        stopping.wait()

        assert reply.result() == "done"
    assert sorted(SlowService.gate.calls) == ["event", "rpc"]
    with Connection(rabbit_config["AMQP_URI"]) as connection:
        channel = connection.default_channel
        left = {
            queue: channel.queue_declare(queue, passive=True).message_count
            for queue in ("rpc-slow", "evt-source-happened--slow.on_happened")
        }
    assert left == {"rpc-slow": 0, "evt-source-happened--slow.on_happened": 0}
