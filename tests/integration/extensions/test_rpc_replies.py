"""RPC replies go out transient and unconfirmed (extensions/replies.py)."""

import uuid

from kombu import Connection, Exchange, Producer, Queue
from nameko.rpc import rpc

from tests.polling import eventually


class EchoService:
    name = "reply_echo"

    @rpc
    def echo(self, value):
        return value


def test_a_reply_reaches_its_caller_as_a_transient_message(rabbit_config, runner_factory):
    runner_factory(rabbit_config, EchoService).start()
    exchange = Exchange("nameko-rpc", type="topic", durable=True)
    reply_to = f"reply-test-{uuid.uuid4().hex}"
    replies = Queue(reply_to, exchange=exchange, routing_key=reply_to, exclusive=True)

    with Connection(rabbit_config["AMQP_URI"]) as connection:
        replies(connection).declare()
        Producer(connection).publish(
            {"args": ["hi"], "kwargs": {}},
            exchange=exchange,
            routing_key="reply_echo.echo",
            reply_to=reply_to,
            correlation_id="call-1",
            serializer="json",
        )
        reply = eventually(lambda: replies(connection).get(no_ack=True))

    assert reply.payload == {"result": "hi", "error": None}
    assert reply.properties["correlation_id"] == "call-1"
    assert reply.properties["delivery_mode"] == 1  # transient: nameko's default is 2
