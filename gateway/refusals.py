"""The answers the server writes itself, outside Flask, in the gateway's JSON error envelope.

The worker (gateway/gunicorn_worker.py) refuses a request that arrives too slowly,
too large or badly framed before any thread or Flask sees it, and answers gunicorn's
own refusals (400, 414, 431, 501...) too: with the envelope the app's errors use
(gateway/http_errors.py), rather than gunicorn's HTML page.
"""

import http
import json
import uuid
from dataclasses import dataclass

from shop.contract import REFUSAL_CODES


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str


TIMED_OUT = Refusal(408, REFUSAL_CODES[408], "The request took too long to arrive")
TOO_LARGE = Refusal(413, REFUSAL_CODES[413], "The request body is too large")
HEAD_TOO_LARGE = Refusal(431, REFUSAL_CODES[431], "The request headers are too large")
BAD_CHUNK = Refusal(400, REFUSAL_CODES[400], "Invalid chunked body")


def error_response(status, code, message):
    """A whole HTTP/1.1 response with the gateway's error envelope; the connection closes."""
    request_id = uuid.uuid4().hex
    body = json.dumps(
        {"error": code, "message": message, "details": {}, "request_id": request_id}
    ).encode()
    head = (
        f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n"
        f"X-Request-ID: {request_id}\r\n\r\n"
    )
    return head.encode("latin-1") + body


class CapturedErrorPage:
    """Stands in for the client socket while gunicorn writes its HTML error page."""

    def __init__(self):
        self.data = b""

    def gettimeout(self):
        return 0.0

    def setblocking(self, _flag):
        pass

    def sendall(self, data):
        self.data += data

    send = sendall

    def status(self):
        try:
            return int(self.data.split(b" ", 2)[1])
        except (IndexError, ValueError):
            return 500
