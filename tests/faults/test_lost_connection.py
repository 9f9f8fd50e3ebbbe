"""A worker that finishes after its broker connection dropped must leave its
container running (nameko 2.14 guards the ack only against py-amqp's own
``ConnectionError``; a dead socket raises ``ConnectionResetError``, and a reply
published while the broker is down raises kombu's ``OperationalError``). Its
message was never acknowledged, so the broker delivers it again."""

import pytest

from tests.faults import inject
from tests.faults.slow_service import SlowService, hold_two_workers
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
