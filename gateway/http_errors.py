"""Every failure becomes ``{"error", "message", "details", "request_id"}`` JSON.

One table (shop/contract.py) maps Nameko remote exception types to HTTP;
anything not in it is a 500 with a generic message (the traceback goes to the
log, never the client).
"""

import logging

from flask import g, jsonify
from werkzeug.exceptions import HTTPException

from gateway.rpc import RemoteError, ServiceUnavailable, UpstreamTimeout
from shop.contract import ERROR_CODES, REMOTE_ERROR_STATUS

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status, code, message, details=None, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}


def error_response(status, code, message, details=None, headers=None):
    body = {
        "error": code,
        "message": message,
        "details": details or {},
        "request_id": g.get("request_id"),
    }
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def from_remote(exc):
    """Translate a Nameko remote error into an ``ApiError`` (or ``None`` if unknown)."""
    if exc.exc_type not in REMOTE_ERROR_STATUS:
        return None
    status = REMOTE_ERROR_STATUS[exc.exc_type]
    message = exc.exc_args[0] if exc.exc_args else exc.value
    details = exc.exc_args[1] if len(exc.exc_args) > 1 else {}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return ApiError(
        status,
        ERROR_CODES[status],
        str(message),
        details if isinstance(details, dict) else {},
        headers,
    )


def _api_error(exc):
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


def _remote_error(exc):
    api_error = from_remote(exc)
    if api_error is None:
        log.error("remote error not in the error table: %s", exc)
        return _internal()
    return _api_error(api_error)


def _unavailable(exc):
    log.warning("service unavailable: %s", exc)
    return error_response(503, ERROR_CODES[503], "A service is unavailable, retry later")


def _timeout(exc):
    log.warning("upstream timeout: %s", exc)
    return error_response(504, ERROR_CODES[504], "A service did not answer in time")


def _http_error(exc):
    code = ERROR_CODES.get(exc.code, "HTTP_ERROR")
    headers = {k: v for k, v in exc.get_headers() if k.lower() not in ("content-type",)}
    message, details = exc.description or exc.name, {}
    if exc.code == 429:  # gateway.limits describes it by its limit, e.g. "100 per 1 minute"
        message, details = "Too many requests, slow down", {"limit": exc.description}
    return error_response(exc.code, code, message, details, headers=headers)


def _internal(exc=None):
    if exc is not None:
        log.exception("unhandled error", exc_info=exc)
    return error_response(500, ERROR_CODES[500], "Something went wrong on our side")


def register(app):
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(RemoteError, _remote_error)
    app.register_error_handler(ServiceUnavailable, _unavailable)
    app.register_error_handler(UpstreamTimeout, _timeout)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _internal)
