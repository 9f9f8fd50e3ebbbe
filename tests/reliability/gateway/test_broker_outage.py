"""The gateway's RPC client while the real broker is stopped and started again."""

import subprocess
import threading
import time

import pytest
import requests

from gateway.app import create_app
from gateway.rpc import BrokerUnavailable, RpcClient, RpcError, ServiceUnavailable, UpstreamTimeout
from tests.integration.gateway.toys import EchoService
from tests.polling import eventually

pytestmark = pytest.mark.broker_outage


def _rabbitmqctl(command):
    subprocess.run(["rabbitmqctl", command], check=True, capture_output=True, timeout=120)


def _management_api_answers():
    try:
        response = requests.get(
            "http://127.0.0.1:15672/api/overview", auth=("guest", "guest"), timeout=2
        )
        return response.status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture
def broker_outage():
    """Call it to stop the broker; it is always started again, and ready, afterwards."""
    stopped = []

    def stop():
        stopped.append(True)
        _rabbitmqctl("stop_app")

    yield stop
    if stopped:
        _rabbitmqctl("start_app")
        # The vhost fixtures tear down through the management API: wait for it.
        eventually(_management_api_answers, timeout=60, interval=0.5)


def test_calls_fail_fast_while_the_broker_is_down_and_work_again_once_it_is_back(
    rabbit_config, runner_factory, broker_outage
):
    runner = runner_factory(rabbit_config, EchoService)
    runner.start()
    client = RpcClient(rabbit_config["AMQP_URI"], timeout=5, breaker_fail_max=3)
    assert client.call("echo", "echo", "before") == {"args": ["before"], "kwargs": {}}

    broker_outage()
    durations = []
    for _ in range(5):  # more than the breaker's fail_max: an outage must not trip it
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable):
            client.call("echo", "echo", "during")
        durations.append(time.monotonic() - started)
    assert max(durations) < 1.5

    _rabbitmqctl("start_app")

    def answers():
        try:
            return client.call("echo", "echo", "after", timeout=2)
        except (ServiceUnavailable, UpstreamTimeout):
            return None  # the Nameko service is still reconnecting too

    assert eventually(answers, timeout=60, interval=0.25) == {"args": ["after"], "kwargs": {}}
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
