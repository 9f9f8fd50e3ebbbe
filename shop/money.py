"""Money is exact: integer cents in databases, a two-place decimal string in JSON."""

from decimal import Decimal, InvalidOperation

from marshmallow import ValidationError, fields

from shop.contract import MAX_CENTS

CENT = Decimal("0.01")


def format_cents(cents):
    """``1999`` -> ``"19.99"``."""
    return str((Decimal(cents) * CENT).quantize(CENT))


def parse_amount(value):
    """A decimal string or number with at most two places -> cents; ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("Not a number.")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError("Not a number.") from None
    if not amount.is_finite():
        raise ValueError("Not a number.")
    # Bounds first: quantizing a huge amount overflows the decimal context.
    if not 0 <= amount <= MAX_CENTS * CENT:
        raise ValueError(f"Must be between 0.00 and {format_cents(MAX_CENTS)}.")
    if amount != amount.quantize(CENT):
        raise ValueError("Use at most two decimal places.")
    return int(amount / CENT)


class Money(fields.Field):
    """A marshmallow field: loads an amount into cents, dumps cents as ``"19.99"``."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else format_cents(value)

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return parse_amount(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
