"""A service told to stop (SIGTERM: ``nameko run`` calls ``ServiceRunner.stop``)
finishes its workers in flight, and their messages are settled: the broker does
not hand the same request or event to the next instance to run it again."""

import eventlet
import pytest
from kombu import Connection

from tests.faults.slow_service import EVENT_QUEUE, hold_two_workers

pytestmark = pytest.mark.faults

# Longer than one turn of the consumer's loop (kombu drains events with a 1 s
# timeout): a worker still busy after that is what a slow RPC or a slow
# database call looks like at SIGTERM.
WORK_AFTER_STOP_SECONDS = 2.5


def test_workers_in_flight_at_stop_finish_and_their_messages_are_not_delivered_again(
    rabbit_config, runner_factory
):
    held = hold_two_workers(rabbit_config, runner_factory)

    stopping = eventlet.spawn(held.runner.stop)
    eventlet.sleep(WORK_AFTER_STOP_SECONDS)  # the workers are still busy meanwhile
    held.gate.open.send()
    stopping.wait()

    assert held.reply.result() == "done"
    held.proxy.stop()
    assert sorted(held.gate.calls) == ["event", "rpc"]
    with Connection(rabbit_config["AMQP_URI"]) as connection:
        channel = connection.default_channel
        left = {
            queue: channel.queue_declare(queue, passive=True).message_count
            for queue in ("rpc-slow", EVENT_QUEUE)
        }
    assert left == {"rpc-slow": 0, EVENT_QUEUE: 0}
