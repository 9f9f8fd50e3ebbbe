"""A body of unknown length (chunked) over MAX_BODY_BYTES is a 413, as one that declares
its length is. werkzeug stops reading such a body at the limit without a word, and the
gateway used to parse the first MAX_BODY_BYTES as if they were the whole body."""

import io

import pytest

from gateway.app import create_app
from tests.unit.gateway.conftest import gateway_config

LIMIT = 100
# Valid JSON in its first LIMIT bytes, and more after them.
LOGIN = b'{"email": "a@example.com", "password": "long-enough"}'


@pytest.fixture
def client():
    app = create_app(gateway_config(MAX_CONTENT_LENGTH=LIMIT))
    return app.test_client()


def _post_chunked(client, body):
    return client.post(
        "/api/auth/token",
        input_stream=io.BytesIO(body),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        # What gunicorn says of a chunked body: the stream ends where the body does.
        environ_overrides={"wsgi.input_terminated": True},
    )


@pytest.mark.parametrize("extra", [b" ", b" " * 500 + b', "role": "admin"}'])
def test_a_chunked_body_over_the_limit_is_413_not_its_first_bytes(client, extra):
    body = LOGIN.ljust(LIMIT) + extra

    response = _post_chunked(client, body)

    assert response.status_code == 413
    assert response.json["error"] == "PAYLOAD_TOO_LARGE"


def test_a_chunked_body_of_exactly_the_limit_is_read(client):
    response = _post_chunked(client, LOGIN.ljust(LIMIT))

    # Past the body, to the users service, which is not there.
    assert response.status_code == 503
