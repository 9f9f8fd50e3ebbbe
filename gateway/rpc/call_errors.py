"""What a call through the RPC client can fail with."""

from shop.contract import BUSINESS_ERRORS


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
