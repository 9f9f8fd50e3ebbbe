"""A service that reports trouble further down (its database, a service it calls)."""

import pytest

from gateway.rpc import RemoteError


@pytest.mark.parametrize(
    ("exc_type", "status", "code"),
    [("UpstreamTimeout", 504, "UPSTREAM_TIMEOUT"), ("Unavailable", 503, "SERVICE_UNAVAILABLE")],
)
def test_a_remote_upstream_failure_keeps_its_status_message_and_details(
    app, exc_type, status, code
):
    @app.get("/upstream")
    def upstream():
        # What the RPC client raises when orders answers with this error.
        raise RemoteError(exc_type, ["inventory did not answer", {"service": "inventory"}])

    response = app.test_client().get("/upstream")

    assert response.status_code == status
    assert response.json["error"] == code
    assert response.json["message"] == "inventory did not answer"
    assert response.json["details"] == {"service": "inventory"}
    assert response.json["request_id"] == response.headers["X-Request-ID"]
