"""Publishing: each request handed to the I/O thread, then its reply awaited.

Request threads never touch pika: they register their call, ask the I/O thread
to publish (``BrokerConnection.run_soon``) and wait until the reply with their
correlation id, a failure or their timeout resolves the call. If the
connection is lost, every waiting call fails at once.
"""

import logging
from functools import partial

import pika.exceptions

from gateway.rpc.call_errors import BrokerUnavailable, RpcError, ServiceUnavailable
from gateway.rpc.connection import BrokerConnection
from gateway.rpc.replies import PendingReplies

log = logging.getLogger(__name__)


class Publisher:
    """Sends requests over one ``BrokerConnection`` and matches their replies."""

    def __init__(self, nodes, exchange, connect_timeout, reconnect_seconds):
        self.replies = PendingReplies()
        self.connection = BrokerConnection(
            nodes,
            exchange,
            connect_timeout,
            reconnect_seconds,
            on_reply=self.replies.resolve,
            on_return=self._on_return,
            on_lost=self._on_lost,
        )

    def send(self, routing_key, body, properties, timeout):
        """Publish and wait for the reply body; raises an ``RpcError``."""
        self.connection.ensure_connected()
        correlation_id = properties.correlation_id
        call = self.replies.expect(correlation_id)
        # Registered first: should the connection be lost from here on, the
        # I/O thread fails this call along with every other one waiting.
        if self.connection.ready.is_set():
            self.connection.run_soon(partial(self._publish, routing_key, body, properties))
        else:
            self.replies.fail(correlation_id, BrokerUnavailable("Lost the broker"))
        return self.replies.wait(correlation_id, call, timeout)

    # -- the I/O thread ----------------------------------------------------

    def _publish(self, routing_key, body, properties):
        correlation_id = properties.correlation_id
        if correlation_id not in self.replies:
            return  # failed or timed out before its turn came: nobody waits for it
        channel = self.connection.channel
        if channel is None or not channel.is_open:
            self.replies.fail(correlation_id, BrokerUnavailable("Lost the broker"))
            return
        properties.reply_to = self.connection.reply_to
        try:
            # mandatory: an unroutable request (no such service) comes back at once.
            channel.basic_publish(
                self.connection.exchange, routing_key, body, properties=properties, mandatory=True
            )
        except pika.exceptions.AMQPError as exc:
            self.replies.fail(correlation_id, BrokerUnavailable(f"Cannot publish: {exc!r}"))
        except Exception as exc:  # a header pika cannot encode: this call's fault alone
            log.exception("Cannot encode an RPC request to %s", routing_key)
            self.replies.fail(correlation_id, RpcError(f"Cannot encode the request: {exc!r}"))

    def _on_return(self, correlation_id):
        self.replies.fail(correlation_id, ServiceUnavailable("No such service"))

    def _on_lost(self, problem):
        # Unknown whether the service got them: not safe to send again.
        self.replies.fail_all(BrokerUnavailable(f"Lost the broker: {problem}"))
