"""The glue every route uses: ``@endpoint`` and ``rpc()``.

``@endpoint`` is the one place a route's input is checked: it resolves the
caller its access level asks for (and hands it to a view that takes
``caller``), validates the JSON body, the query and the documented headers,
dumps the result with the response schema (so a field the schema does not
name never leaks), and records all of it for the OpenAPI document, which is
therefore generated from the very code that runs.
"""

import functools
import inspect
import json
import uuid
from dataclasses import dataclass, field

import marshmallow
from flask import Response, current_app, g, jsonify, request

from gateway import auth, request_tracing
from gateway.http_errors import ApiError, from_remote
from gateway.rpc import RemoteError
from shop.contract import IDEMPOTENCY_KEY_LENGTH
from shop.validation import UNSTORABLE_TEXT, has_unstorable_text

ACCESS_CHECKS = {
    "anyone": lambda: None,
    "user": auth.require_caller,
    "admin": auth.require_admin,
}


@dataclass(frozen=True)
class Operation:
    summary: str
    access: str = "anyone"
    body: marshmallow.Schema | None = None
    query: marshmallow.Schema | None = None
    response: marshmallow.Schema | None = None
    status: int = 200
    errors: tuple = ()
    headers: tuple = field(default_factory=tuple)  # documented request headers
    content_type: str = "application/json"


def endpoint(summary, *, access="anyone", body=None, query=None, response=None, **options):
    operation = Operation(
        summary,
        access,
        body() if body else None,
        query(unknown=marshmallow.EXCLUDE) if query else None,
        response() if response else None,
        **options,
    )

    def decorate(view):
        takes_caller = "caller" in inspect.signature(view).parameters

        @functools.wraps(view)
        def wrapper(**kwargs):
            caller = ACCESS_CHECKS[operation.access]()
            if takes_caller:
                kwargs["caller"] = caller
            if operation.body is not None:
                kwargs["body"] = load_body(operation.body)
            if operation.query is not None:
                kwargs["query"] = load_query(operation.query)
            check_headers(operation.headers)
            result = view(**kwargs)
            if isinstance(result, Response):
                return result
            if operation.response is None:
                return "", operation.status
            return jsonify(operation.response.dump(result)), operation.status

        wrapper.operation = operation
        return wrapper

    return decorate


def invalid(details, message="Invalid input"):
    return ApiError(400, "VALIDATION_ERROR", message, details)


def load_body(schema):
    """The validated JSON body, as sent (the service re-validates and converts)."""
    if not request.is_json:
        raise ApiError(
            415, "UNSUPPORTED_MEDIA_TYPE", "Send JSON with 'Content-Type: application/json'"
        )
    _refuse_cut_body()
    try:
        data = json_body()
    except ValueError:
        raise invalid({"body": ["Malformed JSON."]}, "Malformed JSON") from None
    except RecursionError:
        # The parser recurses once per level; no body of ours is more than a few deep.
        raise invalid({"body": ["Nested too deeply."]}) from None
    errors = schema.validate(data) if isinstance(data, dict) else {"body": ["Expected an object."]}
    if not errors and has_unstorable_text(data):
        # No database here can store it, so it can only be garbage or an attack.
        errors = {"body": [UNSTORABLE_TEXT]}
    if errors:
        raise invalid(errors)
    return data


def json_body():
    """The body parsed as JSON, once per request (the rate limiter reads it first);
    raises what reading or parsing it raises."""
    if "json_body" not in g:
        g.json_body = json.loads(request.get_data(cache=True))
    return g.json_body


def _refuse_cut_body():
    data = request.get_data(cache=True)
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    # A body of unknown length (chunked) is cut at the limit by werkzeug without a
    # word: whether there was more, only the stream itself can say.
    if (
        request.content_length is None
        and limit is not None
        and len(data) >= limit
        and request.environ["wsgi.input"].read(1)
    ):
        raise ApiError(413, "PAYLOAD_TOO_LARGE", "The request body is too large")


def load_query(schema):
    try:
        return schema.load(request.args)
    except marshmallow.ValidationError as exc:
        raise invalid(exc.normalized_messages()) from None


def idempotency_header(retry_answer):
    """The optional ``Idempotency-Key`` request header, as documented and checked;
    ``retry_answer`` says what a retry with the same key gets."""
    return {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": f"Retrying with the same key {retry_answer}",
        "schema": {
            "type": "string",
            "minLength": IDEMPOTENCY_KEY_LENGTH[0],
            "maxLength": IDEMPOTENCY_KEY_LENGTH[1],
        },
    }


def request_idempotency_key():
    """The client's ``Idempotency-Key``, or one of this request's own.

    Should the broker deliver a call twice (its first run committed, its
    acknowledgement lost with a killed process), the service sees the same key
    twice and makes its change once."""
    return request.headers.get("Idempotency-Key") or uuid.uuid4().hex


def check_headers(headers):
    """Each documented request header that is present is within its documented length."""
    for header in headers:
        value, schema = request.headers.get(header["name"]), header["schema"]
        shortest, longest = schema.get("minLength", 0), schema.get("maxLength", float("inf"))
        if value is not None and not shortest <= len(value) <= longest:
            raise invalid({header["name"]: [f"Must be {shortest} to {longest} characters."]})


def rpc(service, method, *args, **kwargs):
    """Call a service with the caller, request id and trace context as Nameko context data."""
    caller = auth.load_caller()
    client = current_app.extensions["shop.rpc"]
    try:
        with request_tracing.client_span(service, method):
            context = {
                "call_id_stack": [f"gateway.{request.endpoint}.{g.request_id}"],
                "user_id": str(caller.id) if caller else None,
                "request_id": g.request_id,
                **request_tracing.outgoing_headers(),
            }
            return client.call(service, method, *args, context=context, **kwargs)
    except RemoteError as exc:
        api_error = from_remote(exc)
        if api_error is None:
            raise
        raise api_error from None
