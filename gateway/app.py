"""``create_app(config=None)``: the Flask gateway in front of the Nameko services."""

from functools import partial

from flask import Flask, g

from gateway import http_errors, request_tracing, settings
from gateway.blueprints import ops, orders, products, tokens, users
from gateway.limits import RateLimits
from gateway.observability import HttpMetrics, begin_request, configure_logging, finish_request
from gateway.openapi import bp as docs_bp
from gateway.rpc import RpcClient


def create_app(config=None, rpc_client=None):
    """``rpc_client`` replaces the pika client (the benchmark's peer gateway uses it)."""
    app = Flask(__name__)
    app.config.update(settings.load(config))
    app.json.sort_keys = False
    configure_logging(app.config["LOG_LEVEL"], app.config.get("LOGGING"))

    app.extensions["shop.tracer"] = request_tracing.make_tracer(app.config.get("TRACING"))
    metrics = HttpMetrics()
    app.extensions["shop.metrics"] = metrics
    app.extensions["shop.rpc"] = rpc_client or RpcClient(
        app.config["AMQP_URI"],
        timeout=app.config["RPC_TIMEOUT"],
        breaker_fail_max=app.config["BREAKER_FAIL_MAX"],
        breaker_reset_seconds=app.config["BREAKER_RESET_SECONDS"],
        observer=metrics.observe_rpc,
    )

    # First, so that even a request refused by the limiter has an id.
    app.before_request(begin_request)
    http_errors.register(app)
    RateLimits(app.config, exempt=(ops.bp, docs_bp)).init_app(app)
    for blueprint in (users.bp, tokens.bp, products.bp, orders.bp, ops.bp, docs_bp):
        app.register_blueprint(blueprint)
    app.after_request(partial(finish_request, metrics))
    app.teardown_request(lambda _exc: request_tracing.end_request_span(g.get("status")))
    return app
