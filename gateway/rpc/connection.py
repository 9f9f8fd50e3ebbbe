"""Connection life: one pika ``SelectConnection``, its channel and reply queue,
kept by one I/O thread.

The thread connects to each broker node of ``AMQP_URI`` in turn, answers
heartbeats (so a dead broker is noticed between calls too), declares and
consumes a new reply queue on every connection, and reconnects in the
background, backing off to a few seconds apart, whenever the connection, its
channel or its reply consumer is lost. What it receives and what it loses it
hands to the callbacks it was given; it knows nothing of calls.
"""

import logging
import threading
import uuid

import pika
from pika.adapters.select_connection import IOLoop

from gateway.rpc.call_errors import BrokerUnavailable
from shop.amqp_uri import node_uris

log = logging.getLogger(__name__)

_MAX_RECONNECT_SECONDS = 5.0
HEARTBEAT_SECONDS = 5  # as the services' HEARTBEAT in config.yaml


def pika_parameters(amqp_uri, connect_timeout):
    """One ``pika.URLParameters`` per broker node of ``AMQP_URI``, in the order given."""
    return [_node_parameters(uri, connect_timeout) for uri in node_uris(amqp_uri)]


def _node_parameters(uri, connect_timeout):
    # Nameko (kombu) spells the scheme "pyamqp"; pika only knows "amqp(s)".
    params = pika.URLParameters(uri.replace("pyamqp://", "amqp://", 1))
    params.connection_attempts = 1
    params.socket_timeout = connect_timeout
    params.stack_timeout = connect_timeout * 2
    params.client_properties = {"connection_name": "shop-gateway"}
    # A half-open connection is noticed in seconds rather than minutes, and
    # calls on it fail as broker trouble, not as service timeouts.
    params.heartbeat = HEARTBEAT_SECONDS
    return params


class BrokerConnection:
    """The connection, channel and reply queue, owned by one I/O thread.

    ``on_reply(correlation_id, body)`` gets each reply, ``on_return(correlation_id)``
    each request the broker could not route, ``on_lost(problem)`` each loss of the
    connection; all three run on the I/O thread.
    """

    def __init__(
        self, nodes, exchange, connect_timeout, reconnect_seconds, on_reply, on_return, on_lost
    ):
        self.nodes = list(nodes)  # pika parameters of each broker node, tried in turn
        self.exchange = exchange
        self.connect_timeout = connect_timeout
        self.reconnect_seconds = reconnect_seconds
        self._on_reply, self._on_return, self._on_lost = on_reply, on_return, on_lost
        self._reconnect_delay = reconnect_seconds
        self.reply_to = None  # a new queue per connection: see _on_channel_open
        self.ready = threading.Event()  # set while the reply queue is consumed
        self.attempted = threading.Event()  # set once a first attempt has ended
        self.problem = "not connected yet"
        self.channel = None  # the open channel, for the I/O thread to publish on
        self._ioloop = IOLoop()
        self._connection = None
        self._connecting = None  # pika's attempt at each node in turn, while it lasts
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="rpc-io", daemon=True)
        self._thread.start()

    # -- called from request threads ---------------------------------------

    def ensure_connected(self):
        """Raise ``BrokerUnavailable`` unless the reply queue is being consumed."""
        # Until the first attempt is over, wait for it; later, while the broker
        # is down, fail at once rather than hang the caller.
        if not self.attempted.wait(self.connect_timeout) or not self.ready.is_set():
            raise BrokerUnavailable(f"Cannot reach the broker: {self.problem}")

    def run_soon(self, callback):
        """Run ``callback()`` on the I/O thread (pika's one thread-safe call)."""
        self._ioloop.add_callback_threadsafe(callback)

    @property
    def alive(self):
        return self._thread.is_alive()

    def close(self):
        if self.alive:
            self.run_soon(self._shutdown)
            self._thread.join(timeout=5)

    # -- the I/O thread ----------------------------------------------------

    def _run(self):
        self.run_soon(self._connect)
        try:
            self._ioloop.start()
        except Exception:
            log.exception("The RPC I/O thread failed; the next call starts a new one")
        finally:
            # Whatever ended the loop, nobody may wait on it any more.
            self._disconnected("the RPC I/O thread has stopped")
            self._ioloop.close()

    def _connect(self):
        if self._stopping:
            return
        self._connecting = pika.SelectConnection.create_connection(
            self.nodes, self._on_connection_open, custom_ioloop=self._ioloop
        )

    def _on_connection_open(self, connection):
        self._connecting = None
        if isinstance(connection, Exception):  # no node took the connection
            self._on_connection_lost(None, connection)
            return
        self._connection = connection
        connection.add_on_close_callback(self._on_connection_lost)
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_channel_open(self, channel):
        self.channel = channel
        # Not the last connection's name: the broker may not have noticed yet
        # that it is gone, and would refuse a second exclusive owner.
        self.reply_to = f"rpc.reply-gateway-{uuid.uuid4()}"
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._returned)
        channel.add_on_cancel_callback(self._on_consumer_cancelled)
        channel.exchange_declare(
            self.exchange, exchange_type="topic", durable=True, callback=self._declare_queue
        )

    def _declare_queue(self, _frame):
        self.channel.queue_declare(
            self.reply_to, exclusive=True, auto_delete=True, callback=self._bind_queue
        )

    def _bind_queue(self, _frame):
        self.channel.queue_bind(
            self.reply_to, self.exchange, routing_key=self.reply_to, callback=self._consume
        )

    def _consume(self, _frame):
        self.channel.basic_consume(
            self.reply_to, self._received, auto_ack=True, callback=self._on_ready
        )

    def _on_ready(self, _frame):
        log.info("Connected to the broker; replies arrive on %s", self.reply_to)
        self.problem = None
        self._reconnect_delay = self.reconnect_seconds
        self.ready.set()
        self.attempted.set()

    def _received(self, _channel, _method, properties, body):
        self._on_reply(properties.correlation_id, body)

    def _returned(self, _channel, _method, properties, _body):
        self._on_return(properties.correlation_id)

    def _on_consumer_cancelled(self, _frame):
        self._start_over(f"the broker cancelled the reply consumer on {self.reply_to}")

    def _on_channel_closed(self, _channel, reason):
        self._start_over(f"the RPC channel closed: {reason}")

    def _start_over(self, why):
        # A connection whose channel or reply consumer is gone is no use: begin again
        # from a fresh connection (_on_connection_lost reconnects).
        if self._connection.is_open:
            log.warning("Reconnecting: %s", why)
            self._connection.close()

    def _disconnected(self, problem):
        self.ready.clear()
        self.problem = problem
        self.channel = None
        self._on_lost(problem)
        self.attempted.set()

    def _on_connection_lost(self, connection, reason):
        was_ready = self.ready.is_set()
        self._disconnected(repr(reason))
        if connection is not None and connection.params in self.nodes:
            # A cluster's node failed: the others first next time, it last.
            lost = self.nodes.index(connection.params)
            self.nodes = self.nodes[lost + 1 :] + self.nodes[: lost + 1]
        if self._stopping:
            self._ioloop.stop()
            return
        if was_ready:
            log.warning("Lost the broker (%r); reconnecting", reason)
        # Calls fail fast meanwhile; retries back off to a few seconds apart.
        self._ioloop.call_later(self._reconnect_delay, self._connect)
        self._reconnect_delay = min(self._reconnect_delay * 2, _MAX_RECONNECT_SECONDS)

    def _shutdown(self):
        self._stopping = True
        connection = self._connection
        if self._connecting is not None:
            self._connecting.abort()  # then _on_connection_open stops the loop
        elif connection is None or connection.is_closed:
            self._ioloop.stop()
        elif not connection.is_closing:
            connection.close()  # then _on_connection_lost stops the loop
