"""One circuit breaker per service, tripped only by the service's own failures."""

import pybreaker

from gateway.rpc.call_errors import (
    BrokerUnavailable,
    RemoteError,
    ServiceUnavailable,
    UpstreamTimeout,
)

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


class Breaker(pybreaker.CircuitBreaker):
    """pybreaker's ``call`` holds the breaker's lock for the whole call, which
    lets one thread at a time talk to a service. Only the state changes need
    the lock, and those take it themselves."""

    def call(self, func, *args, **kwargs):
        return self.state.call(func, *args, **kwargs)
