"""The error types every service raises at its RPC boundary.

Nameko serialises a remote exception as its class name, path and args, so
each error keeps ``(message, details)`` as its args: the gateway turns the
class name into an HTTP status through one table and passes the details on.
"""


class ShopError(Exception):
    def __init__(self, message, details=None):
        super().__init__(message, details or {})
        self.message = message
        self.details = details or {}

    def __str__(self):
        return self.message


class ValidationError(ShopError):
    """The input broke the contract; ``details`` maps fields to messages."""


class NotFound(ShopError):
    """The addressed record does not exist (or is soft-deleted)."""


class Conflict(ShopError):
    """The request clashes with the current state (taken email, bad transition)."""


class Unauthorized(ShopError):
    """Credentials were wrong, or the account may not log in."""
