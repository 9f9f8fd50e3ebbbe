"""Marshmallow at the RPC boundary: turn its errors into the shop's."""

import marshmallow

from extensions.errors import ValidationError

MAX_ID = 2**63 - 1  # the largest BIGINT: anything above cannot name a row


def contains_nul(value):
    """True when a string anywhere in ``value`` (keys included) holds a NUL character,
    which no PostgreSQL text type can store."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(contains_nul(item) for item in value)
    return False


def _fields_with_nul(data):
    return sorted(
        str(field) for field, value in data.items() if contains_nul(field) or contains_nul(value)
    )


def load(schema, data, **kwargs):
    """Validate ``data`` with ``schema`` or raise ``ValidationError`` with field messages."""
    if not isinstance(data, dict):
        raise ValidationError("Invalid input", {"_schema": ["Expected an object."]})
    if nul_fields := _fields_with_nul(data):
        raise ValidationError(
            "Invalid input", {field: ["Must not contain a NUL character."] for field in nul_fields}
        )
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
