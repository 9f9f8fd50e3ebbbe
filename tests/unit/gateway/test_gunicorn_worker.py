"""The worker's reading of request framing (gateway/request_framing.py): when a request is
all there, when to wait, and what it refuses itself rather than hand to a thread; and
its event loop's reading of a connection until the request is all there."""

import json
import logging
import os
import selectors
import socket

import pytest
from gunicorn.config import Config
from gunicorn.workers import gthread

from gateway.gunicorn_worker import BufferedConn, BufferingThreadWorker
from gateway.refusals import BAD_CHUNK, HEAD_TOO_LARGE, TOO_LARGE, error_response
from gateway.request_framing import READY, WAIT, Framing

GET = b"GET /api/products HTTP/1.1\r\nHost: shop\r\n\r\n"
POST = b"POST /api/users HTTP/1.1\r\nHost: shop\r\n"


def _chunked(body):
    """A POST whose body, ``body`` as sent, is chunked."""
    return POST + b"Transfer-Encoding: chunked\r\n\r\n" + body


def _state(data, **limits):
    return Framing(**{"max_body": 100, "max_head": 1000, **limits}).state(bytearray(data))


def _fed_a_byte_at_a_time(data, **limits):
    framing, held, states = Framing(max_body=100, max_head=1000, **limits), bytearray(), []
    for byte in data:
        held.append(byte)
        states.append(framing.state(held))
    return states


@pytest.mark.parametrize(
    ("data", "state"),
    [
        (GET, READY),
        (GET[:-1], WAIT),
        (GET + b"GET /next", READY),  # a pipelined request after it: this one is whole
        (POST + b"Content-Length: 5\r\n\r\n{}", WAIT),
        (POST + b"Content-Length: 5\r\n\r\n{}   ", READY),
        (POST + b"Content-Length: 101\r\n\r\n", TOO_LARGE),
        (_chunked(b"2\r\n{}\r\n0\r\n\r\n"), READY),
        (_chunked(b"2\r\n{}\r\n0\r\n"), WAIT),
        (_chunked(b"2\r\n{"), WAIT),
        (_chunked(b"2;name=value\r\n{}\r\n0\r\n\r\n"), READY),
        (_chunked(b"65\r\n"), TOO_LARGE),
        (_chunked(b"1" + b"0" * 40 + b"\r\n"), TOO_LARGE),
        (_chunked(b"32\r\n" + b"x" * 50 + b"\r\n"), WAIT),
        (_chunked(b"zz\r\n"), BAD_CHUNK),
        (_chunked(b"\r\n"), BAD_CHUNK),
        (_chunked(b"2;a b\r\n{}\r\n0\r\n\r\n"), BAD_CHUNK),
        (_chunked(b"2\r\n{}XX0\r\n\r\n"), BAD_CHUNK),
        (_chunked(b"0\r\nX-Trailer: 1\r\n\r\n"), BAD_CHUNK),
        (_chunked(b"1" * 9000), BAD_CHUNK),
        # Framing gunicorn's parser refuses from the head alone: handed to it at once.
        (POST + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", READY),
        (POST + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\n", READY),
        (POST + b"Content-Length: +5\r\n\r\n", READY),
        (POST + b"Content-Length: 5, 5\r\n\r\n", READY),
        (POST + b"Transfer-Encoding: xchunked\r\n\r\n", READY),
        (POST + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", READY),
        (POST.replace(b"1.1", b"1.0") + b"Transfer-Encoding: chunked\r\n\r\n", READY),
        (POST + b"X-Note: a\r\n b\r\nContent-Length: 5\r\n\r\n", READY),
        (POST + b"Content-Length : 5\r\n\r\n", READY),
        (b"POST / HTTP/1.1\nHost: shop\nContent-Length: 5\n\n", READY),
        # Heads too long: a request line is gunicorn's (414), the rest ours (431).
        (b"GET /" + b"a" * 5000, READY),
        (b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 200, HEAD_TOO_LARGE),
    ],
)
def test_framing(data, state):
    assert _state(data) == state


@pytest.mark.parametrize(
    "data",
    [
        GET,
        POST + b"Content-Length: 5\r\n\r\n{}   ",
        _chunked(b"2\r\n{}\r\n3;x=1\r\n   \r\n0\r\n\r\n"),
    ],
)
def test_a_request_sent_a_byte_at_a_time_is_ready_at_its_last_byte_and_not_before(data):
    states = _fed_a_byte_at_a_time(data)

    assert states[:-1] == [WAIT] * (len(data) - 1)
    assert states[-1] == READY


def test_only_an_http_1_1_request_with_expect_100_continue_expects_it():
    expects = Framing()
    expects.state(bytearray(POST + b"Expect: 100-continue\r\nContent-Length: 5\r\n\r\n"))
    http10 = Framing()
    http10.state(
        bytearray(b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
    )

    assert (expects.expects_continue, http10.expects_continue) == (True, False)


def test_the_workers_own_answers_carry_the_gateways_error_envelope():
    response = error_response(408, "REQUEST_TIMEOUT", "The request took too long to arrive")

    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert lines[0] == "HTTP/1.1 408 Request Timeout"
    assert headers["Connection"] == "close"
    assert headers["Content-Type"] == "application/json"
    assert int(headers["Content-Length"]) == len(body)
    envelope = json.loads(body)
    assert envelope["request_id"] == headers["X-Request-ID"]
    assert envelope == {
        "error": "REQUEST_TIMEOUT",
        "message": "The request took too long to arrive",
        "details": {},
        "request_id": envelope["request_id"],
    }


@pytest.fixture
def worker(monkeypatch):
    """A ``BufferingThreadWorker`` with its event loop's poller, whose hand-offs to a
    thread are recorded instead of run."""
    handed = []
    monkeypatch.setattr(gthread.ThreadWorker, "enqueue_req", lambda _, conn: handed.append(conn))
    worker = BufferingThreadWorker(0, os.getpid(), [], None, 30, Config(), logging.getLogger())
    worker.poller = selectors.DefaultSelector()
    worker.handed = handed
    yield worker
    worker.poller.close()
    worker.tmp.close()


@pytest.fixture
def connection(worker):
    """A kept-alive connection to ``worker``, and the client's end of it."""
    server_end, client_end = socket.socketpair()
    conn = BufferedConn(worker.cfg, server_end, ("127.0.0.1", 1), ("127.0.0.1", 2), worker)
    yield conn, client_end
    server_end.close()
    client_end.close()


def test_a_kept_alive_request_that_has_arrived_goes_to_a_thread_without_another_turn_of_the_loop(
    worker, connection
):
    conn, client = connection
    client.sendall(GET)

    worker.enqueue_req(conn)  # as the loop calls it once it sees the connection readable

    assert worker.handed == [conn]
    assert conn.held == bytearray(GET)
    assert not worker.poller.get_map()  # nothing left to wait for


def test_a_connection_whose_request_is_not_all_there_is_read_in_the_loop_until_it_is(
    worker, connection
):
    conn, client = connection
    client.sendall(GET[:10])

    worker.enqueue_req(conn)
    assert worker.handed == []
    assert conn.sock in [key.fileobj for key in worker.poller.get_map().values()]

    client.sendall(GET[10:])
    for key, _ in worker.poller.select(timeout=5):
        key.data(key.fileobj)
    assert worker.handed == [conn]
    assert not worker.poller.get_map()


def test_a_connection_closed_by_its_client_is_closed_in_the_loop(worker, connection):
    conn, client = connection
    worker.nr_conns = 1
    client.close()

    worker.enqueue_req(conn)

    assert worker.handed == []
    assert worker.nr_conns == 0
    assert conn.sock.fileno() == -1
