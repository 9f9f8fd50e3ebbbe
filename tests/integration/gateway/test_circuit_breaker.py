"""What opens a service's circuit: its upstream failures, never a request's own fault.

An anonymous caller chooses the request; if its fault counted, anyone could
open the circuit, and the service would be 503 for everyone.
"""

import eventlet
import pytest
from nameko.rpc import rpc

from gateway.app import create_app
from gateway.rpc import RemoteError, RpcError, ServiceUnavailable
from shop.errors import Unavailable, UpstreamTimeout

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


class SlowUsersService:
    name = "users"

    @rpc
    def health(self):
        eventlet.sleep(0.5)  # slower than the readiness deadline, well within a call's
        return {"service": "users", "status": "ok"}


def test_readiness_probes_of_a_slow_service_never_open_its_circuit(rabbit_config, runner_factory):
    runner_factory(rabbit_config, SlowUsersService).start()
    app = create_app(
        {
            "AMQP_URI": rabbit_config["AMQP_URI"],
            "HEALTH_TIMEOUT": 0.1,
            "READY_CACHE_SECONDS": 0,  # every probe checks
            "BREAKER_FAIL_MAX": 1,
            "RATE_LIMIT": "1000/minute",
        }
    )
    http = app.test_client()

    for _ in range(3):  # anyone may poll readiness, as often as they like
        assert http.get("/health/ready").status_code == 503

    client = app.extensions["shop.rpc"]
    assert client.call("users", "health") == {"service": "users", "status": "ok"}
