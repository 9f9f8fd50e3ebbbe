"""Marshmallow at the RPC boundary: turn its errors into the shop's."""

import re

import marshmallow
from marshmallow import fields, validate

from shop.contract import (
    IDEMPOTENCY_KEY_LENGTH,
    MAX_ID,
    MAX_PAGE,
    MAX_PER_PAGE,
    UNSTORABLE_CHARACTERS,
)
from shop.errors import ValidationError

# PostgreSQL and SQLite both store UTF-8, so the driver fails to encode a lone surrogate.
_UNSTORABLE = re.compile(f"[{UNSTORABLE_CHARACTERS}]")
UNSTORABLE_TEXT = "Must not contain NUL characters or lone surrogates."

# The optional key that makes a retried (or redelivered) write take effect once.
IdempotencyKey = fields.String(
    load_default=None, allow_none=True, validate=validate.Length(*IDEMPOTENCY_KEY_LENGTH)
)


def has_unstorable_text(value):
    """True when a string anywhere in ``value`` (dict keys included) holds a character
    that no database here can store."""
    pending = [value]  # a loop, not recursion: no nesting depth can exhaust the stack
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return False


def _fields_with_unstorable_text(data):
    return sorted(
        str(field)
        for field, value in data.items()
        if has_unstorable_text(field) or has_unstorable_text(value)
    )


def load(schema, data, **kwargs):
    """Validate ``data`` with ``schema`` or raise ``ValidationError`` with field messages."""
    if not isinstance(data, dict):
        raise ValidationError("Invalid input", {"_schema": ["Expected an object."]})
    if bad_fields := _fields_with_unstorable_text(data):
        raise ValidationError("Invalid input", {field: [UNSTORABLE_TEXT] for field in bad_fields})
    try:
        return schema.load(data, **kwargs)
    except marshmallow.ValidationError as exc:
        raise ValidationError("Invalid input", exc.normalized_messages()) from None


def positive_id(value, field="id"):
    """Accept a positive integer id (never a bool, float or string)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise ValidationError("Invalid input", {field: ["Must be a positive integer."]})
    return value


def page_args(page, per_page):
    """Validate list paging arguments; returns ``(page, per_page)``."""
    details = {}
    if isinstance(page, bool) or not isinstance(page, int) or not 1 <= page <= MAX_PAGE:
        details["page"] = [f"Must be an integer from 1 to {MAX_PAGE}."]
    if (
        isinstance(per_page, bool)
        or not isinstance(per_page, int)
        or not 1 <= per_page <= MAX_PER_PAGE
    ):
        details["per_page"] = [f"Must be an integer from 1 to {MAX_PER_PAGE}."]
    if details:
        raise ValidationError("Invalid input", details)
    return page, per_page
