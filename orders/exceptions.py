"""The errors the orders service raises over RPC (mapped to HTTP by the gateway)."""

from shop.errors import Conflict, NotFound, ValidationError

__all__ = ["Conflict", "NotFound", "ValidationError"]
