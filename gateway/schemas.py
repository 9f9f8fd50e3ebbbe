"""The HTTP contract: request bodies are validated and responses dumped with these.

They are the gateway's own (the API a client sees), not the services'
internal schemas; the services validate again and stay the authority. The
OpenAPI document is generated from these same classes.
"""

from marshmallow import Schema, fields, validate

from shop.money import Money
from shop.validation import MAX_ID

ROLES = ("customer", "admin")
STATUSES = ("active", "disabled")
ORDER_STATUSES = ("pending", "confirmed", "rejected", "cancelled", "completed")


def _id(**kwargs):
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


def _timestamp():
    return fields.String(metadata={"format": "date-time"})


def _price(**kwargs):
    # Money accepts a number too, but the documented form is the exact string.
    pattern = r"^\d{1,10}(\.\d{1,2})?$"
    return Money(metadata={"type": "string", "pattern": pattern, "example": "19.99"}, **kwargs)


# --- requests -------------------------------------------------------------


class SignUpSchema(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    password = fields.String(required=True, load_only=True, validate=validate.Length(8, 128))


class UserPatchSchema(Schema):
    email = fields.Email(validate=validate.Length(max=254))
    name = fields.String(validate=validate.Length(min=1, max=100))
    password = fields.String(load_only=True, validate=validate.Length(8, 128))
    role = fields.String(validate=validate.OneOf(ROLES), metadata={"description": "admin only"})
    status = fields.String(
        validate=validate.OneOf(STATUSES), metadata={"description": "admin only"}
    )


class CredentialsSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(required=True, load_only=True, validate=validate.Length(1, 128))


class ProductCreateSchema(Schema):
    sku = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=64), validate.Regexp(r"^[A-Za-z0-9._-]+$")],
    )
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    price = _price(required=True)
    stock = fields.Integer(strict=True, validate=validate.Range(0, 1_000_000_000))


class ProductPatchSchema(Schema):
    sku = fields.String(
        validate=[validate.Length(min=1, max=64), validate.Regexp(r"^[A-Za-z0-9._-]+$")]
    )
    name = fields.String(validate=validate.Length(min=1, max=200))
    price = _price()


class StockChangeSchema(Schema):
    delta = fields.Integer(
        required=True,
        strict=True,
        validate=[validate.Range(-1_000_000, 1_000_000), validate.NoneOf([0])],
        metadata={"description": "Units to add (positive) or remove (negative)"},
    )


class OrderLineSchema(Schema):
    product_id = _id(required=True)
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(1, 1000))


class OrderCreateSchema(Schema):
    items = fields.List(
        fields.Nested(OrderLineSchema), required=True, validate=validate.Length(min=1, max=100)
    )


class PageQuerySchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(1, 1_000_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(1, 100))


class OrdersQuerySchema(PageQuerySchema):
    # Not strict: query values arrive as text.
    user_id = fields.Integer(
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={"description": "admin only: one user's orders"},
    )


# --- responses ------------------------------------------------------------


class UserSchema(Schema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    points = fields.Integer(required=True)
    created_at = _timestamp()
    updated_at = _timestamp()


class TokenSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True, metadata={"description": "seconds"})


class ProductSchema(Schema):
    id = fields.Integer(required=True)
    sku = fields.String(required=True)
    name = fields.String(required=True)
    price = fields.String(required=True, metadata={"example": "19.99"})
    stock = fields.Integer(required=True)
    reserved = fields.Integer(required=True)
    created_at = _timestamp()
    updated_at = _timestamp()


class OrderItemSchema(Schema):
    product_id = fields.Integer(required=True)
    quantity = fields.Integer(required=True)
    unit_price = fields.String(required=True, metadata={"example": "19.99"})


class OrderSchema(Schema):
    id = fields.Integer(required=True)
    user_id = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(ORDER_STATUSES))
    items = fields.List(fields.Nested(OrderItemSchema), required=True)
    total = fields.String(required=True, metadata={"example": "19.99"})
    created_at = _timestamp()
    updated_at = _timestamp()


def _page_of(item_schema, name):
    return type(
        name,
        (Schema,),
        {
            "items": fields.List(fields.Nested(item_schema), required=True),
            "page": fields.Integer(required=True),
            "per_page": fields.Integer(required=True),
            "total": fields.Integer(required=True),
        },
    )


UserPageSchema = _page_of(UserSchema, "UserPageSchema")
ProductPageSchema = _page_of(ProductSchema, "ProductPageSchema")
OrderPageSchema = _page_of(OrderSchema, "OrderPageSchema")


class ErrorSchema(Schema):
    error = fields.String(required=True, metadata={"example": "VALIDATION_ERROR"})
    message = fields.String(required=True)
    details = fields.Dict(required=True)
    request_id = fields.String(required=True)


class StatusSchema(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})
    checks = fields.Dict(keys=fields.String(), values=fields.String())
