"""RPC replies are sent transient and unconfirmed.

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
"""

from kombu.entity import TRANSIENT_DELIVERY_MODE
from nameko.amqp.publish import Publisher
from nameko.rpc import Responder


class ReplyPublisher(Publisher):
    use_confirms = False
    delivery_mode = TRANSIENT_DELIVERY_MODE


def install():
    """Every RPC entrypoint of the process replies through ``ReplyPublisher``."""
    Responder.publisher_cls = ReplyPublisher
