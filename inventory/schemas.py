from marshmallow import Schema, fields, validate

from shop.contract import (
    MAX_ID,
    MAX_PRODUCTS_PER_CALL,
    MAX_STOCK,
    MAX_STOCK_DELTA,
    PRODUCT_NAME_LENGTH,
    SKU_CHARACTERS,
    SKU_LENGTH,
)
from shop.money import Money
from shop.validation import IdempotencyKey


def sku_field(**kwargs):
    return fields.String(
        validate=[
            validate.Length(*SKU_LENGTH),
            # \Z, not $: "$" also matches before a final newline, which let "SKU\n" in.
            validate.Regexp(
                rf"^[{SKU_CHARACTERS}]+\Z", error="Letters, digits, '.', '_' and '-' only."
            ),
        ],
        **kwargs,
    )


def name_field(**kwargs):
    return fields.String(validate=validate.Length(*PRODUCT_NAME_LENGTH), **kwargs)


class CreateProductSchema(Schema):
    sku = sku_field(required=True)
    name = name_field(required=True)
    price = Money(required=True, attribute="price_cents")
    stock = fields.Integer(strict=True, load_default=0, validate=validate.Range(0, MAX_STOCK))


class UpdateProductSchema(Schema):
    """Stock is not here: it changes only through ``adjust_stock`` and reservations."""

    sku = sku_field()
    name = name_field()
    price = Money(attribute="price_cents")


class AdjustStockSchema(Schema):
    delta = fields.Integer(
        required=True,
        strict=True,
        validate=[
            validate.Range(-MAX_STOCK_DELTA, MAX_STOCK_DELTA),
            validate.NoneOf([0], error="Must not be zero."),
        ],
    )
    idempotency_key = IdempotencyKey


class ProductIdsSchema(Schema):
    ids = fields.List(
        fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID)),
        required=True,
        validate=validate.Length(min=1, max=MAX_PRODUCTS_PER_CALL),
    )


class ProductSchema(Schema):
    id = fields.Integer()
    sku = fields.String()
    name = fields.String()
    price = Money(attribute="price_cents")
    stock = fields.Integer()
    reserved = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
