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


@pytest.fixture
def consul_double():
    server = ConsulDouble().start()
    yield server
    server.stop()
