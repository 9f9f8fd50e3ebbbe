"""A thread-safe Nameko RPC client on pika.

It speaks Nameko's wire protocol: a JSON ``{"args", "kwargs"}`` message to the
``nameko-rpc`` topic exchange with routing key ``service.method``, context data
in ``nameko.*`` headers, and the reply published back to the same exchange
with our ``reply_to`` as routing key (so the reply queue must be bound there:
RabbitMQ's direct reply-to never sees Nameko's replies).

A pika ``BlockingConnection`` may be used by one thread at a time, so each
``_Link`` (connection, channel, reply queue) is checked out of a pool for one
call and handed back after it: threads never share a link, links are reused
across requests, and the pool grows to the peak number of concurrent calls.
"""

import json
import logging
import threading
import time
import uuid

import pika
import pika.exceptions
import pybreaker

log = logging.getLogger(__name__)

EXCHANGE = "nameko-rpc"
BUSINESS_ERRORS = frozenset({"ValidationError", "NotFound", "Conflict", "Unauthorized"})
_AMQP_FAILURES = (pika.exceptions.AMQPError, OSError)


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
    # Nameko (kombu) spells the scheme "pyamqp"; pika only knows "amqp(s)".
    uri = amqp_uri.replace("pyamqp://", "amqp://", 1)
    params = pika.URLParameters(uri)
    params.connection_attempts = 1
    params.socket_timeout = connect_timeout
    params.stack_timeout = connect_timeout * 2
    # Idle pooled links process no frames, so they could not answer heartbeats
    # and the broker would drop them; a dead link is detected and replaced on use.
    params.heartbeat = 0
    return params


class _Link:
    """One connection, channel and exclusive reply queue, used by one thread at a time."""

    def __init__(self, params, exchange):
        self.exchange = exchange
        self.connection = pika.BlockingConnection(params)
        try:
            self.channel = self.connection.channel()
            self.channel.exchange_declare(exchange, exchange_type="topic", durable=True)
            self.reply_to = f"rpc.reply-gateway-{uuid.uuid4()}"
            self.channel.queue_declare(self.reply_to, exclusive=True, auto_delete=True)
            self.channel.queue_bind(self.reply_to, exchange, routing_key=self.reply_to)
            self.channel.basic_consume(self.reply_to, self._on_reply, auto_ack=True)
            self.channel.add_on_return_callback(self._on_return)
        except BaseException:
            self.close()
            raise
        self.replies = {}
        self.returned = set()

    def _on_reply(self, _channel, _method, properties, body):
        self.replies[properties.correlation_id] = body

    def _on_return(self, _channel, _method, properties, _body):
        self.returned.add(properties.correlation_id)

    def publish(self, routing_key, body, headers, timeout):
        correlation_id = uuid.uuid4().hex
        properties = pika.BasicProperties(
            content_type="application/json",
            content_encoding="utf-8",
            reply_to=self.reply_to,
            correlation_id=correlation_id,
            headers=headers,
            # A request nobody took within the timeout is dropped by the broker
            # rather than run later for a caller that has given up.
            expiration=str(max(1, int(timeout * 1000))),
        )
        # mandatory: an unroutable request (no such service) comes back at once.
        self.channel.basic_publish(
            self.exchange, routing_key, body, properties=properties, mandatory=True
        )
        return correlation_id

    def wait(self, correlation_id, deadline):
        while correlation_id not in self.replies:
            if correlation_id in self.returned:
                self.returned.discard(correlation_id)
                raise ServiceUnavailable("No such service")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise UpstreamTimeout("No reply in time")
            self.connection.process_data_events(time_limit=remaining)
        body = self.replies.pop(correlation_id)
        # Late replies to calls that timed out earlier are of no use to anyone.
        self.replies.clear()
        return body

    @property
    def is_open(self):
        return self.connection.is_open and self.channel.is_open

    def close(self):
        try:
            if self.connection.is_open:
                self.connection.close()
        except _AMQP_FAILURES:
            pass


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
        max_idle=64,
        breaker_fail_max=5,
        breaker_reset_seconds=10.0,
        exchange=EXCHANGE,
        observer=None,
    ):
        self.params = pika_parameters(amqp_uri, connect_timeout)
        self.timeout = timeout
        self.max_idle = max_idle
        self.exchange = exchange
        self.observer = observer  # called as observer(service, method, outcome, seconds)
        self._idle = []
        self._lock = threading.Lock()
        self._breakers = {}
        self._breaker_args = {
            "fail_max": breaker_fail_max,
            "reset_timeout": breaker_reset_seconds,
            # Business errors are the service answering correctly, and a broker
            # outage is nobody's service's fault: neither should open a circuit.
            "exclude": [
                lambda exc: (
                    isinstance(exc, BrokerUnavailable)
                    or (isinstance(exc, RemoteError) and exc.is_business_error)
                )
            ],
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

    def breaker(self, service):
        with self._lock:
            if service not in self._breakers:
                self._breakers[service] = _Breaker(name=service, **self._breaker_args)
            return self._breakers[service]

    def ping(self):
        """Raise ``BrokerUnavailable`` unless a link to the broker can be had."""
        self._release(self._acquire())

    def close(self):
        with self._lock:
            idle, self._idle = self._idle, []
        for link in idle:
            link.close()

    def _call(self, service, method, args, kwargs, context, timeout):
        body = json.dumps({"args": list(args), "kwargs": kwargs})
        headers = {f"nameko.{key}": value for key, value in context.items() if value is not None}
        deadline = time.monotonic() + timeout
        link, correlation_id = self._publish(f"{service}.{method}", body, headers, timeout)
        try:
            reply = json.loads(link.wait(correlation_id, deadline))
        except _AMQP_FAILURES as exc:
            link.close()
            # Unknown whether the service got it: not safe to send again.
            raise BrokerUnavailable(f"Lost the broker while waiting: {exc!r}") from None
        except BaseException:
            self._release(link)
            raise
        self._release(link)
        error = reply.get("error")
        if error:
            raise RemoteError(error.get("exc_type"), error.get("exc_args"), error.get("value"))
        return reply.get("result")

    def _publish(self, routing_key, body, headers, timeout):
        # A pooled link may have died with a broker restart; a publish that
        # fails on it never reached a broker, so one retry on a fresh link is safe.
        for attempt in (1, 2):
            link = self._acquire(fresh=attempt == 2)
            try:
                return link, link.publish(routing_key, body, headers, timeout)
            except _AMQP_FAILURES as exc:
                link.close()
                if attempt == 2:
                    raise BrokerUnavailable(f"Cannot publish: {exc!r}") from None
        raise AssertionError("unreachable")

    def _acquire(self, fresh=False):
        while not fresh:
            with self._lock:
                if not self._idle:
                    break
                link = self._idle.pop()
            if link.is_open:
                return link
            link.close()
        try:
            return _Link(self.params, self.exchange)
        except _AMQP_FAILURES as exc:
            raise BrokerUnavailable(f"Cannot reach the broker: {exc!r}") from None

    def _release(self, link):
        if link.is_open:
            with self._lock:
                if len(self._idle) < self.max_idle:
                    self._idle.append(link)
                    return
        link.close()
