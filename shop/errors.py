"""The error types every service raises at its RPC boundary.

Nameko serialises a remote exception as its class name, path and args, so
each error keeps ``(message, details)`` as its args: the gateway turns the
class name into an HTTP status through one table and passes the details on.
Registered with ``deserialize_to_instance``, they reach a Nameko caller (a
service, ``nameko shell``) as these same types rather than ``RemoteError``.
"""

from nameko.exceptions import deserialize_to_instance


class ShopError(Exception):
    def __init__(self, message, details=None):
        super().__init__(message, details or {})
        self.message = message
        self.details = details or {}

    def __str__(self):
        return self.message


@deserialize_to_instance
class ValidationError(ShopError):
    """The input broke the contract; ``details`` maps fields to messages."""


@deserialize_to_instance
class NotFound(ShopError):
    """The addressed record does not exist (or is soft-deleted)."""


@deserialize_to_instance
class Conflict(ShopError):
    """The request clashes with the current state (taken email, bad transition)."""


@deserialize_to_instance
class Unauthorized(ShopError):
    """Credentials were wrong, or the account may not log in."""


@deserialize_to_instance
class Unavailable(ShopError):
    """Something this service needs (its database, a service it calls, the
    broker) cannot be reached right now; the same call may succeed later."""


@deserialize_to_instance
class UpstreamTimeout(ShopError):
    """A service this one called did not answer within ``RPC_TIMEOUT_SECONDS``."""
