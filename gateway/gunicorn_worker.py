"""gunicorn's threaded worker, made safe against slow and lingering clients.

gunicorn 27's ``gthread`` worker hands a new connection to one of its threads, which
waits up to 5 s for a first byte and then for the rest of the request, for as long as
the client takes: a client sending a byte a second holds a thread as long as it likes,
and workers x threads such clients hold them all (slowloris). And when it closes a
connection it will not keep alive, it waits up to 2 s for the client to close too, in
the worker's one event-loop thread, where meanwhile nothing else happens.

``BufferingThreadWorker`` (``worker_class`` in gateway/gunicorn_conf.py):

- reads every request in the event loop, without blocking, and hands it to a thread
  only once it is all there: the head, and the body as ``Content-Length`` or the
  chunked framing says. Framing that is ambiguous or malformed goes to gunicorn's
  parser at once, which refuses it;
- gives each request ``GATEWAY_READ_TIMEOUT`` seconds (10) to arrive, from the
  connection's opening or, on a kept-alive connection, from its first byte; then
  answers 408 (a connection that sent nothing is just closed);
- answers 413 for a body over ``MAX_BODY_BYTES``, declared or sent chunked, and 431
  for a head over 64 KiB, without reading further;
- after a last answer, shuts its side and drains the client's for at most 2 s,
  among the loop's other events, instead of blocking the loop;
- answers gunicorn's own refusals (400, 414, 431, 501...) with the gateway's JSON
  error envelope rather than gunicorn's HTML page.

Threads still bound each socket read and write by ``GATEWAY_READ_TIMEOUT``, in case.
This subclasses gunicorn's internals: gunicorn is pinned (constraints.txt), and
tests/e2e/security/test_slow_clients.py fails if an upgrade changes them.
"""

import contextlib
import errno
import http
import json
import re
import selectors
import socket
import time
import uuid
from dataclasses import dataclass
from functools import partial

import gunicorn
from gunicorn.http.body import CHUNK_EXT_RE
from gunicorn.workers import gthread

from gateway import settings

if gunicorn.version_info[:1] != (27,):  # the internals below are gunicorn 27's
    raise ImportError(f"gateway.gunicorn_worker needs gunicorn 27, not {gunicorn.__version__}")

READ_TIMEOUT = settings.from_env("READ_TIMEOUT")
MAX_BODY_BYTES = settings.from_env("MAX_CONTENT_LENGTH")
MAX_HEAD_BYTES = 64 * 1024
# After a last answer: how long, and how much, the client's side is drained.
LINGER_SECONDS = 2.0
LINGER_BYTES = 64 * 1024

_DIGITS = re.compile(rb"[0-9]{1,18}")
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str


READY, WAIT = "ready", "wait"
TIMED_OUT = Refusal(408, "REQUEST_TIMEOUT", "The request took too long to arrive")
TOO_LARGE = Refusal(413, "PAYLOAD_TOO_LARGE", "The request body is too large")
HEAD_TOO_LARGE = Refusal(431, "HEADERS_TOO_LARGE", "The request headers are too large")
BAD_CHUNK = Refusal(400, "BAD_REQUEST", "Invalid chunked body")

# gunicorn's own refusals, by status: the error code of the JSON envelope.
ERROR_CODES = {
    400: "BAD_REQUEST",
    403: "FORBIDDEN",
    408: "REQUEST_TIMEOUT",
    413: "PAYLOAD_TOO_LARGE",
    414: "URI_TOO_LONG",
    417: "EXPECTATION_FAILED",
    431: "HEADERS_TOO_LARGE",
    500: "INTERNAL_ERROR",
    501: "NOT_IMPLEMENTED",
}


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


class Framing:
    """Where the request at the start of a buffer ends, worked out as its bytes arrive.

    ``state(data)`` is ``READY`` when the request is all there, or when its framing is
    one gunicorn's parser refuses (the parser has what it needs to say so), ``WAIT``
    for more bytes, or a ``Refusal``. Each call carries on from where the last stopped,
    so a request that arrives a byte at a time costs no more to follow than one that
    arrives at once.
    """

    def __init__(
        self, max_body=MAX_BODY_BYTES, max_head=MAX_HEAD_BYTES, max_line=4094, max_chunk_line=8190
    ):
        self.max_body, self.max_head = max_body, max_head
        self.max_line, self.max_chunk_line = max_line, max_chunk_line
        self.expects_continue = False
        self._searched = 0  # bytes searched for the end of the head
        self.body_start = None  # where the body starts, once the head is complete
        self._length = None  # Content-Length
        self._chunk = None  # chunked: where the next chunk-size line starts
        self._received = 0  # chunked: data bytes so far

    def state(self, data):
        if self.body_start is None:
            outcome = self._head(data)
            if outcome is not None:
                return outcome
        if self._length is not None:
            return READY if len(data) - self.body_start >= self._length else WAIT
        if self._chunk is not None:
            return self._chunks(data)
        return READY

    def _head(self, data):
        start = max(0, self._searched - 3)
        crlf, lf = data.find(b"\r\n\r\n", start), data.find(b"\n\n", start)
        self._searched = len(data)
        if lf >= 0 and (crlf < 0 or lf < crlf):
            return READY  # bare line feeds: gunicorn's to judge, with the whole head
        if crlf < 0:
            if len(data) <= self.max_head:
                return WAIT
            line_end = data.find(b"\n")
            # A long request line is gunicorn's 414; a long head otherwise is ours.
            too_long_line = (line_end if line_end >= 0 else len(data)) > self.max_line
            return READY if too_long_line else HEAD_TOO_LARGE
        self.body_start = crlf + 4
        return self._headers(bytes(data[:crlf]).split(b"\r\n"))

    def _headers(self, lines):
        lengths, codings, http10 = [], [], lines[0].endswith(b"HTTP/1.0")
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if (
                not colon
                or not name
                or name != name.strip()
                or b"\r" in line
                or b"\n" in line
                or b"\x00" in line
            ):
                return READY  # obs-fold, a bare CR, a space before the colon...: refused
            name, value = name.lower(), value.strip(b" \t")
            if name == b"content-length":
                lengths.append(value)
            elif name == b"transfer-encoding":
                codings.append(value)
            elif name == b"expect" and value.lower() == b"100-continue":
                self.expects_continue = not http10
        if codings:
            if lengths or http10 or len(codings) != 1 or codings[0].lower() != b"chunked":
                return READY  # both framings, chunked in HTTP/1.0, another coding: refused
            self._chunk = self.body_start
            return None
        if lengths:
            if len(lengths) > 1 or not _DIGITS.fullmatch(lengths[0]):
                return READY  # two lengths, a sign, a list: refused
            self._length = int(lengths[0])
            if self._length > self.max_body:
                return TOO_LARGE
        return None

    def _chunks(self, data):
        # gunicorn's rules (gunicorn/http/body.py, ChunkedReader), checked here because
        # its refusals would come up inside the app, as it reads the body, as a 500.
        while True:
            line_end = data.find(b"\r\n", self._chunk)
            if line_end < 0:
                return WAIT if len(data) - self._chunk <= self.max_chunk_line else BAD_CHUNK
            size, *extension = bytes(data[self._chunk : line_end]).split(b";", 1)
            if extension:
                if b"\r" in extension[0] or not CHUNK_EXT_RE.fullmatch(b";" + extension[0]):
                    return BAD_CHUNK
                size = size.rstrip(b" \t")
            if not size or size.strip(b"0123456789abcdefABCDEF"):
                return BAD_CHUNK
            size = int(size, 16)
            if size == 0:
                # The last chunk, then an empty line: no trailer fields, which no
                # client of this API sends and whose faults gunicorn finds late.
                after = data[line_end + 2 : line_end + 4]
                if after == b"\r\n":
                    return READY
                return WAIT if after in (b"", b"\r") else BAD_CHUNK
            self._received += size
            if self._received > self.max_body:
                return TOO_LARGE
            end = line_end + 2 + size
            if len(data) < end + 2:
                return WAIT
            if data[end : end + 2] != b"\r\n":
                return BAD_CHUNK
            self._chunk = end + 2


class BufferedConn(gthread.TConn):
    """A connection that holds the bytes the event loop read for its next request."""

    def __init__(self, cfg, sock, client, server, worker):
        super().__init__(cfg, sock, client, server)
        self.worker = worker
        self.held = bytearray()
        self.framing = None
        self.deadline = None

    def init(self):
        # In the thread, every time it takes the connection (gunicorn's init only
        # makes the parser the first time). The held bytes go to the parser, and
        # reads and writes in the thread get a timeout.
        super().init()
        if self.held:
            self.parser.unreader.unread(bytes(self.held))
            self.held.clear()
        self.sock.settimeout(READ_TIMEOUT)

    def take_buffered(self):
        """Move what the parser read ahead (the next pipelined request) to ``held``."""
        if self.parser is not None:
            self.held[:0] = self.parser.unreader.take_buffered()

    def close(self, graceful=False):
        if graceful:  # gunicorn's would block the event loop for up to 2 s
            self.worker.linger(self)
        else:
            super().close()


class BufferingThreadWorker(gthread.ThreadWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reading = {}  # connection -> True: those the loop reads a request for
        self.lingering = {}  # connection -> when to close it at the latest

    # -- connections in ----------------------------------------------------

    def accept(self, listener):
        try:
            sock, client = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = BufferedConn(self.cfg, sock, client, listener.getsockname(), self)
        conn.deadline = time.monotonic() + READ_TIMEOUT  # a new connection's clock starts now
        self.enqueue_req(conn)

    def enqueue_req(self, conn):
        """Every way to a thread passes here, in the event loop: a new connection, a
        kept-alive one that became readable, one with a pipelined request read ahead."""
        conn.sock.setblocking(False)  # the loop never waits on a client
        conn.take_buffered()
        self._advance(conn)

    def _advance(self, conn):
        if conn.framing is None:
            conn.framing = Framing(
                max_line=self.cfg.limit_request_line or 8190,
                max_chunk_line=self.cfg.limit_request_field_size or 8190,
            )
            if conn.deadline is None:
                conn.deadline = time.monotonic() + READ_TIMEOUT
        state = conn.framing.state(conn.held)
        if state is WAIT:
            self._continue_if_expected(conn)
            self._read(conn)
            return
        self._stop_reading(conn)
        if isinstance(state, Refusal):
            self.refuse(conn, state)
            return
        conn.framing, conn.deadline = None, None
        conn.data_ready = True  # gunicorn's thread must not wait for the socket
        super().enqueue_req(conn)

    def _continue_if_expected(self, conn):
        framing = conn.framing
        if framing.expects_continue and framing.body_start == len(conn.held):
            # The client waits for this before it sends the body. gunicorn sends
            # another when it reads the body: two 100s are allowed (RFC 9110, 15.2).
            framing.expects_continue = False
            with contextlib.suppress(OSError):
                conn.sock.send(_CONTINUE)

    def _read(self, conn):
        if conn not in self.reading:
            self.reading[conn] = True
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._readable, conn))

    def _stop_reading(self, conn):
        if self.reading.pop(conn, False):
            self.poller.unregister(conn.sock)

    def _readable(self, conn, _sock):
        if (data := _receive(conn.sock)) is None:
            return
        if not data:  # the client is gone: its request can never complete
            self._stop_reading(conn)
            self.nr_conns -= 1
            conn.close()
            return
        conn.held += data
        self._advance(conn)

    # -- connections out ---------------------------------------------------

    def refuse(self, conn, refusal):
        """Answer ``refusal`` from the event loop and close the connection."""
        self.nr_conns -= 1
        try:
            conn.sock.setblocking(False)
            conn.sock.send(error_response(refusal.status, refusal.code, refusal.message))
        except OSError:
            pass
        self.linger(conn)

    def linger(self, conn):
        """Close after a last answer without the reset that would lose it: stop
        writing, then read and drop what the client still sends, until it closes,
        LINGER_BYTES or LINGER_SECONDS, among the loop's other events."""
        try:
            conn.sock.setblocking(False)
            conn.sock.shutdown(socket.SHUT_WR)
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._drain, conn))
        except (OSError, ValueError, KeyError):
            gthread.TConn.close(conn)
            return
        conn.drained = 0
        self.lingering[conn] = time.monotonic() + LINGER_SECONDS

    def _drain(self, conn, _sock):
        if (data := _receive(conn.sock)) is None:
            return
        conn.drained += len(data)
        if not data or conn.drained >= LINGER_BYTES:
            self._end_linger(conn)

    def _end_linger(self, conn):
        if self.lingering.pop(conn, None) is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.poller.unregister(conn.sock)
            gthread.TConn.close(conn)

    def murder_pending(self):
        """Each turn of the loop: requests out of time, and lingering connections."""
        super().murder_pending()
        now = time.monotonic()
        for conn in list(self.reading):
            if conn.deadline <= now or (not self.alive and not conn.held):
                self._stop_reading(conn)
                if conn.held:
                    self.refuse(conn, TIMED_OUT)
                else:  # never said a word (or the worker is stopping): nothing to answer
                    self.nr_conns -= 1
                    conn.close()
        for conn, until in list(self.lingering.items()):
            if until <= now:
                self._end_linger(conn)

    # -- gunicorn's own refusals ---------------------------------------------

    def handle_error(self, req, client, addr, exc):
        """gunicorn's mapping and logging of a refused request, the gateway's JSON."""
        page = _Captured()
        super().handle_error(req, page, addr, exc)
        status = page.status()
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Error"
        try:
            client.sendall(error_response(status, ERROR_CODES.get(status, "HTTP_ERROR"), reason))
        except OSError:
            self.log.debug("Failed to send error message.")


class _Captured:
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


def _receive(sock):
    """What a client sent: bytes, b"" once it is gone, or None while nothing waits."""
    try:
        return sock.recv(65536)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError:
        return b""
