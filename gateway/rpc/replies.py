"""Reply correlation: the calls waiting for a reply, keyed by correlation id.

Request threads register a call and wait on it; the I/O thread resolves it
with the reply that carries its correlation id, or fails it. Whoever pops a
call from the table is the one to resolve it, so a call is resolved once
however its reply, its failure and its timeout race.
"""

import threading

from gateway.rpc.call_errors import UpstreamTimeout


class PendingCall:
    """One call waiting for its reply; resolved once, by the I/O thread or a failure.

    A lock taken at birth and released on resolution is the cheapest one-shot
    signal between two threads (``threading.Event`` adds a condition on top).
    """

    __slots__ = ("_resolved", "error", "reply")

    def __init__(self):
        self._resolved = threading.Lock()
        self._resolved.acquire()
        self.reply = None
        self.error = None

    def resolve(self, reply=None, error=None):
        self.reply, self.error = reply, error
        self._resolved.release()

    def wait(self, timeout=-1):
        """True once resolved; False if ``timeout`` seconds passed first."""
        return self._resolved.acquire(timeout=timeout)


class PendingReplies:
    """Correlation id -> ``PendingCall``; safe from any thread (dict operations are atomic)."""

    def __init__(self):
        self._calls = {}

    def __contains__(self, correlation_id):
        return correlation_id in self._calls

    def expect(self, correlation_id):
        """Register a call before its request is sent, so that a failure from then on finds it."""
        call = self._calls[correlation_id] = PendingCall()
        return call

    def wait(self, correlation_id, call, timeout):
        """The reply body of ``call``; raises its error, or ``UpstreamTimeout``."""
        if not call.wait(timeout):
            if self._calls.pop(correlation_id, None) is not None:
                raise UpstreamTimeout("No reply in time")
            call.wait()  # resolved by the I/O thread just now
        if call.error is not None:
            raise call.error
        return call.reply

    def resolve(self, correlation_id, reply):
        # A reply to a call that has timed out finds nobody waiting and is dropped.
        call = self._calls.pop(correlation_id, None)
        if call is not None:
            call.resolve(reply=reply)

    def fail(self, correlation_id, error):
        call = self._calls.pop(correlation_id, None)
        if call is not None:
            call.resolve(error=error)

    def fail_all(self, error):
        for correlation_id in list(self._calls):
            self.fail(correlation_id, error)
