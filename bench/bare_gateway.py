"""A control, not a peer: Flask + this repo's pika client and nothing else.

No rate limit, access log, metrics, traces, request ids or schema validation:
the same two routes as the Nameko ``@http`` peer, with the same JWT check, so
the benchmark shows what this gateway's features cost under the same load.
Served by gunicorn like ours: ``gunicorn ... bench.bare_gateway:app``.
"""

import os

import jwt
from flask import Flask, jsonify, request

from extensions.config import load_config
from gateway.rpc import RpcClient

config = load_config(os.environ.get("SHOP_CONFIG", "config.yaml"))
client = RpcClient(config["AMQP_URI"])
app = Flask(__name__)


@app.get("/health/live")
def live():
    return {"status": "ok"}


@app.get("/api/products/<int:product_id>")
def get_product(product_id):
    return jsonify(client.call("inventory", "get_product", product_id))


@app.post("/api/orders")
def create_order():
    token = config["TOKEN"]
    raw = request.headers.get("Authorization", "").partition(" ")[2]
    claims = jwt.decode(raw, token["SECRET"], algorithms=[token["ALGORITHM"]])
    order = client.call(
        "orders",
        "create_order",
        int(claims["sub"]),
        request.get_json()["items"],
        idempotency_key=request.headers.get("Idempotency-Key"),
    )
    return jsonify(order), 201
