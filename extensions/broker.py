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

Two more patches serve a cluster (``extensions.amqp_uri``), where the
consumer reconnects to another node:

- a consumer whose queue belongs to one connection (a reply queue,
  ``extensions.rpc``) gets a fresh one on each connection: the old one may
  have died with its node, and redeclaring it would fail;
- the consumer's "cannot connect" warning names every node with its password
  masked (nameko masks the first node's only).
"""

import functools
import logging

import amqp.exceptions
import kombu.exceptions
from nameko.messaging import QueueConsumer
from nameko.rpc import RpcConsumer

from extensions.amqp_uri import redacted

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


def _renew_queues_of_the_connection(get_consumers):
    @functools.wraps(get_consumers)
    def get_consumers_for_a_new_connection(self, consumer_cls, channel):
        # kombu calls this once for each connection, before consuming from it.
        for provider in self._providers:
            renew = getattr(provider, "renew_queue", None)
            if renew is not None:
                renew()
        return get_consumers(self, consumer_cls, channel)

    return get_consumers_for_a_new_connection


def _log_without_passwords(_on_connection_error):
    @functools.wraps(_on_connection_error)
    def on_connection_error(self, exc, interval):
        log.warning(
            "Error connecting to broker at %s (%s). Retrying in %s seconds.",
            redacted(self.amqp_uri),
            exc,
            interval,
        )

    return on_connection_error


def install():
    """Patch Nameko's consumers (once, however often it is called)."""
    for owner, name, guard in (
        (QueueConsumer, "ack_message", _guard_settle),
        (QueueConsumer, "requeue_message", _guard_settle),
        (RpcConsumer, "handle_result", _guard_reply),  # publishes the reply, then acks
        (QueueConsumer, "get_consumers", _renew_queues_of_the_connection),
        (QueueConsumer, "on_connection_error", _log_without_passwords),
    ):
        method = getattr(owner, name)
        if not hasattr(method, "__wrapped__"):
            setattr(owner, name, guard(method))
