"""Waiting for asynchronous outcomes without sleeping for a fixed time."""

import time


def eventually(probe, timeout=15.0, interval=0.05):
    """Call ``probe`` until it returns something truthy; return that, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout}s; last result: {result!r}")
        time.sleep(interval)
