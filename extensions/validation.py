"""Marshmallow at the RPC boundary: turn its errors into the shop's."""

import marshmallow

from extensions.errors import ValidationError

MAX_ID = 2**63 - 1  # the largest BIGINT: anything above cannot name a row


def _fields_with_nul(data):
    """Top-level fields holding a NUL character anywhere (PostgreSQL cannot store one)."""

    def has_nul(value):
        if isinstance(value, str):
            return "\x00" in value
        if isinstance(value, dict):
            return any(has_nul(k) or has_nul(v) for k, v in value.items())
        if isinstance(value, list):
            return any(has_nul(v) for v in value)
        return False

    return sorted(str(field) for field, value in data.items() if has_nul(field) or has_nul(value))


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
