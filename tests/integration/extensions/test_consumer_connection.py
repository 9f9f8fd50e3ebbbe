"""A service's consumer connection that a worker finds dead first (``extensions.broker``),
on the real RabbitMQ."""

import socket
from types import SimpleNamespace

import pytest
from amqp.exceptions import RecoverableConnectionError
from nameko.messaging import QueueConsumer

import extensions  # noqa: F401  (installs the patches of extensions.broker)


def _fails_to_write(raw_connection):
    try:
        raw_connection.send_heartbeat()
    except OSError:
        return True  # as a worker's acknowledgement on a dead socket fails
    return False


def test_a_consumer_connection_a_worker_found_dead_is_never_replaced_under_the_consumer(
    rabbit_config,
):
    consumer = QueueConsumer()
    consumer.container = SimpleNamespace(config=rabbit_config)
    connection = consumer.connection
    connection.ensure_connection(max_retries=1)
    raw = connection.connection  # py-amqp's: the socket the consumers' channel is on
    raw.transport.sock.shutdown(socket.SHUT_RDWR)  # as when its broker node stops
    assert _fails_to_write(raw)

    # kombu would connect again (to the next node, in a cluster) and carry on reading
    # a connection with no consumer on it, for ever: the consumer must hear of the loss.
    try:
        with pytest.raises(RecoverableConnectionError):
            connection.drain_events(timeout=0.5)
    finally:
        connection.release()
