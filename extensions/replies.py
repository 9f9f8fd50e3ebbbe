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
the message, so the workers of a process share one producer, in turn.
"""

from eventlet.semaphore import Semaphore
from kombu import Connection, Producer
from kombu.entity import TRANSIENT_DELIVERY_MODE
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
        with self._turn:
            self._producer.publish(body, **kwargs)

    def close(self):
        with self._turn:
            self._producer.connection.collect()  # no goodbye: it may be long gone


# A service process replies on one broker. A test process makes a virtual host per
# test: the producers of the oldest are closed, not kept open as long as the process.
MOST_BROKERS = 4
_producers = {}  # (amqp_uri, ssl, login_method) -> SharedProducer, oldest first


def shared_producer(amqp_uri, ssl=None, login_method=None):
    """The process's reply producer for this broker and these credentials."""
    key = (amqp_uri, repr(ssl), login_method)
    if key not in _producers:  # nothing here yields to another green thread
        connection = Connection(
            amqp_uri,
            transport_options={**DEFAULT_TRANSPORT_OPTIONS, "confirm_publish": False},
            ssl=ssl,
            login_method=login_method,
        )
        _producers[key] = SharedProducer(connection)
        while len(_producers) > MOST_BROKERS:
            _producers.pop(next(iter(_producers))).close()
    return _producers[key]


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
