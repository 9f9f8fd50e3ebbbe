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
"""

import json
import logging
import threading
import time
import uuid
from functools import partial

import pika
import pika.exceptions
import pybreaker
from pika.adapters.select_connection import IOLoop

from shop.amqp_uri import node_uris
from shop.contract import BUSINESS_ERRORS

log = logging.getLogger(__name__)

EXCHANGE = "nameko-rpc"
_MAX_RECONNECT_SECONDS = 5.0
HEARTBEAT_SECONDS = 5  # as the services' HEARTBEAT in config.yaml


class RpcError(Exception):
    """Base of every error this client raises."""


class RemoteError(RpcError):
    """The service raised; ``exc_type`` is the remote class name."""

    def __init__(self, exc_type, exc_args, value=""):
        super().__init__(f"{exc_type}: {value}")
        self.exc_type = exc_type
        self.exc_args = list(exc_args or [])
        self.value = value

    @property
    def is_business_error(self):
        return self.exc_type in BUSINESS_ERRORS


class ServiceUnavailable(RpcError):
    """The broker is unreachable, the service is unknown, or its circuit is open."""


class BrokerUnavailable(ServiceUnavailable):
    """No connection to the broker (not the service's fault: trips no breaker)."""


class UpstreamTimeout(RpcError):
    """No reply within the call's timeout."""


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


class _Call:
    """One call waiting for its reply; resolved once, by the I/O thread or a failure.

    A lock taken at birth and released on resolution is the cheapest one-shot
    signal between two threads (``threading.Event`` adds a condition on top).
    """

    __slots__ = ("_resolved", "error", "reply")

    def __init__(self):
        self._resolved = threading.Lock()
        self._resolved.acquire()
        self.reply = None
        self.error = None

    def resolve(self, reply=None, error=None):
        self.reply, self.error = reply, error
        self._resolved.release()

    def wait(self, timeout=-1):
        """True once resolved; False if ``timeout`` seconds passed first."""
        return self._resolved.acquire(timeout=timeout)


class _Broker:
    """The connection, channel and reply queue, owned by one I/O thread."""

    def __init__(self, nodes, exchange, connect_timeout, reconnect_seconds):
        self.nodes = list(nodes)  # pika parameters of each broker node, tried in turn
        self.exchange = exchange
        self.connect_timeout = connect_timeout
        self.reconnect_seconds = reconnect_seconds
        self._reconnect_delay = reconnect_seconds
        self.reply_to = None  # a new queue per connection: see _on_channel_open
        self.calls = {}  # correlation id -> _Call; dict operations are atomic
        self.ready = threading.Event()  # set while the reply queue is consumed
        self.attempted = threading.Event()  # set once a first attempt has ended
        self.problem = "not connected yet"
        self._ioloop = IOLoop()
        self._connection = None
        self._connecting = None  # pika's attempt at each node in turn, while it lasts
        self._channel = None
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

    def send(self, routing_key, body, properties, timeout):
        """Publish and wait for the reply body; raises an ``RpcError``."""
        self.ensure_connected()
        call = _Call()
        self.calls[properties.correlation_id] = call
        # Registered first: should the connection be lost from here on, the
        # I/O thread fails this call along with every other one waiting.
        if self.ready.is_set():
            self._ioloop.add_callback_threadsafe(
                partial(self._publish, routing_key, body, properties)
            )
        else:
            self._fail(properties.correlation_id, BrokerUnavailable("Lost the broker"))
        if not call.wait(timeout):
            if self.calls.pop(properties.correlation_id, None) is not None:
                raise UpstreamTimeout("No reply in time")
            call.wait()  # resolved by the I/O thread just now
        if call.error is not None:
            raise call.error
        return call.reply

    @property
    def alive(self):
        return self._thread.is_alive()

    def close(self):
        if self.alive:
            self._ioloop.add_callback_threadsafe(self._shutdown)
            self._thread.join(timeout=5)

    # -- the I/O thread ----------------------------------------------------

    def _run(self):
        self._ioloop.add_callback_threadsafe(self._connect)
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
        self._channel = channel
        # Not the last connection's name: the broker may not have noticed yet
        # that it is gone, and would refuse a second exclusive owner.
        self.reply_to = f"rpc.reply-gateway-{uuid.uuid4()}"
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        channel.add_on_cancel_callback(self._on_consumer_cancelled)
        channel.exchange_declare(
            self.exchange, exchange_type="topic", durable=True, callback=self._declare_queue
        )

    def _declare_queue(self, _frame):
        self._channel.queue_declare(
            self.reply_to, exclusive=True, auto_delete=True, callback=self._bind_queue
        )

    def _bind_queue(self, _frame):
        self._channel.queue_bind(
            self.reply_to, self.exchange, routing_key=self.reply_to, callback=self._consume
        )

    def _consume(self, _frame):
        self._channel.basic_consume(
            self.reply_to, self._on_reply, auto_ack=True, callback=self._on_ready
        )

    def _on_ready(self, _frame):
        log.info("Connected to the broker; replies arrive on %s", self.reply_to)
        self.problem = None
        self._reconnect_delay = self.reconnect_seconds
        self.ready.set()
        self.attempted.set()

    def _publish(self, routing_key, body, properties):
        if properties.correlation_id not in self.calls:
            return  # failed or timed out before its turn came: nobody waits for it
        channel = self._channel
        if channel is None or not channel.is_open:
            self._fail(properties.correlation_id, BrokerUnavailable("Lost the broker"))
            return
        properties.reply_to = self.reply_to
        try:
            # mandatory: an unroutable request (no such service) comes back at once.
            channel.basic_publish(
                self.exchange, routing_key, body, properties=properties, mandatory=True
            )
        except pika.exceptions.AMQPError as exc:
            self._fail(properties.correlation_id, BrokerUnavailable(f"Cannot publish: {exc!r}"))
        except Exception as exc:  # a header pika cannot encode: this call's fault alone
            log.exception("Cannot encode an RPC request to %s", routing_key)
            self._fail(properties.correlation_id, RpcError(f"Cannot encode the request: {exc!r}"))

    def _on_reply(self, _channel, _method, properties, body):
        # A reply to a call that has timed out finds nobody waiting and is dropped.
        call = self.calls.pop(properties.correlation_id, None)
        if call is not None:
            call.resolve(reply=body)

    def _on_return(self, _channel, _method, properties, _body):
        self._fail(properties.correlation_id, ServiceUnavailable("No such service"))

    def _fail(self, correlation_id, error):
        # Safe from any thread: whoever pops the call is the one to resolve it.
        call = self.calls.pop(correlation_id, None)
        if call is not None:
            call.resolve(error=error)

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
        self._channel = None
        for correlation_id in list(self.calls):
            # Unknown whether the service got it: not safe to send again.
            self._fail(correlation_id, BrokerUnavailable(f"Lost the broker: {problem}"))
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


# nameko's answers to a request it cannot take at all (its BadRequest family): like a
# business error, the fault of whoever sent the request.
_REFUSED_REQUESTS = frozenset({"MalformedRequest", "MethodNotFound", "IncorrectSignature"})


def counts_toward_circuit(exc):
    """Whether ``exc`` says that a service is failing, rather than the request.

    Only upstream failures count: no reply in time, no such service, or a remote error
    that is not the request's fault (``Unavailable``, ``UpstreamTimeout``, a crash). A
    request's own fault never does, or anyone could open a circuit for everyone by sending
    bad input; nor does a broker outage, which is no one service's fault.
    """
    if isinstance(exc, RemoteError):
        return not exc.is_business_error and exc.exc_type not in _REFUSED_REQUESTS
    if isinstance(exc, BrokerUnavailable):
        return False
    return isinstance(exc, UpstreamTimeout | ServiceUnavailable)


class _Breaker(pybreaker.CircuitBreaker):
    """pybreaker's ``call`` holds the breaker's lock for the whole call, which
    lets one thread at a time talk to a service. Only the state changes need
    the lock, and those take it themselves."""

    def call(self, func, *args, **kwargs):
        return self.state.call(func, *args, **kwargs)


class RpcClient:
    """Calls ``service.method(*args, **kwargs)`` on Nameko services; safe under many threads."""

    def __init__(
        self,
        amqp_uri,
        timeout=5.0,
        connect_timeout=1.0,
        reconnect_seconds=0.5,
        breaker_fail_max=5,
        breaker_reset_seconds=10.0,
        exchange=EXCHANGE,
        observer=None,
    ):
        self.nodes = pika_parameters(amqp_uri, connect_timeout)
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.reconnect_seconds = reconnect_seconds
        self.exchange = exchange
        self.observer = observer  # called as observer(service, method, outcome, seconds)
        self._broker = None
        self._lock = threading.Lock()
        self._breakers = {}
        self._breaker_args = {
            "fail_max": breaker_fail_max,
            "reset_timeout": breaker_reset_seconds,
            "exclude": [lambda exc: not counts_toward_circuit(exc)],
            "throw_new_error_on_trip": False,
        }

    def call(self, service, method, *args, context=None, timeout=None, **kwargs):
        started = time.perf_counter()
        outcome = "ok"
        try:
            return self.breaker(service).call(
                self._call, service, method, args, kwargs, context or {}, timeout or self.timeout
            )
        except pybreaker.CircuitBreakerError:
            outcome = "circuit_open"
            raise ServiceUnavailable(f"Circuit open for {service}") from None
        except RpcError as exc:
            outcome = type(exc).__name__
            raise
        finally:
            if self.observer is not None:
                self.observer(service, method, outcome, time.perf_counter() - started)

    def probe(self, service, method, timeout):
        """A call outside the service's circuit: it neither counts toward it nor
        is refused by it. Readiness checks, which anyone may send with a short
        deadline, must not open a merely slow service's circuit for everyone."""
        return self._call(service, method, (), {}, {}, timeout)

    def breaker(self, service):
        with self._lock:
            if service not in self._breakers:
                self._breakers[service] = _Breaker(name=service, **self._breaker_args)
            return self._breakers[service]

    def ping(self):
        """Raise ``BrokerUnavailable`` unless the client is connected to the broker."""
        self.broker().ensure_connected()

    def broker(self):
        # Started on first use, so that a client made before gunicorn forks its
        # workers gets its I/O thread in the worker that uses it.
        with self._lock:
            if self._broker is None or not self._broker.alive:
                self._broker = _Broker(
                    self.nodes, self.exchange, self.connect_timeout, self.reconnect_seconds
                )
            return self._broker

    def close(self):
        with self._lock:
            broker, self._broker = self._broker, None
        if broker is not None:
            broker.close()

    def _call(self, service, method, args, kwargs, context, timeout):
        broker = self.broker()
        properties = pika.BasicProperties(
            content_type="application/json",
            content_encoding="utf-8",
            correlation_id=uuid.uuid4().hex,
            headers={
                f"nameko.{key}": value for key, value in context.items() if value is not None
            },
            # A request nobody took within the timeout is dropped by the broker
            # rather than run later for a caller that has given up.
            expiration=str(max(1, int(timeout * 1000))),
        )
        body = json.dumps({"args": list(args), "kwargs": kwargs})
        reply = json.loads(broker.send(f"{service}.{method}", body, properties, timeout))
        error = reply.get("error")
        if error:
            raise RemoteError(error.get("exc_type"), error.get("exc_args"), error.get("value"))
        return reply.get("result")
