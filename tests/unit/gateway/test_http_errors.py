"""Every failure is the JSON error envelope, with a request id, never HTML or a traceback."""

import pytest

from tests.unit.gateway.conftest import bearer, make_token


def _assert_envelope(response, status, code):
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.json
    assert set(body) == {"error", "message", "details", "request_id"}
    assert body["error"] == code
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


def test_an_unknown_route_is_a_json_404(client):
    _assert_envelope(client.get("/no/such/page"), 404, "NOT_FOUND")


def test_a_wrong_method_is_a_json_405_with_allow(client):
    response = client.delete("/api/products")

    _assert_envelope(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response.headers["Allow"]


def test_a_body_that_is_not_json_is_415(client):
    response = client.post("/api/users", data="email=a@b.c", content_type="text/plain")

    _assert_envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_malformed_json_is_a_400_validation_error(client):
    response = client.post("/api/users", data='{"email": ', content_type="application/json")

    body = _assert_envelope(response, 400, "VALIDATION_ERROR")
    assert body["details"] == {"body": ["Malformed JSON."]}


def test_a_json_array_instead_of_an_object_is_a_400(client):
    response = client.post("/api/auth/token", json=[1, 2])

    _assert_envelope(response, 400, "VALIDATION_ERROR")


def test_invalid_fields_are_a_400_with_a_message_per_field(client):
    response = client.post("/api/users", json={"email": "nope", "password": "short"})

    body = _assert_envelope(response, 400, "VALIDATION_ERROR")
    assert set(body["details"]) == {"email", "name", "password"}


def test_unknown_fields_are_refused_rather_than_silently_dropped(client):
    response = client.post(
        "/api/users",
        json={"email": "a@example.com", "name": "A", "password": "long-enough", "role": "admin"},
    )

    body = _assert_envelope(response, 400, "VALIDATION_ERROR")
    assert "role" in body["details"]


def test_a_body_over_the_limit_is_413(client):
    response = client.post(
        "/api/users", data=b'{"name": "' + b"x" * 70_000 + b'"}', content_type="application/json"
    )

    _assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")


def test_bad_paging_arguments_are_a_400(client):
    response = client.get("/api/products?per_page=1000")

    body = _assert_envelope(response, 400, "VALIDATION_ERROR")
    assert "per_page" in body["details"]


def test_an_unreachable_broker_is_a_fast_503(client):
    _assert_envelope(client.get("/api/products/1"), 503, "SERVICE_UNAVAILABLE")


def test_an_unexpected_exception_is_a_generic_500_without_a_traceback(app):
    @app.get("/boom")
    def boom():
        raise RuntimeError("database password is hunter2")

    response = app.test_client().get("/boom")

    body = _assert_envelope(response, 500, "INTERNAL_ERROR")
    assert "hunter2" not in response.get_data(as_text=True)
    assert "Traceback" not in body["message"]


def test_a_sane_incoming_request_id_is_kept_and_a_strange_one_replaced(client):
    kept = client.get("/health/live", headers={"X-Request-ID": "abc-123"})
    replaced = client.get("/health/live", headers={"X-Request-ID": "<script>"})

    assert kept.headers["X-Request-ID"] == "abc-123"
    assert replaced.headers["X-Request-ID"] != "<script>"
    assert len(replaced.headers["X-Request-ID"]) == 32


@pytest.mark.parametrize("field", ["role", "status"])
def test_a_customer_may_not_send_admin_only_fields_about_themselves(client, field):
    response = client.patch(
        "/api/users/7",
        json={field: "admin" if field == "role" else "active"},
        headers=bearer(make_token(sub="7")),
    )

    _assert_envelope(response, 403, "FORBIDDEN")


def test_a_nul_character_in_any_text_is_a_400_before_any_service_sees_it(client):
    response = client.post(
        "/api/users", json={"email": "a@example.com", "name": "A\u0000", "password": "long-enough"}
    )

    body = _assert_envelope(response, 400, "VALIDATION_ERROR")
    assert "NUL" in body["details"]["body"][0]
