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
deduplicate (``extensions.envelopes``) or the caller has already been told the
call failed. An RPC whose reply alone could not be sent is acknowledged if its
connection still lives: its work is done, and it must not run again.

More patches serve a cluster (``shop.amqp_uri``), where the
consumer reconnects to another node:

- a worker that finds the consumers' connection dead (its acknowledgement
  fails) marks it so, and kombu's ``Connection`` then quietly opens a new one
  the next time the consumer reads, with no consumer on it: with a single
  broker that fails while the broker is down, but in a cluster it succeeds on
  the next node, and the service reads an empty connection for ever. The
  consumer's connection raises instead, and the consumer reconnects in full;
- a consumer that missed its heartbeats drops the connection instead of
  closing it politely, which would wait for the silent node for ever;
- a consumer whose queue belongs to one connection (a reply queue,
  ``extensions.rpc``) gets a fresh one on each connection: the old one may
  have died with its node, and redeclaring it would fail;
- the consumer's "cannot connect" warning names every node with its password
  masked (nameko masks the first node's only).
"""

import functools
import logging

import amqp.exceptions
import kombu
import kombu.exceptions
from nameko.messaging import QueueConsumer
from nameko.rpc import RpcConsumer

from shop.amqp_uri import redacted

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
            # The work is done, and its caller, with no reply, times out. Were the
            # request left unacknowledged on a connection that lives on (the reply
            # went through another, to a node that does not answer), it would run
            # again whenever the service reconnects. If this connection is gone
            # too, the broker delivers it again, as above.
            self.queue_consumer.ack_message(message)
            return result, exc_info  # the worker's own outcome, for the other extensions

    return reply_unless_connection_lost


def _log_lost(step, exc):
    log.warning(
        "broker connection lost before %s (%s); the broker will deliver the message again",
        step,
        exc,
    )


class ConsumerConnection(kombu.Connection):
    """A connection that is never replaced under the consumers reading from it, and
    is dropped without a goodbye once lost."""

    @property
    def connection(self):
        if self._connection is not None and not self._closed and not self.connected:
            raise amqp.exceptions.RecoverableConnectionError(
                "the broker connection was lost under its consumers"
            )
        return super().connection

    def __exit__(self, exc_type, exc_value, traceback):
        if isinstance(exc_value, self.connection_errors):
            # kombu would close the channel politely and wait, with no time limit,
            # for an answer that a node that went silent (hung, paused, cut off)
            # never sends: the consumer would hang there instead of reconnecting.
            self.collect()
        else:
            super().__exit__(exc_type, exc_value, traceback)


def _never_replaced_silently(make_connection):
    @functools.wraps(make_connection)
    def connection(self):
        made = make_connection(self)
        made.__class__ = ConsumerConnection  # the same connection, and a subclass's property
        return made

    return connection


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
    make_connection = QueueConsumer.connection.fget  # a property: kombu reads it per connection
    if not hasattr(make_connection, "__wrapped__"):
        QueueConsumer.connection = property(_never_replaced_silently(make_connection))
