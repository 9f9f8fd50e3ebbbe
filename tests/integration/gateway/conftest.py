import pytest

from gateway.rpc import RpcClient
from tests.integration.gateway.toys import EchoService


@pytest.fixture
def echo_service(rabbit_config, runner_factory):
    runner = runner_factory(rabbit_config, EchoService)
    runner.start()
    return runner


@pytest.fixture
def client(rabbit_config):
    client = RpcClient(rabbit_config["AMQP_URI"], timeout=5, breaker_fail_max=3)
    yield client
    client.close()
