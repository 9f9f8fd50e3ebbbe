from marshmallow import EXCLUDE, Schema, fields, validate

from shop.contract import MAX_ID, MAX_ORDER_LINES, MAX_QUANTITY
from shop.money import Money
from shop.validation import IdempotencyKey


class OrderLineSchema(Schema):
    product_id = fields.Integer(required=True, strict=True, validate=validate.Range(1, MAX_ID))
    quantity = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=MAX_QUANTITY)
    )


class ProductPricedSchema(Schema):
    """Inventory's announcement of a price (``product_priced``)."""

    class Meta:
        unknown = EXCLUDE  # what a newer inventory adds is not this version's business

    product_id = fields.Integer(required=True, strict=True, validate=validate.Range(1, MAX_ID))
    price = Money(required=True)
    price_version = fields.Integer(required=True, strict=True, validate=validate.Range(1, MAX_ID))


class CreateOrderSchema(Schema):
    # Bounded like every id: SQLite cannot bind a bigger integer (in the idempotency lookup).
    user_id = fields.Integer(required=True, strict=True, validate=validate.Range(1, MAX_ID))
    items = fields.List(
        fields.Nested(OrderLineSchema),
        required=True,
        validate=validate.Length(
            min=1, max=MAX_ORDER_LINES, error="An order needs 1 to {max} lines."
        ),
    )
    idempotency_key = IdempotencyKey


class OrderItemSchema(Schema):
    product_id = fields.Integer()
    quantity = fields.Integer()
    unit_price = Money(attribute="unit_price_cents")


class OrderSchema(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    status = fields.String()
    items = fields.List(fields.Nested(OrderItemSchema))
    total = Money(attribute="total_cents")
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
