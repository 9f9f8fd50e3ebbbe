"""A command run on a pseudo-terminal, as in a user's terminal window: what it prints
is read as the user would see it, and lines can be typed into it."""

import fcntl
import os
import re
import signal
import struct
import subprocess
import termios
import threading
import time

# Colours, cursor moves and bracketed-paste switches (honcho, readline).
_ESCAPES = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|[=>])")


class Terminal:
    def __init__(self, argv, cwd, env, columns=1000):
        primary, secondary = os.openpty()
        # Wide, so that readline never wraps or scrolls a long line it echoes.
        fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
        self.process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=secondary,
            stdout=secondary,
            stderr=secondary,
            start_new_session=True,  # its own process group, signalled as one
        )
        os.close(secondary)
        self._primary = primary
        self._chunks = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        while True:
            try:
                data = os.read(self._primary, 65536)
            except OSError:  # EIO: every process holding the terminal has exited
                return
            if not data:
                return
            with self._lock:
                self._chunks.append(data)

    def output(self):
        """Everything shown so far, as text, with escape sequences and \\r removed."""
        with self._lock:
            raw = b"".join(self._chunks)
        return _ESCAPES.sub("", raw.decode(errors="replace")).replace("\r", "")

    def wait_for(self, predicate, timeout, since=0):
        """Until ``predicate(output()[since:])`` holds; returns that output."""
        deadline = time.monotonic() + timeout
        while True:
            shown = self.output()[since:]
            if predicate(shown):
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"gave up after {timeout}s; the terminal shows:\n{shown}")
            time.sleep(0.05)

    def type(self, line):
        os.write(self._primary, line.encode() + b"\n")

    def stop(self, signum=signal.SIGTERM, timeout=30):
        """Signal the whole process group, as closing the window would; kill what stays."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signum)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._reader.join(timeout=5)
        os.close(self._primary)
