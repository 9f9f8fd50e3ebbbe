"""Requests too big to read: a body over MAX_BODY_BYTES, headers over gunicorn's
limit_request_field_size / limit_request_fields, a request line over limit_request_line.

Each gets its status with the gateway's JSON error envelope, as DESIGN.md promises for
every error ("never an HTML error page"), including the three gunicorn answers itself
before the request reaches Flask, and the connection is closed after them.
"""

import pytest

from tests.e2e.security.conftest import send_raw

MAX_BODY_BYTES = 4096
ENVELOPE = {"error", "message", "details", "request_id"}


@pytest.fixture
def small_api(shop_runner, start_gateway):
    return start_gateway(MAX_BODY_BYTES=MAX_BODY_BYTES)


def _assert_envelope(response, status, code):
    assert response.status == status, response
    assert response.headers["content-type"] == "application/json", response
    body = response.json()
    assert set(body) == ENVELOPE, body
    assert body["error"] == code, body
    assert body["request_id"] == response.headers["x-request-id"], response
    return body


def test_a_body_over_max_body_bytes_is_413_json(small_api):
    padding = "x" * MAX_BODY_BYTES
    body = f'{{"email": "a@example.com", "name": "{padding}", "password": "long-enough"}}'.encode()

    declared = send_raw(
        small_api,
        b"POST /api/users HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body,
    )
    chunked = send_raw(
        small_api,
        b"POST /api/users HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        + f"{len(body):x}\r\n".encode()
        + body
        + b"\r\n0\r\n\r\n",
    )

    for responses in (declared, chunked):
        assert len(responses) == 1, responses
        _assert_envelope(responses[0], 413, "PAYLOAD_TOO_LARGE")
    assert small_api.get("/api/users/me").status_code == 401  # still serving


def test_a_body_just_under_the_limit_is_read(small_api):
    name = "x" * 100
    body = f'{{"email": "a@example.com", "name": "{name}", "password": "long-enough"}}'

    response = small_api.post(
        "/api/users", data=body.ljust(MAX_BODY_BYTES), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 201, response.text


def _request(line=b"GET /api/products HTTP/1.1", headers=()):
    head = [line, b"Host: shop", *headers]
    return b"\r\n".join(head) + b"\r\n\r\n"


@pytest.mark.parametrize(
    ("name", "request_bytes", "status", "code"),
    [
        (
            "a header over limit_request_field_size (8190)",
            _request(headers=[b"X-Big: " + b"a" * 9000]),
            431,
            "HEADERS_TOO_LARGE",
        ),
        (
            "more headers than limit_request_fields (100)",
            _request(headers=[f"X-H{i}: v".encode() for i in range(120)]),
            431,
            "HEADERS_TOO_LARGE",
        ),
        (
            "a request line over limit_request_line (4094)",
            _request(line=b"GET /api/products?q=" + b"a" * 5000 + b" HTTP/1.1"),
            414,
            "URI_TOO_LONG",
        ),
    ],
)
def test_requests_over_gunicorns_limits_get_its_status_as_json(
    api, name, request_bytes, status, code
):
    # Sent twice on one connection: gunicorn must answer the first and close.
    responses = send_raw(api, request_bytes + _request(line=b"GET /api/smuggled HTTP/1.1"))

    assert len(responses) == 1, (name, responses)
    _assert_envelope(responses[0], status, code)
    assert responses[0].headers.get("connection") == "close"
