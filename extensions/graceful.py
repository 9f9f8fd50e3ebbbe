"""A stopping Nameko container keeps its broker connection until its workers are done.

nameko 2.14 stops a container (``nameko run`` on SIGTERM) by cancelling its
consumers, then waiting for the workers in flight, then stopping the rest. But
the ``QueueConsumer`` closes its connection as soon as it has no consumer left,
within a second of the stop, and a service without an ``RpcProxy`` (whose reply
consumer happens to keep the connection open) gets there at once. A worker
still busy then finishes on a closed channel and skips its acknowledgement
(``QueueConsumer.ack_message``), so the broker hands the message to the next
instance, which runs it again: an RPC that already replied is executed twice.

Here the consumer stays connected, draining nothing new, until the container
has no worker left; then it stops as before. ``kill()`` is unaffected: it sets
``should_stop`` itself.
"""

from nameko.messaging import QueueConsumer


def _stop_once_idle(self):
    self._cancel_consumers_if_requested()
    if not self._consumers and not self.container._worker_threads:
        self.should_stop = True


def install():
    """Patch Nameko's queue consumer (once, however often it is called)."""
    if QueueConsumer.on_iteration is not _stop_once_idle:
        QueueConsumer.on_iteration = _stop_once_idle
