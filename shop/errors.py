"""The error types every service raises at its RPC boundary.

Nameko serialises a remote exception as its class name, path and args, so
each error keeps ``(message, details)`` as its args: the gateway turns the
class name into an HTTP status through one table and passes the details on.
Registered with Nameko's deserialiser, they reach a Nameko caller (a service,
``nameko shell``) as these same types rather than ``RemoteError``.

Nameko finds the type by the module path it was sent with. Until this release
the errors lived in ``extensions/errors.py``, so they are registered under that
path too: during a rolling upgrade a process of this release understands the
errors of one of the release before. The other way round it cannot, so the
upgrade from that release rolls out orders, the one service that calls others,
before users and inventory (docs/deploy.md).
"""

from nameko.exceptions import deserialize_to_instance, registry

_PATH_BEFORE_SHOP = "extensions.errors"


def _registered(error):
    registry[f"{_PATH_BEFORE_SHOP}.{error.__name__}"] = error
    return deserialize_to_instance(error)


class ShopError(Exception):
    def __init__(self, message, details=None):
        super().__init__(message, details or {})
        self.message = message
        self.details = details or {}

    def __str__(self):
        return self.message


@_registered
class ValidationError(ShopError):
    """The input broke the contract; ``details`` maps fields to messages."""


@_registered
class NotFound(ShopError):
    """The addressed record does not exist (or is soft-deleted)."""


@_registered
class Conflict(ShopError):
    """The request clashes with the current state (taken email, bad transition)."""


@_registered
class Unauthorized(ShopError):
    """Credentials were wrong, or the account may not log in."""


@_registered
class Unavailable(ShopError):
    """Something this service needs (its database, a service it calls, the
    broker) cannot be reached right now; the same call may succeed later."""


@_registered
class UpstreamTimeout(ShopError):
    """A service this one called did not answer within ``RPC_TIMEOUT_SECONDS``."""
