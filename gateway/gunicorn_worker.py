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
Where a request ends is gateway/request_framing.py's to say; the refusals are written
by gateway/refusals.py.

This subclasses gunicorn's internals: gunicorn is pinned (constraints.txt), and
tests/e2e/security/test_slow_clients.py fails if an upgrade changes them.
"""

import contextlib
import errno
import http
import selectors
import socket
import time
from functools import partial

import gunicorn
from gunicorn.workers import gthread

from gateway import settings
from gateway.refusals import TIMED_OUT, CapturedErrorPage, Refusal, error_response
from gateway.request_framing import WAIT, Framing
from shop.contract import REFUSAL_CODES

if gunicorn.version_info[:1] != (27,):  # the internals below are gunicorn 27's
    raise ImportError(f"gateway.gunicorn_worker needs gunicorn 27, not {gunicorn.__version__}")

READ_TIMEOUT = settings.from_env("READ_TIMEOUT")
# After a last answer: how long, and how much, the client's side is drained.
LINGER_SECONDS = 2.0
LINGER_BYTES = 64 * 1024

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


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
        if conn.held:  # a pipelined request read ahead: nothing to wait for
            self._advance(conn)
        else:
            # Mostly a kept-alive connection the loop has just seen readable: its
            # request is read now, not after one more turn of the loop.
            self._readable(conn)

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

    def _readable(self, conn, _sock=None):
        data = _receive(conn.sock)
        if data == b"":  # the client is gone: its request can never complete
            self._stop_reading(conn)
            self.nr_conns -= 1
            conn.close()
            return
        if data:
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
        page = CapturedErrorPage()
        super().handle_error(req, page, addr, exc)
        status = page.status()
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Error"
        try:
            client.sendall(error_response(status, REFUSAL_CODES.get(status, "HTTP_ERROR"), reason))
        except OSError:
            self.log.debug("Failed to send error message.")


def _receive(sock):
    """What a client sent: bytes, b"" once it is gone, or None while nothing waits."""
    try:
        return sock.recv(65536)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError:
        return b""
