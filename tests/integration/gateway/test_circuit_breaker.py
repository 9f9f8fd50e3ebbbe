"""What opens a service's circuit: its upstream failures, never a request's own fault.

An anonymous caller chooses the request; if its fault counted, anyone could
open the circuit, and the service would be 503 for everyone.
"""

import pytest
from nameko.rpc import rpc

from extensions.errors import Unavailable, UpstreamTimeout
from gateway.rpc import RemoteError, RpcError, ServiceUnavailable

FAIL_MAX = 3  # the client fixture's breaker_fail_max


class FlakyService:
    name = "flaky"

    @rpc
    def ok(self):
        return "ok"

    @rpc
    def database_down(self):
        raise Unavailable("The database is unavailable")

    @rpc
    def upstream_slow(self):
        raise UpstreamTimeout("A service this one called did not answer")

    @rpc
    def crash(self):
        raise RuntimeError("a bug")


@pytest.fixture
def flaky_service(rabbit_config, runner_factory):
    runner = runner_factory(rabbit_config, FlakyService)
    runner.start()
    return runner


def _assert_circuit_open(client):
    with pytest.raises(ServiceUnavailable, match="Circuit open"):
        client.call("flaky", "ok")


@pytest.mark.parametrize("method", ["database_down", "upstream_slow", "crash"])
def test_remote_unavailability_timeouts_and_crashes_open_the_circuit(
    flaky_service, client, method
):
    for _ in range(FAIL_MAX):
        with pytest.raises(RemoteError):
            client.call("flaky", method)

    _assert_circuit_open(client)


@pytest.mark.parametrize(
    ("args", "context", "error"),
    [
        # The service's answer to a call with the wrong arguments (nameko's IncorrectSignature).
        (("unexpected",), None, RemoteError),
        # A request that cannot even be encoded: it never left this process.
        ((), {"too_big": 2**64}, RpcError),
    ],
    ids=["wrong-arguments", "unencodable"],
)
def test_requests_that_are_the_callers_fault_never_open_the_circuit(
    flaky_service, client, args, context, error
):
    for _ in range(FAIL_MAX * 2):
        with pytest.raises(error):
            client.call("flaky", "ok", *args, context=context)

    assert client.call("flaky", "ok") == "ok"
