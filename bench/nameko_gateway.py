"""Peer (b): a Nameko-native HTTP gateway (``@http`` + ``RpcProxy``), as nameko-examples builds it.

It serves the two benchmarked routes with the same auth check and JSON:
``nameko run --config <cfg> bench.nameko_gateway``.
"""

import json

import jwt
from nameko.dependency_providers import Config
from nameko.rpc import RpcProxy
from nameko.web.handlers import http
from werkzeug import Response

from shop.errors import NotFound, ShopError, Unauthorized, ValidationError

STATUS = {ValidationError: 400, Unauthorized: 401, NotFound: 404}


def _json(status, body):
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _error(exc):
    status = next((s for t, s in STATUS.items() if isinstance(exc, t)), 409)
    return _json(status, {"error": type(exc).__name__, "message": exc.message})


class HttpGateway:
    name = "http_gateway"

    config = Config()
    inventory = RpcProxy("inventory")
    orders = RpcProxy("orders")

    @http("GET", "/api/products/<int:product_id>")
    def get_product(self, request, product_id):
        try:
            return _json(200, self.inventory.get_product(product_id))
        except ShopError as exc:
            return _error(exc)

    @http("POST", "/api/orders")
    def create_order(self, request):
        token = self.config["TOKEN"]
        _scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
        try:
            claims = jwt.decode(raw, token["SECRET"], algorithms=[token["ALGORITHM"]])
        except jwt.InvalidTokenError:
            return _json(401, {"error": "UNAUTHORIZED"})
        body = json.loads(request.get_data(as_text=True))
        try:
            order = self.orders.create_order(
                int(claims["sub"]),
                body["items"],
                idempotency_key=request.headers.get("Idempotency-Key"),
            )
        except ShopError as exc:
            return _error(exc)
        return _json(201, order)
