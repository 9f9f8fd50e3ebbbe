"""Orders: customers place and cancel their own, admins see all and complete them."""

from flask import Blueprint, request

from gateway import auth
from gateway.api import endpoint, idempotency_header, rpc
from gateway.schemas import OrderCreateSchema, OrderPageSchema, OrderResponse, OrdersQuerySchema

bp = Blueprint("orders", __name__, url_prefix="/api/orders")

IDEMPOTENCY_HEADER = idempotency_header("returns the same order instead of a new one")


def _own_order(caller, order_id):
    order = rpc("orders", "get_order", order_id)
    if order["user_id"] != caller.id and not caller.is_admin:
        raise auth.forbidden("Not your order")
    return order


@bp.post("")
@endpoint(
    "Place an order (answers at once with status pending)",
    access="user",
    body=OrderCreateSchema,
    response=OrderResponse,
    status=201,
    errors=(404, 409),
    headers=(IDEMPOTENCY_HEADER,),
)
def create_order(caller, body):
    key = request.headers.get("Idempotency-Key")
    return rpc("orders", "create_order", caller.id, body["items"], idempotency_key=key)


@bp.get("")
@endpoint(
    "List orders (your own; admins: all or one user's)",
    access="user",
    query=OrdersQuerySchema,
    response=OrderPageSchema,
    errors=(403,),
)
def list_orders(caller, query):
    user_id = query.get("user_id")
    if not caller.is_admin:
        if user_id not in (None, caller.id):
            raise auth.forbidden("You may only list your own orders")
        user_id = caller.id
    return rpc(
        "orders", "list_orders", user_id=user_id, page=query["page"], per_page=query["per_page"]
    )


@bp.get("/<int:order_id>")
@endpoint("One order (owner or admin)", access="user", response=OrderResponse, errors=(403, 404))
def get_order(caller, order_id):
    return _own_order(caller, order_id)


@bp.post("/<int:order_id>/cancel")
@endpoint(
    "Cancel an order (owner or admin)",
    access="user",
    response=OrderResponse,
    errors=(403, 404, 409),
)
def cancel_order(caller, order_id):
    _own_order(caller, order_id)
    return rpc("orders", "cancel_order", order_id)


@bp.post("/<int:order_id>/complete")
@endpoint("Complete a confirmed order", access="admin", response=OrderResponse, errors=(404, 409))
def complete_order(order_id):
    return rpc("orders", "complete_order", order_id)
