"""``/openapi.json`` built with apispec from the ``@endpoint`` records, and ``/docs``.

The document is derived from the URL map and the same marshmallow schemas
that validate requests and dump responses, so it cannot drift from the code.
``/docs`` is Swagger UI served from the swagger-ui-bundle package: no network.
"""

import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_cls
from flask import Blueprint, current_app, jsonify, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from gateway.schemas import ErrorSchema
from shop.contract import ERROR_CODES, MAX_ID

bp = Blueprint("docs", __name__)

# What each error status means here; its code (shop/contract.py) follows in brackets.
ERROR_TEXT = {
    400: "Invalid input, with field details",
    401: "No valid bearer token",
    403: "Not allowed for this caller",
    404: "No such record",
    408: "The request did not arrive in time",
    409: "Clashes with the current state",
    413: "Body too large",
    414: "The URL is too long",
    415: "Body is not JSON",
    429: "Too many requests; see Retry-After",
    431: "The headers are too large",
    503: "A service or the broker is down, or its circuit is open",
    504: "A service did not answer in time",
}
# What the server itself may answer to any request, before a route runs
# (gateway/gunicorn_worker.py and gunicorn's request limits).
SERVER_REFUSALS = frozenset({408, 414, 431})
_PATH_ARG = re.compile(r"<(?:\w+:)?(\w+)>")


def _error_statuses(rule, op):
    statuses = set(op.errors) | SERVER_REFUSALS
    if op.body or op.query or rule.arguments:
        statuses.add(400)
    if op.body:
        statuses |= {413, 415}
    if rule.arguments:
        statuses.add(404)  # also what an id that is not a number gets
    if op.access != "anyone":
        statuses.add(401)
    if op.access == "admin":
        statuses.add(403)
    if rule.rule.startswith("/api/"):
        statuses |= {429, 503, 504}
    return sorted(statuses)


def _operation(rule, op):
    success = {"description": op.summary}
    if op.response is not None:
        success["content"] = {op.content_type: {"schema": type(op.response)}}
    elif op.content_type != "application/json":
        success["content"] = {op.content_type: {"schema": {"type": "string"}}}
    responses = {str(op.status): success}
    for status in _error_statuses(rule, op):
        responses[str(status)] = {
            "description": f"{ERROR_TEXT[status]} ({ERROR_CODES[status]})",
            "content": _error_content(),
        }
    operation = {
        "summary": op.summary,
        "tags": [rule.endpoint.split(".")[0]],
        "operationId": rule.endpoint.replace(".", "_"),
        "responses": responses,
        "parameters": list(op.headers),
    }
    if op.query is not None:
        operation["parameters"].append({"in": "query", "schema": type(op.query)})
    if op.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": type(op.body)}},
        }
    if op.access != "anyone":
        operation["security"] = [{"bearerAuth": []}]
    return operation


def _component_name(schema):
    """``OrderResponse`` -> ``Order``: a component is named for what it holds."""
    name = resolve_schema_cls(schema).__name__
    return re.sub(r"(Schema|Request|Response)$", "", name) or name


def _error_content():
    return {"application/json": {"schema": "Error"}}


def build_spec(app):
    marshmallow_plugin = MarshmallowPlugin(schema_name_resolver=_component_name)
    spec = APISpec(
        title="Shop API",
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[marshmallow_plugin],
        info={"description": "Users, products and orders over Nameko services. JSON only."},
    )
    spec.components.schema("Error", schema=ErrorSchema)
    spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        op = getattr(app.view_functions[rule.endpoint], "operation", None)
        if op is None:
            continue
        parameters = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
            }
            for name in _PATH_ARG.findall(rule.rule)
        ]
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        spec.path(
            path=_PATH_ARG.sub(r"{\1}", rule.rule),
            operations={m.lower(): _operation(rule, op) for m in methods},
            parameters=parameters,
        )
    return spec.to_dict()


@bp.get("/openapi.json")
def openapi_json():
    if "shop.openapi" not in current_app.extensions:
        current_app.extensions["shop.openapi"] = build_spec(current_app)
    return jsonify(current_app.extensions["shop.openapi"])


DOCS_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8"><title>Shop API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/static/swagger-ui-standalone-preset.js"></script>
<script>
window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout", validatorUrl: null});
</script></body></html>
"""


@bp.get("/docs")
def docs():
    return DOCS_PAGE, 200, {"Content-Type": "text/html; charset=utf-8"}


@bp.get("/docs/static/<path:filename>")
def docs_static(filename):
    return send_from_directory(swagger_ui_path, filename, max_age=86400)
