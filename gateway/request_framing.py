"""Where the request at the start of a buffer ends: the worker's reading of HTTP/1.1 framing.

The worker (gateway/gunicorn_worker.py) hands a request to a thread only once it
is all there; ``Framing`` says when that is, by gunicorn's own rules, as the bytes
arrive.
"""

import re

from gunicorn.http.body import CHUNK_EXT_RE

from gateway import settings
from gateway.refusals import BAD_CHUNK, HEAD_TOO_LARGE, TOO_LARGE

MAX_BODY_BYTES = settings.from_env("MAX_CONTENT_LENGTH")
MAX_HEAD_BYTES = 64 * 1024
READY, WAIT = "ready", "wait"

_DIGITS = re.compile(rb"[0-9]{1,18}")


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
