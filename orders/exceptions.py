"""The errors the orders service raises over RPC (mapped to HTTP by the gateway)."""

from extensions.errors import Conflict, NotFound, ValidationError

__all__ = ["Conflict", "NotFound", "ValidationError"]
