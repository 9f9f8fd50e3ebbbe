"""RPC replies go out transient and unconfirmed, through one producer per process
(extensions/replies.py)."""

import uuid

from kombu import Connection, Exchange, Producer, Queue
from nameko.rpc import rpc
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.utils import get_container

from extensions.replies import MOST_BROKERS, TURN_SECONDS, shared_producer
from tests.faults import inject
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


def test_replies_of_workers_running_at_once_each_reach_their_own_caller(
    rabbit_config, runner_factory
):
    runner_factory(rabbit_config, EchoService).start()

    with ClusterRpcProxy(rabbit_config, timeout=10) as proxy:
        calls = [proxy.reply_echo.echo.call_async(n) for n in range(50)]
        assert [call.result() for call in calls] == list(range(50))


def _the_reply_connection(amqp_uri):
    """The broker's name of the connection the process's replies go out on."""
    port = shared_producer(amqp_uri)._producer.connection.connection.sock.getsockname()[1]
    listed = inject.connections(amqp_uri)
    return next((c["name"] for c in listed if c["peer_port"] == port), None)


def test_a_reply_after_the_broker_closed_the_reply_connection_reaches_its_caller(
    rabbit_config, runner_factory
):
    runner_factory(rabbit_config, EchoService).start()

    with ClusterRpcProxy(rabbit_config, timeout=10) as proxy:
        assert proxy.reply_echo.echo("before") == "before"
        # The management API lists a new connection within its stats interval.
        name = eventually(lambda: _the_reply_connection(rabbit_config["AMQP_URI"]), timeout=15)
        assert inject.close_connection(name)

        assert [proxy.reply_echo.echo(n) for n in range(3)] == [0, 1, 2]


def _unused_brokers(count):
    # Never connected to: a producer connects on its first publish.
    run = uuid.uuid4().hex[:8]
    return [f"amqp://guest:guest@127.0.0.1:5672/unused-{run}-{n}" for n in range(count)]


def test_the_replies_to_one_broker_share_one_producer():
    uri = _unused_brokers(1)[0]

    assert shared_producer(uri) is shared_producer(uri)
    assert shared_producer(uri, login_method="PLAIN") is not shared_producer(uri)


def test_a_process_keeps_the_producers_of_its_latest_brokers_and_closes_the_oldest(
    rabbit_config, runner_factory
):
    runner_factory(rabbit_config, EchoService).start()
    with ClusterRpcProxy(rabbit_config, timeout=10) as proxy:
        assert proxy.reply_echo.echo("connects the producer") == "connects the producer"
    oldest = shared_producer(rabbit_config["AMQP_URI"])
    assert oldest._producer.connection.connected

    for uri in _unused_brokers(MOST_BROKERS):
        shared_producer(uri)

    assert not oldest._producer.connection.connected
    assert shared_producer(rabbit_config["AMQP_URI"]) is not oldest


def test_a_reply_after_one_cut_short_goes_out_on_a_new_connection(rabbit_config, runner_factory):
    runner_factory(rabbit_config, EchoService).start()

    with ClusterRpcProxy(rabbit_config, timeout=10) as proxy:
        assert proxy.reply_echo.echo("before") == "before"
        connection = shared_producer(rabbit_config["AMQP_URI"])._producer.connection
        connection.collect()  # what a publish cut short does to its connection

        assert proxy.reply_echo.echo("after") == "after"
        assert connection.connected


def test_a_worker_does_not_wait_for_its_turn_to_reply_longer_than_its_caller_would(
    rabbit_config, runner_factory
):
    runner = runner_factory(rabbit_config, EchoService)
    runner.start()
    container = get_container(runner, EchoService)
    with ClusterRpcProxy(rabbit_config, timeout=10) as proxy:
        assert proxy.reply_echo.echo("connects the producer") == "connects the producer"
        turn = shared_producer(rabbit_config["AMQP_URI"])._turn
        turn.acquire()  # as if another worker were reconnecting, for ever
        try:
            proxy.reply_echo.echo.call_async("waits")
            # The worker gives up its reply (its caller times out) and finishes.
            eventually(lambda: container._worker_threads, timeout=5)
            eventually(lambda: not container._worker_threads, timeout=TURN_SECONDS + 5)
        finally:
            turn.release()
        assert proxy.reply_echo.echo("next") == "next"
