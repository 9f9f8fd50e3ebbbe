"""The HTTP contract: request bodies are validated and responses dumped with these.

They are the gateway's own (the API a client sees), not the services'
internal schemas; the services validate again and stay the authority. Every
limit comes from shop/contract.py, so both sides refuse the same input. The
OpenAPI document is generated from these same classes.
"""

from marshmallow import Schema, ValidationError, fields, validate

from shop.contract import (
    DEFAULT_PER_PAGE,
    EMAIL_LENGTH,
    LOGIN_PASSWORD_LENGTH,
    MAX_ID,
    MAX_ORDER_LINES,
    MAX_PAGE,
    MAX_PER_PAGE,
    MAX_QUANTITY,
    MAX_STOCK,
    MAX_STOCK_DELTA,
    ORDER_STATUSES,
    PASSWORD_LENGTH,
    PRICE_PATTERN,
    PRODUCT_NAME_LENGTH,
    ROLES,
    SKU_CHARACTERS,
    SKU_LENGTH,
    UNSTORABLE_CHARACTERS,
    USER_NAME_LENGTH,
    USER_STATUSES,
)

# Documented only: gateway.api.load_body refuses such text anywhere in a body.
STORABLE_TEXT = {"pattern": f"^[^{UNSTORABLE_CHARACTERS}]*$"}


class Pattern(validate.Regexp):
    """A regex with JSON Schema's meaning, which the document states: the whole text
    must match, so ``$`` is its end (Python's also matches before a final newline)."""

    def __call__(self, value):
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


def _id(**kwargs):
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


def _text(length, **kwargs):
    return fields.String(validate=validate.Length(*length), metadata=STORABLE_TEXT, **kwargs)


def _sku(**kwargs):
    pattern = Pattern(f"^[{SKU_CHARACTERS}]+$", error="Letters, digits, '.', '_' and '-' only.")
    return fields.String(validate=[validate.Length(*SKU_LENGTH), pattern], **kwargs)


def _timestamp():
    return fields.String(metadata={"format": "date-time"})


def _price(**kwargs):
    # Only the documented form, so that what the document allows is what is accepted:
    # inventory's Money also takes numbers, " 1.5" and "1e2", which no pattern describes.
    return fields.String(
        validate=Pattern(PRICE_PATTERN, error='A decimal string such as "19.99".'),
        metadata={"example": "19.99"},
        **kwargs,
    )


# --- requests -------------------------------------------------------------


class SignUpSchema(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=EMAIL_LENGTH[1]))
    name = _text(USER_NAME_LENGTH, required=True)
    password = _text(PASSWORD_LENGTH, required=True, load_only=True)


class UserPatchSchema(Schema):
    email = fields.Email(validate=validate.Length(max=EMAIL_LENGTH[1]))
    name = _text(USER_NAME_LENGTH)
    password = _text(PASSWORD_LENGTH, load_only=True)
    role = fields.String(validate=validate.OneOf(ROLES), metadata={"description": "admin only"})
    status = fields.String(
        validate=validate.OneOf(USER_STATUSES), metadata={"description": "admin only"}
    )


class CredentialsSchema(Schema):
    email = _text(EMAIL_LENGTH, required=True)
    password = _text(LOGIN_PASSWORD_LENGTH, required=True, load_only=True)


class ProductCreateSchema(Schema):
    sku = _sku(required=True)
    name = _text(PRODUCT_NAME_LENGTH, required=True)
    price = _price(required=True)
    stock = fields.Integer(strict=True, validate=validate.Range(0, MAX_STOCK))


class ProductPatchSchema(Schema):
    sku = _sku()
    name = _text(PRODUCT_NAME_LENGTH)
    price = _price()


class StockChangeSchema(Schema):
    delta = fields.Integer(
        required=True,
        strict=True,
        validate=[validate.Range(-MAX_STOCK_DELTA, MAX_STOCK_DELTA), validate.NoneOf([0])],
        metadata={
            "description": "Units to add (positive) or remove (negative)",
            "not": {"enum": [0]},
        },
    )


class OrderLineRequest(Schema):
    product_id = _id(required=True)
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(1, MAX_QUANTITY))


class OrderCreateSchema(Schema):
    items = fields.List(
        fields.Nested(OrderLineRequest),
        required=True,
        validate=validate.Length(min=1, max=MAX_ORDER_LINES),
    )


class PageQuerySchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(1, MAX_PAGE))
    per_page = fields.Integer(
        load_default=DEFAULT_PER_PAGE, validate=validate.Range(1, MAX_PER_PAGE)
    )


class OrdersQuerySchema(PageQuerySchema):
    # Not strict: query values arrive as text.
    user_id = fields.Integer(
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={"description": "admin only: one user's orders"},
    )


# --- responses ------------------------------------------------------------


class UserResponse(Schema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    status = fields.String(required=True, validate=validate.OneOf(USER_STATUSES))
    points = fields.Integer(required=True)
    created_at = _timestamp()
    updated_at = _timestamp()


class TokenSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True, metadata={"description": "seconds"})


class ProductResponse(Schema):
    id = fields.Integer(required=True)
    sku = fields.String(required=True)
    name = fields.String(required=True)
    price = fields.String(required=True, metadata={"example": "19.99"})
    stock = fields.Integer(required=True)
    reserved = fields.Integer(required=True)
    created_at = _timestamp()
    updated_at = _timestamp()


class OrderItemResponse(Schema):
    product_id = fields.Integer(required=True)
    quantity = fields.Integer(required=True)
    unit_price = fields.String(required=True, metadata={"example": "19.99"})


class OrderResponse(Schema):
    id = fields.Integer(required=True)
    user_id = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(ORDER_STATUSES))
    items = fields.List(fields.Nested(OrderItemResponse), required=True)
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


UserPageSchema = _page_of(UserResponse, "UserPageSchema")
ProductPageSchema = _page_of(ProductResponse, "ProductPageSchema")
OrderPageSchema = _page_of(OrderResponse, "OrderPageSchema")


class ErrorSchema(Schema):
    error = fields.String(required=True, metadata={"example": "VALIDATION_ERROR"})
    message = fields.String(required=True)
    details = fields.Dict(required=True)
    request_id = fields.String(required=True)


class StatusSchema(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})
    checks = fields.Dict(keys=fields.String(), values=fields.String())
