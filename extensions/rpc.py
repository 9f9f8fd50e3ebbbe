"""The shop's RPC: ``rpc`` entrypoints on quorum queues, and ``TimedRpcProxy``, a
drop-in ``RpcProxy`` with a deadline.

``@rpc`` is nameko's, except that the request queue ``rpc-<service>`` is a
quorum queue (``extensions.queues``), so a service keeps answering when the
broker node its queue was created on is lost. The queue is declared as the
service starts, over the classic queue of an older install if that is empty
and unused.

nameko 2.14's ``RpcProxy`` waits forever for a reply, so a stopped service
would hold its callers' workers until it came back. This one gives up after
``RPC_TIMEOUT_SECONDS`` and raises ``UpstreamTimeout``; a service that nobody
runs, or a broker it cannot publish to, raises ``Unavailable``. Each request
expires in its queue after the same time, so a service that starts late does
not run work for a caller that has given up.

Its replies come to a queue of the connection's own, exclusive and deleted
with it, and a new one (a new name) on each new connection: nameko's is
durable, so after its node died a redeclaration would fail and stop the
service's whole consumer. A call waiting on the old queue times out.

Everything else is nameko's own proxy (context data, call id stack), and so is
the tracing of ``extensions.tracing_nameko``, which wraps ``MethodProxy._call``:
the errors are raised beneath that wrapper, so the CLIENT span records them.
"""

import time
import uuid
from dataclasses import dataclass

import nameko.rpc
from kombu import Connection, Queue
from kombu.exceptions import OperationalError
from nameko.amqp.publish import Publisher, UndeliverableMessage
from nameko.rpc import (
    RPC_REPLY_QUEUE_TEMPLATE,
    MethodProxy,
    ReplyListener,
    RpcConsumer,
    RpcProxy,
    ServiceProxy,
    get_rpc_exchange,
)

from extensions import queues
from shop.errors import Unavailable, UpstreamTimeout

# config.yaml sets RPC_TIMEOUT_SECONDS; this serves only a config without it.
DEFAULT_TIMEOUT_SECONDS = 3.0


class QuorumRpcConsumer(RpcConsumer):
    def setup(self):
        super().setup()
        # The queue consumer declares the queue again when it starts: the same arguments.
        self.queue.queue_arguments = queues.QUORUM
        with Connection(self.container.config["AMQP_URI"]) as connection:
            queues.declare(
                connection,
                self.queue,
                "stop the instances of the older version (the requests left in it expire"
                " within their callers' timeouts)",
            )


class Rpc(nameko.rpc.Rpc):
    rpc_consumer = QuorumRpcConsumer()


rpc = Rpc.decorator


class ConnectionReplyListener(ReplyListener):
    def renew_queue(self):
        """A queue for the next connection (``extensions.broker`` calls it)."""
        self.routing_key = str(uuid.uuid4())
        self.queue = Queue(
            RPC_REPLY_QUEUE_TEMPLATE.format(self.container.service_name, self.routing_key),
            exchange=get_rpc_exchange(self.container.config),
            routing_key=self.routing_key,
            durable=False,
            exclusive=True,
        )


class TimedRpcProxy(RpcProxy):
    rpc_reply_listener = ConnectionReplyListener()

    def setup(self):
        self.timeout = float(
            self.container.config.get("RPC_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS)
        )

    def get_dependency(self, worker_ctx):
        return _ServiceProxy(
            worker_ctx, self.target_service, self.rpc_reply_listener, self.timeout, **self.options
        )


class RequestPublisher(Publisher):
    """Publishes a request; one that cannot be delivered raises ``Unavailable``."""

    def publish(self, payload, **kwargs):
        service = str(kwargs.get("routing_key", "")).split(".")[0]
        try:
            super().publish(payload, **kwargs)
        except UndeliverableMessage:  # sent mandatory, and no queue is bound for the service
            raise Unavailable(f"No {service} service is running", {"service": service}) from None
        except (OperationalError, OSError) as exc:  # after kombu's own retries
            raise Unavailable(
                f"Cannot reach the broker to call {service}", {"service": service}
            ) from exc


class _ServiceProxy(ServiceProxy):
    def __init__(self, worker_ctx, service_name, reply_listener, timeout, **options):
        # The request's TTL in its queue (kombu takes seconds, sends milliseconds).
        options = {**options, "expiration": timeout}
        super().__init__(worker_ctx, service_name, reply_listener, **options)
        self._timeout = timeout

    def __getattr__(self, name):
        replies = _Replies(self.reply_listener, self.service_name, name, self._timeout)
        return _MethodProxy(self.worker_ctx, self.service_name, name, replies, **self.options)


class _MethodProxy(MethodProxy):
    publisher_cls = RequestPublisher

    def _call(self, *args, **kwargs):
        try:
            return super()._call(*args, **kwargs)
        except Unavailable:
            # nameko registers the reply before it publishes; this one will never come.
            self.reply_listener.forget(self.reply_listener.last)
            raise


@dataclass(eq=False)
class _Replies:
    """The container's ``ReplyListener`` as one method proxy sees it: with a deadline."""

    listener: ReplyListener
    service: str
    method: str
    timeout: float
    last: str | None = None  # the correlation id of the latest call: a proxy's calls run in turn

    @property
    def routing_key(self):
        return self.listener.routing_key

    def get_reply_event(self, correlation_id):
        # Called just before the request is published: the clock starts here.
        self.last = correlation_id
        event = self.listener.get_reply_event(correlation_id)
        return _TimedReplyEvent(self, correlation_id, event, time.monotonic() + self.timeout)

    def forget(self, correlation_id):
        # Otherwise the listener keeps the call's event for as long as it runs.
        self.listener._reply_events.pop(correlation_id, None)

    def timed_out(self, correlation_id):
        self.forget(correlation_id)
        return UpstreamTimeout(
            f"{self.service}.{self.method} did not answer within {self.timeout:g}s",
            {"service": self.service, "method": self.method},
        )


@dataclass(eq=False)
class _TimedReplyEvent:
    """What nameko's ``RpcReply.result()`` waits on, bounded by the call's deadline."""

    replies: _Replies
    correlation_id: str
    event: object  # nameko's reply event (an eventlet ``Event``)
    deadline: float  # on ``time.monotonic()``'s clock

    def wait(self):
        body = self.event.wait(max(0.0, self.deadline - time.monotonic()))
        if body is not None:  # a reply is a dict; None means the wait timed out
            return body
        if self.event.ready():  # the reply came in the same instant as the deadline
            return self.event.wait()
        raise self.replies.timed_out(self.correlation_id)
