"""RPC replies are sent transient and unconfirmed, through one producer per process.

nameko publishes each reply as it publishes anything: persistent, and waiting
for the broker's publisher confirm. Neither buys a guarantee here. A reply goes
to its caller's reply queue, which does not outlive the caller's connection, so
there is nothing for persistence to keep. A confirm cannot save a lost reply
either: the caller gives up on it after its timeout whatever happens (504 at
the gateway, ``UpstreamTimeout`` in a service), and the request's effects are
already committed with their outbox events. Worse, a reply whose confirm failed
leaves its request unacknowledged, and the request runs a second time.
Without them the broker does less work for every call, and the worker does not
wait for a confirm before it acknowledges the request.

nameko also builds a kombu ``Connection`` for every reply, only to find its
pool, and takes a producer from that pool and gives it back. Without a confirm
to wait for, a publish holds its producer for no longer than it takes to write
the message, so the workers of a process share one producer, in turn. Only a
reconnection holds it longer: then a worker that has waited ``TURN_SECONDS``
gives its reply up (``extensions.broker`` logs it and acknowledges the request),
as its caller has given up on it by then.
"""

from eventlet.semaphore import Semaphore
from kombu import Connection, Producer
from kombu.entity import TRANSIENT_DELIVERY_MODE
from kombu.exceptions import OperationalError
from nameko.amqp.publish import Publisher
from nameko.constants import DEFAULT_TRANSPORT_OPTIONS
from nameko.rpc import Responder


class SharedProducer:
    """A kombu ``Producer`` on a connection of its own, used by one worker at a time.

    It connects on first use, and kombu's ``retry`` brings the connection back
    (to another node of a cluster if need be) after the broker lost it.
    """

    def __init__(self, connection):
        self._producer = Producer(connection)  # opens nothing until the first publish
        self._turn = Semaphore()

    def publish(self, body, **kwargs):
        # While one worker reconnects (kombu retries for seconds), the others do
        # not queue behind it for longer than their callers wait.
        if not self._turn.acquire(timeout=TURN_SECONDS):
            raise OperationalError("the reply producer is reconnecting to the broker")
        try:
            self._producer.publish(body, **kwargs)
        except BaseException:
            # A publish cut short (a killed worker, a failed write) may leave half
            # a frame on the connection: the next one starts on a new connection.
            self._producer.connection.collect()
            raise
        finally:
            self._turn.release()

    def close(self):
        with self._turn:
            self._producer.connection.collect()  # no goodbye: it may be long gone


# Longer than any reply takes to write, no longer than a caller waits for one
# (config.yaml's RPC_TIMEOUT_SECONDS, the gateway's RPC timeout).
TURN_SECONDS = 3.0
# A service process replies on one broker. A test process makes a virtual host per
# test: the producers of the oldest are closed, not kept open as long as the process.
MOST_BROKERS = 4
_producers = {}  # (amqp_uri, ssl, login_method) -> SharedProducer, oldest first


def shared_producer(amqp_uri, ssl=None, login_method=None):
    """The process's reply producer for this broker and these credentials."""
    key = (amqp_uri, repr(ssl), login_method)
    producer = _producers.get(key)
    if producer is None:
        connection = Connection(
            amqp_uri,
            transport_options={
                **DEFAULT_TRANSPORT_OPTIONS,
                "confirm_publish": ReplyPublisher.use_confirms,
            },
            ssl=ssl,
            login_method=login_method,
        )
        producer = _producers[key] = SharedProducer(connection)  # no yield since the get
        while len(_producers) > MOST_BROKERS:
            _producers.pop(next(iter(_producers))).close()
    return producer


class ReplyPublisher(Publisher):
    use_confirms = False
    delivery_mode = TRANSIENT_DELIVERY_MODE

    def publish(self, payload, **kwargs):
        # Responder passes exchange, routing_key, correlation_id and serializer;
        # everything else is this publisher's, as nameko's publish would set it.
        shared_producer(self.amqp_uri, self.ssl, self.login_method).publish(
            payload,
            delivery_mode=self.delivery_mode,
            retry=self.retry,
            retry_policy=self.retry_policy,
            **kwargs,
        )


def install():
    """Every RPC entrypoint of the process replies through ``ReplyPublisher``."""
    Responder.publisher_cls = ReplyPublisher
