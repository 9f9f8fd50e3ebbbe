"""``RpcClient``: a call encoded as Nameko's request, sent through its service's circuit
breaker, and its reply decoded (the wire protocol: gateway/rpc/__init__.py)."""

import json
import threading
import time
import uuid

import pika
import pybreaker

from gateway.rpc.call_errors import RemoteError, RpcError, ServiceUnavailable
from gateway.rpc.circuit import Breaker, counts_toward_circuit
from gateway.rpc.connection import pika_parameters
from gateway.rpc.publisher import Publisher

EXCHANGE = "nameko-rpc"


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
        self._publisher = None
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
                self._breakers[service] = Breaker(name=service, **self._breaker_args)
            return self._breakers[service]

    def ping(self):
        """Raise ``BrokerUnavailable`` unless the client is connected to the broker."""
        self.broker().ensure_connected()

    def broker(self):
        """The connection to the broker, with its reply queue (``reply_to``)."""
        return self.publisher().connection

    def publisher(self):
        # Started on first use, so that a client made before gunicorn forks its
        # workers gets its I/O thread in the worker that uses it.
        with self._lock:
            if self._publisher is None or not self._publisher.connection.alive:
                self._publisher = Publisher(
                    self.nodes, self.exchange, self.connect_timeout, self.reconnect_seconds
                )
            return self._publisher

    def close(self):
        with self._lock:
            publisher, self._publisher = self._publisher, None
        if publisher is not None:
            publisher.connection.close()

    def _call(self, service, method, args, kwargs, context, timeout):
        publisher = self.publisher()
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
        reply = json.loads(publisher.send(f"{service}.{method}", body, properties, timeout))
        error = reply.get("error")
        if error:
            raise RemoteError(error.get("exc_type"), error.get("exc_args"), error.get("value"))
        return reply.get("result")
