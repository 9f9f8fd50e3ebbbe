import pytest

from tests.fakes.consul import ConsulDouble
from tests.integration.extensions.prometheus import Prometheus


@pytest.fixture
def prometheus(tmp_path):
    """Start a real Prometheus with a given config; stopped (and its data removed) after."""
    servers = []

    def start(config):
        workdir = tmp_path / f"prometheus{len(servers)}"
        workdir.mkdir()
        servers.append(Prometheus(workdir, config))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def _consul_server():
    server = ConsulDouble().start()
    yield server
    server.stop()


@pytest.fixture
def consul_double(_consul_server):
    """A Consul double with no state. It keeps answering until the session ends, so
    containers torn down after this fixture (nameko's fast_teardown) still deregister."""
    _consul_server.reset()
    return _consul_server
