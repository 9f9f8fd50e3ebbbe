"""Keep a Nameko container alive when its broker connection dies under a worker.

nameko 2.14 acknowledges (or requeues) a message only while its channel still
has a connection, and guards that call against py-amqp's own
``ConnectionError`` alone. A worker that finishes after the socket died gets
``ConnectionResetError`` (an ``OSError``) instead, and an RPC reply published
while the broker is down raises kombu's ``OperationalError``. Either escapes
the worker's greenthread, and Nameko kills the container, taking
``nameko run`` down with it (nameko issue #511 fixed only the first case).

Nothing is lost by carrying on: the message was never acknowledged, so the
broker delivers it again once a consumer reconnects, and the handlers
deduplicate (``extensions.events``) or the caller has already been told the
call failed.
"""

import functools
import logging

import amqp.exceptions
import kombu.exceptions
from nameko.messaging import QueueConsumer
from nameko.rpc import RpcConsumer

log = logging.getLogger(__name__)

CONNECTION_LOST = (
    OSError,
    amqp.exceptions.ConnectionError,
    amqp.exceptions.ChannelError,
    kombu.exceptions.OperationalError,
)


def _guard_settle(settle):
    @functools.wraps(settle)
    def settle_unless_connection_lost(self, message):
        try:
            settle(self, message)
        except CONNECTION_LOST as exc:
            _log_lost(settle.__name__, exc)

    return settle_unless_connection_lost


def _guard_reply(handle_result):
    @functools.wraps(handle_result)
    def reply_unless_connection_lost(self, message, result, exc_info):
        try:
            return handle_result(self, message, result, exc_info)
        except CONNECTION_LOST as exc:
            _log_lost("reply", exc)
            return result, exc_info  # the worker's own outcome, for the other extensions

    return reply_unless_connection_lost


def _log_lost(step, exc):
    log.warning(
        "broker connection lost before %s (%s); the broker will deliver the message again",
        step,
        exc,
    )


def install():
    """Patch Nameko's consumers (once, however often it is called)."""
    for owner, name, guard in (
        (QueueConsumer, "ack_message", _guard_settle),
        (QueueConsumer, "requeue_message", _guard_settle),
        (RpcConsumer, "handle_result", _guard_reply),  # publishes the reply, then acks
    ):
        method = getattr(owner, name)
        if not hasattr(method, "__wrapped__"):
            setattr(owner, name, guard(method))
