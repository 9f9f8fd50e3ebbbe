"""Slow clients must not tie up the gateway's threads (slowloris).

gunicorn's gthread worker reads each request in one of its threads, and once a request's
first byte has arrived that thread waits for the rest for as long as the client takes.
A client sending its body a byte a second holds a thread for as long as it likes, and
workers x threads such clients hold them all. The gateway's worker
(gateway/gunicorn_worker.py) reads requests in the worker's event loop instead, and hands
a request to a thread only once it is all there; a request not all there
GATEWAY_READ_TIMEOUT seconds after its first byte (or its connection) gets 408.
"""

import select
import socket
import threading
import time

import requests

from tests.e2e.security.conftest import address, read_responses

WORKERS, THREADS = 2, 2
READ_TIMEOUT = 4
SLOW_CLIENTS = 4 * WORKERS * THREADS
HEAD = (
    b"POST /api/auth/token HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\n"
    b"Content-Length: 60\r\n\r\n"
)


class SlowClient(threading.Thread):
    """Sends ``head`` at once, then ``trickle`` a byte every ``interval`` seconds;
    records what came back and when."""

    def __init__(self, gateway, head, trickle=b"x" * 60, interval=1.0):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(address(gateway), timeout=30)
        self.head, self.trickle, self.interval = head, trickle, interval
        self.started = time.monotonic()
        self.responses, self.answered_after = None, None

    def run(self):
        try:
            self.sock.sendall(self.head)
            for byte in self.trickle:
                # Stop sending once the server has said something (or closed).
                if select.select([self.sock], [], [], self.interval)[0]:
                    break
                self.sock.sendall(bytes([byte]))
        except OSError:
            pass  # the server gave up on us: what it said is read below
        self.responses = read_responses(self.sock, timeout=30)
        self.answered_after = time.monotonic() - self.started
        self.sock.close()


def _timed_get(api, path):
    started = time.monotonic()
    response = requests.get(api.base_url + path, headers={"Connection": "close"}, timeout=10)
    return response.status_code, time.monotonic() - started


def test_slow_bodies_on_every_thread_leave_normal_requests_answered_promptly(
    shop_runner, start_gateway
):
    api = start_gateway(
        GATEWAY_WORKERS=WORKERS, GATEWAY_THREADS=THREADS, GATEWAY_READ_TIMEOUT=READ_TIMEOUT
    )
    slow = [SlowClient(api, HEAD) for _ in range(SLOW_CLIENTS)]
    for client in slow:
        client.start()
    time.sleep(1.5)  # every slow client has sent its headers and a byte or two

    answers = [_timed_get(api, "/api/products") for _ in range(6)]

    assert [status for status, _ in answers] == [200] * 6
    assert max(seconds for _, seconds in answers) < 1.0, answers
    for client in slow:
        client.join(timeout=30)
    # Each slow client got a 408 once its request had taken GATEWAY_READ_TIMEOUT.
    for client in slow:
        assert [r.status for r in client.responses] == [408], client.responses
        assert client.responses[0].json()["error"] == "REQUEST_TIMEOUT"
        assert READ_TIMEOUT - 0.5 < client.answered_after < READ_TIMEOUT + 2.5


def test_slow_headers_and_silent_connections_leave_normal_requests_answered_promptly(
    shop_runner, start_gateway
):
    api = start_gateway(
        GATEWAY_WORKERS=WORKERS, GATEWAY_THREADS=THREADS, GATEWAY_READ_TIMEOUT=READ_TIMEOUT
    )
    # Classic slowloris: the request line, then headers that never end.
    headers = [
        SlowClient(api, b"GET /api/products HTTP/1.1\r\n", trickle=b"X-a: b\r\n" * 4)
        for _ in range(SLOW_CLIENTS // 2)
    ]
    # Connected, and silent.
    silent = [SlowClient(api, b"", trickle=b"") for _ in range(SLOW_CLIENTS // 2)]
    for client in headers + silent:
        client.start()
    time.sleep(1.5)

    answers = [_timed_get(api, "/api/products") for _ in range(6)]

    assert [status for status, _ in answers] == [200] * 6
    assert max(seconds for _, seconds in answers) < 1.0, answers
    for client in headers + silent:
        client.join(timeout=30)
    assert {tuple(r.status for r in c.responses) for c in headers} == {(408,)}
    # A connection that never sent a byte is closed without a word, as it came.
    assert {tuple(c.responses) for c in silent} == {()}
    assert all(c.answered_after < READ_TIMEOUT + 2.5 for c in headers + silent)


def test_a_slow_client_within_the_read_timeout_is_served(shop_runner, start_gateway):
    api = start_gateway(GATEWAY_READ_TIMEOUT=READ_TIMEOUT)
    body = b'{"email": "nobody@example.com", "password": "wrong-password"}'
    head = (
        b"POST /api/auth/token HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
    )
    client = SlowClient(api, head, trickle=body, interval=1.5 / len(body))

    client.run()

    assert [r.status for r in client.responses] == [401]  # its answer, not a timeout


def test_clients_that_never_close_after_their_answer_do_not_stall_the_server(
    shop_runner, start_gateway
):
    # gunicorn closes a connection it will not keep alive "gracefully": it stops
    # writing, then waits up to 2 s for the client to close, in the worker's one event
    # loop thread, where nothing else happens meanwhile.
    api = start_gateway(GATEWAY_WORKERS=1, GATEWAY_THREADS=THREADS)
    lingering = []
    for request in [b"NOT HTTP AT ALL\r\n\r\n", b"GET /health/live HTTP/1.0\r\n\r\n"] * 3:
        sock = socket.create_connection(address(api), timeout=10)
        sock.sendall(request)
        lingering.append(sock)  # never read, never closed

    try:
        answers = [_timed_get(api, "/health/live") for _ in range(3)]
    finally:
        for sock in lingering:
            sock.close()

    assert [status for status, _ in answers] == [200] * 3
    assert max(seconds for _, seconds in answers) < 1.0, answers


def test_a_client_that_waits_for_100_continue_gets_it_and_then_its_answer(api):
    body = b'{"email": "nobody@example.com", "password": "wrong-password"}'
    head = (
        b"POST /api/auth/token HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n".encode()
        + b"Connection: close\r\n\r\n"
    )
    with socket.create_connection(address(api), timeout=10) as sock:
        sock.sendall(head)
        # The body only once the server asked for it, as curl does.
        interim = sock.recv(4096)
        sock.sendall(body)
        responses = read_responses(sock, timeout=10)

    assert interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
    # gunicorn says it again as the app reads the body: a client takes any number.
    statuses = [r.status for r in responses]
    assert [s for s in statuses if s != 100] == [401]
