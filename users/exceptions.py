"""The errors the users service raises over RPC (mapped to HTTP by the gateway)."""

from shop.errors import Conflict, NotFound, Unauthorized, ValidationError

__all__ = ["Conflict", "NotFound", "Unauthorized", "ValidationError"]
