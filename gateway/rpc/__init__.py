"""A thread-safe Nameko RPC client on pika.

It speaks Nameko's wire protocol: a JSON ``{"args", "kwargs"}`` message to the
``nameko-rpc`` topic exchange with routing key ``service.method``, context data
in ``nameko.*`` headers, and the reply published back to the same exchange
with our ``reply_to`` as routing key (so the reply queue must be bound there:
RabbitMQ's direct reply-to never sees Nameko's replies).

Each client owns one connection, channel and reply queue, driven by one I/O
thread running pika's ``SelectConnection``. Request threads hand their
message to that thread (``add_callback_threadsafe``, the one thread-safe pika
call) and wait until it resolves their call, when the reply with their
correlation id arrives. Against a ``BlockingConnection`` per busy thread this
keeps one connection per gunicorn worker on the broker (0.7 ms of broker CPU
per read here, against 0.85), spends no more gateway CPU, and answers
heartbeats, so a dead broker is noticed between calls too. If the connection
is lost, waiting calls fail at once and the I/O thread reconnects in the
background; meanwhile calls fail fast.

The modules, each using only those before it:

- ``call_errors``: what a call can fail with;
- ``replies``: reply correlation, the calls waiting by correlation id;
- ``connection``: connection life (failover over the nodes, heartbeats, reconnects);
- ``publisher``: a request handed to the I/O thread, its reply awaited;
- ``circuit``: which failures count toward a service's circuit breaker;
- ``client``: ``RpcClient``, the one the gateway uses.
"""

from gateway.rpc.call_errors import (
    BrokerUnavailable,
    RemoteError,
    RpcError,
    ServiceUnavailable,
    UpstreamTimeout,
)
from gateway.rpc.client import RpcClient

__all__ = [
    "BrokerUnavailable",
    "RemoteError",
    "RpcClient",
    "RpcError",
    "ServiceUnavailable",
    "UpstreamTimeout",
]
