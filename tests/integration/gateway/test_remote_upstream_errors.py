"""A service's own upstream failures count against its circuit at the gateway."""

import pytest
from nameko.rpc import rpc

from gateway.rpc import RemoteError, ServiceUnavailable
from shop.errors import Unavailable, UpstreamTimeout


class Troubled:
    name = "troubled"

    @rpc
    def times_out(self):
        raise UpstreamTimeout("inventory did not answer", {"service": "inventory"})

    @rpc
    def unavailable(self):
        raise Unavailable("database unavailable", {})


@pytest.fixture
def troubled(rabbit_config, runner_factory):
    runner_factory(rabbit_config, Troubled).start()


def test_remote_timeouts_and_unavailability_open_the_circuit(troubled, client):
    for method in ("times_out", "unavailable", "times_out"):  # the client trips after three
        with pytest.raises(RemoteError) as raised:
            client.call("troubled", method)
        assert not raised.value.is_business_error

    with pytest.raises(ServiceUnavailable, match="Circuit open"):
        client.call("troubled", "times_out")
