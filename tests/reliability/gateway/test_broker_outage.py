"""The gateway's RPC client while the real broker is stopped and started again."""

import threading
import time

import pytest

from gateway.app import create_app
from gateway.rpc import BrokerUnavailable, RpcClient, RpcError
from tests.integration.gateway.toys import EchoService
from tests.polling import eventually
from tests.rabbitmqctl import rabbitmqctl, start_app

pytestmark = pytest.mark.broker_outage


@pytest.fixture
def broker_outage():
    """Call it to stop the broker; it is always started again, and ready, afterwards."""
    stopped = []

    def stop():
        stopped.append(True)
        rabbitmqctl("stop_app")

    yield stop
    if stopped:
        start_app()  # the vhost fixtures tear down through the management API


def _connected(client):
    def probe():
        try:
            client.ping()  # the client's own connection: no call, nothing for a breaker
        except BrokerUnavailable:
            return False
        return True

    return probe


def test_calls_fail_fast_as_broker_errors_while_it_is_down_and_the_first_call_after_works(
    rabbit_config, runner_factory, broker_outage
):
    runner = runner_factory(rabbit_config, EchoService)
    runner.start()
    # A reset far beyond the test's length: a circuit opened by the outage would still
    # be open afterwards, rather than have healed while the test waited.
    client = RpcClient(
        rabbit_config["AMQP_URI"], timeout=5, breaker_fail_max=3, breaker_reset_seconds=3600
    )
    assert client.call("echo", "echo", "before") == {"args": ["before"], "kwargs": {}}

    broker_outage()
    durations = []
    for _ in range(5):  # more than the breaker's fail_max: an outage must not trip it
        started = time.monotonic()
        # The broker's own error: "circuit open" is a ServiceUnavailable too, but not this.
        with pytest.raises(BrokerUnavailable):
            client.call("echo", "echo", "during")
        durations.append(time.monotonic() - started)
    assert max(durations) < 1.5
    assert client.breaker("echo").current_state == "closed"

    start_app()
    eventually(_connected(client), timeout=60, interval=0.25)

    # One call, not a retry loop: it must go through. Should the service still be
    # reconnecting, the request waits for it in the service's durable queue.
    assert client.call("echo", "echo", "after", timeout=30) == {"args": ["after"], "kwargs": {}}
    client.close()


def test_a_call_waiting_for_its_reply_fails_as_soon_as_the_broker_goes(
    rabbit_config, runner_factory, broker_outage
):
    runner = runner_factory(rabbit_config, EchoService)
    runner.start()
    client = RpcClient(rabbit_config["AMQP_URI"], timeout=90)
    EchoService.arrived = 0
    outcome = []

    def call():
        try:
            outcome.append(client.call("echo", "rendezvous", 2, 60))  # waits 60 s for a peer
        except RpcError as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    try:
        eventually(lambda: EchoService.arrived == 1, timeout=10, interval=0.05)
        broker_outage()  # returns once RabbitMQ has stopped
        caller.join(timeout=10)
    finally:
        client.close()

    # Not the reply (due in 60 s), nor the timeout (90 s): the lost connection.
    assert not caller.is_alive()
    assert len(outcome) == 1
    assert isinstance(outcome[0], BrokerUnavailable)


def test_readiness_names_the_broker_while_it_is_down(rabbit_config, broker_outage):
    app = create_app({"AMQP_URI": rabbit_config["AMQP_URI"], "RATE_LIMIT": "1000/minute"})
    client = app.test_client()

    broker_outage()
    started = time.monotonic()
    response = client.get("/health/ready")

    assert time.monotonic() - started < 1.5
    assert response.status_code == 503
    assert response.json["error"] == "SERVICE_UNAVAILABLE"
    assert "broker" in response.json["details"]
    assert client.get("/health/live").status_code == 200
