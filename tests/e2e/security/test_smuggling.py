"""Request smuggling: framing that two HTTP parsers (a front proxy's and gunicorn's) could
read differently. Each shape must be refused with 400 and the JSON envelope (501 for a
transfer coding gunicorn does not know, 413 for a chunk larger than MAX_BODY_BYTES), with
nothing else answered on that connection, which is closed: the request hidden in the
body (GET /api/smuggled-...) must never reach the app, whose access log would show it.

Framing ambiguous from the head (both lengths, two lengths, obs-fold...) is refused by
gunicorn's parser; malformed chunks by the gateway's worker before the body is handed to
a thread (gateway/request_framing.py), as gunicorn finds them only while the app reads the
body, where they became 500s.
"""

import time

import pytest

from tests.e2e.security.conftest import send_raw

ENVELOPE = {"error", "message", "details", "request_id"}


def _smuggled(name):
    return f"GET /api/smuggled-{name} HTTP/1.1\r\nHost: shop\r\n\r\n".encode()


def _post(headers, body):
    head = b"POST /api/auth/token HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\n"
    return head + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body


def _shapes():
    hidden = _smuggled("x")
    cl = f"Content-Length: {len(hidden) + 5}".encode()  # covers "0\r\n\r\n" + the hidden one
    return {
        "Content-Length and Transfer-Encoding": _post(
            [cl, b"Transfer-Encoding: chunked"], b"0\r\n\r\n" + hidden
        ),
        "Transfer-Encoding and Content-Length": _post(
            [b"Transfer-Encoding: chunked", cl], b"0\r\n\r\n" + hidden
        ),
        "two Content-Lengths that differ": _post(
            [b"Content-Length: 0", cl], b"0\r\n\r\n" + hidden
        ),
        "two Content-Lengths in one header": _post(
            [b"Content-Length: 0, " + cl.split(b" ")[1]], b"0\r\n\r\n" + hidden
        ),
        "Content-Length with a sign": _post([b"Content-Length: +5"], b"0\r\n\r\n" + hidden),
        "chunked with an invalid chunk size": _post(
            [b"Transfer-Encoding: chunked"], b"zz\r\n" + hidden
        ),
        "chunked without the CRLF after the data": _post(
            [b"Transfer-Encoding: chunked"], b"2\r\n{}XX0\r\n\r\n" + hidden
        ),
        "chunked, bare LF line ends": _post(
            [b"Transfer-Encoding: chunked"], b"2\n{}\n0\n\n" + hidden
        ),
        "chunked, then another coding": _post(
            [b"Transfer-Encoding: chunked, identity"], b"0\r\n\r\n" + hidden
        ),
        "two Transfer-Encoding headers": _post(
            [b"Transfer-Encoding: chunked", b"Transfer-Encoding: identity"], b"0\r\n\r\n" + hidden
        ),
        "Transfer-Encoding with a space before the colon": _post(
            [b"Transfer-Encoding : chunked", cl], b"0\r\n\r\n" + hidden
        ),
        "Transfer-Encoding folded (obs-fold)": _post(
            [b"Transfer-Encoding: identity", b" chunked", cl], b"0\r\n\r\n" + hidden
        ),
        "a folded header (obs-fold)": _post([b"X-Note: a", b"\tb", cl], b"0\r\n\r\n" + hidden),
        "Transfer-Encoding in HTTP/1.0": _post(
            [b"Transfer-Encoding: chunked"], b"0\r\n\r\n" + hidden
        ).replace(b"HTTP/1.1", b"HTTP/1.0", 1),
        "a NUL in a header value": _post([b"X-Note: a\x00b", cl], b"0\r\n\r\n" + hidden),
        "a header name with a space": _post([b"X Note: a", cl], b"0\r\n\r\n" + hidden),
        "bare LF after the request line": _post([cl], b"0\r\n\r\n" + hidden).replace(
            b"HTTP/1.1\r\n", b"HTTP/1.1\n", 1
        ),
        "bare CR in a header": _post([b"X-Note: a\rb", cl], b"0\r\n\r\n" + hidden),
    }


SHAPES = _shapes()
# A chunk announcing 2**160 bytes: more than MAX_BODY_BYTES, refused as such.
TOO_LARGE = {
    "chunked with an overflowing chunk size": _post(
        [b"Transfer-Encoding: chunked"], b"1" + b"0" * 40 + b"\r\n" + _smuggled("x")
    ),
}
# A coding gunicorn does not implement: 501 Not Implemented.
UNKNOWN_CODINGS = {
    "Transfer-Encoding: xchunked": _post(
        [b"Transfer-Encoding: xchunked"], b"0\r\n\r\n" + _smuggled("x")
    ),
}


def _is_envelope(response):
    try:
        return set(response.json()) == ENVELOPE
    except ValueError:
        return False


def _logged_paths(api):
    # The app's access log lines are written as each request ends.
    time.sleep(0.2)
    return [r["path"] for r in api.log_records() if r.get("logger") == "gateway.access"]


@pytest.fixture
def gateway(shop_runner, start_gateway):
    return start_gateway(GATEWAY_WORKERS=1)


def test_a_valid_pipelined_request_is_answered_and_logged(gateway):
    # The control: the way these tests would see a smuggled request, if one got through.
    responses = send_raw(gateway, _smuggled("control") + _smuggled("control-2"))

    assert [r.status for r in responses] == [404, 404]
    assert {"/api/smuggled-control", "/api/smuggled-control-2"} <= set(_logged_paths(gateway))


def test_ambiguous_framing_is_refused_and_nothing_is_smuggled(gateway):
    answers = {}
    for name, request in {**SHAPES, **TOO_LARGE, **UNKNOWN_CODINGS}.items():
        responses = send_raw(
            gateway, request.replace(b"smuggled-x", f"smuggled-{len(answers)}".encode())
        )
        answers[name] = [
            (r.status, r.headers.get("content-type"), _is_envelope(r)) for r in responses
        ]
        if not responses.closed:
            answers[name].append("connection left open")

    expected = {name: [(400, "application/json", True)] for name in SHAPES}
    expected.update({name: [(413, "application/json", True)] for name in TOO_LARGE})
    expected.update({name: [(501, "application/json", True)] for name in UNKNOWN_CODINGS})
    assert answers == expected
    assert [p for p in _logged_paths(gateway) if "smuggled" in p] == []
