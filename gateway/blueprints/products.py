"""The catalogue: anyone browses, admins change products and stock."""

from flask import Blueprint

from gateway.api import endpoint, idempotency_header, request_idempotency_key, rpc
from gateway.schemas import (
    PageQuerySchema,
    ProductCreateSchema,
    ProductPageSchema,
    ProductPatchSchema,
    ProductResponse,
    StockChangeSchema,
)

bp = Blueprint("products", __name__, url_prefix="/api/products")


@bp.get("")
@endpoint("List products", query=PageQuerySchema, response=ProductPageSchema)
def list_products(query):
    return rpc("inventory", "list_products", page=query["page"], per_page=query["per_page"])


@bp.get("/<int:product_id>")
@endpoint("One product", response=ProductResponse, errors=(404,))
def get_product(product_id):
    return rpc("inventory", "get_product", product_id)


@bp.post("")
@endpoint(
    "Add a product",
    access="admin",
    body=ProductCreateSchema,
    response=ProductResponse,
    status=201,
    errors=(409,),
)
def create_product(body):
    return rpc("inventory", "create_product", body)


@bp.patch("/<int:product_id>")
@endpoint(
    "Change a product",
    access="admin",
    body=ProductPatchSchema,
    response=ProductResponse,
    errors=(404, 409),
)
def update_product(product_id, body):
    return rpc("inventory", "update_product", product_id, body)


@bp.post("/<int:product_id>/stock")
@endpoint(
    "Add or remove stock",
    access="admin",
    body=StockChangeSchema,
    response=ProductResponse,
    errors=(404, 409),
    headers=(
        idempotency_header(
            "changes the stock once and answers with the product as it is"
            " (409 if the key was used with another delta)"
        ),
    ),
)
def adjust_stock(product_id, body):
    key = request_idempotency_key()
    return rpc("inventory", "adjust_stock", product_id, body["delta"], idempotency_key=key)
