"""Marshmallow at the RPC boundary: turn its errors into the shop's."""

import re

import marshmallow

from shop.errors import ValidationError

MAX_ID = 2**63 - 1  # the largest BIGINT: anything above cannot name a row


# What no text column here can store, though JSON carries both ("\u0000", "\ud800"): NUL,
# which PostgreSQL refuses in every text type, and lone UTF-16 surrogates, which have no
# UTF-8 encoding (PostgreSQL and SQLite both store UTF-8, so the driver fails to encode).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_TEXT = "Must not contain NUL characters or lone surrogates."


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


def page_args(page, per_page, max_per_page=100):
    """Validate list paging arguments; returns ``(page, per_page)``."""
    details = {}
    if isinstance(page, bool) or not isinstance(page, int) or not 1 <= page <= 10**6:
        details["page"] = ["Must be an integer from 1 to 1000000."]
    if (
        isinstance(per_page, bool)
        or not isinstance(per_page, int)
        or not 1 <= per_page <= max_per_page
    ):
        details["per_page"] = [f"Must be an integer from 1 to {max_per_page}."]
    if details:
        raise ValidationError("Invalid input", details)
    return page, per_page
