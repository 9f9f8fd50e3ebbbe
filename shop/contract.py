"""The facts both sides of the wire must agree on, written once.

The services enforce these (they own what is stored); the gateway refuses the
same input up front and documents it in ``/openapi.json``. A limit changed
here changes every schema that checks it (tests/unit/test_contract_agreement.py
fails if one of them stops reading it from here).
"""

# --- services and their events ----------------------------------------------

SERVICES = ("users", "inventory", "orders")

# The events each service publishes (through its outbox), by publisher.
EVENTS = {
    "users": ("user_deleted",),
    "inventory": ("product_priced", "stock_reserved", "stock_reservation_failed"),
    "orders": (
        "order_created",
        "order_confirmed",
        "order_rejected",
        "order_cancelled",
        "order_completed",
    ),
}
# The status an order has after each of its events.
ORDER_EVENT_STATUS = {
    "order_created": "pending",
    "order_confirmed": "confirmed",
    "order_rejected": "rejected",
    "order_cancelled": "cancelled",
    "order_completed": "completed",
}

# --- integer bounds ---------------------------------------------------------

MAX_ID = 2**63 - 1  # the largest BIGINT: anything above cannot name a row
MAX_PAGE = 1_000_000
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20

MAX_ORDER_LINES = 50
MAX_QUANTITY = 1000  # of one product in one order, repeated lines added up
MAX_STOCK = 1_000_000_000
MAX_STOCK_DELTA = 1_000_000  # one adjustment, either way; never 0
MAX_PRODUCTS_PER_CALL = 100  # ids in one ``get_products``
MAX_CENTS = 10**11  # a billion in whole units: more is a typo, not a price

# A price as the API writes it: whole units, then at most two places, up to MAX_CENTS.
# JSON Schema has no maximum for a string, so the pattern spells it out: fewer digits
# than the largest whole amount (a power of ten), or exactly it with zero cents.
_MOST_UNITS = MAX_CENTS // 100
PRICE_PATTERN = (
    rf"^(\d{{1,{len(str(_MOST_UNITS)) - 1}}}(\.\d{{1,2}})?|{_MOST_UNITS}(\.0{{1,2}})?)$"
)

# --- strings: (shortest, longest) -------------------------------------------

EMAIL_LENGTH = (1, 254)  # the longest address SMTP carries; counted in lower case
USER_NAME_LENGTH = (1, 100)
# argon2 hashes any length, but an unbounded password is a cheap way to burn CPU.
PASSWORD_LENGTH = (8, 128)
LOGIN_PASSWORD_LENGTH = (1, 128)  # only bounded: a wrong password is wrong, whatever its length
SKU_LENGTH = (1, 64)
SKU_CHARACTERS = "A-Za-z0-9._-"  # the body of a regex character class
PRODUCT_NAME_LENGTH = (1, 200)
IDEMPOTENCY_KEY_LENGTH = (1, 100)

# What no text column here can store, though JSON carries both ("\u0000", "\ud800"):
# NUL, which PostgreSQL refuses in every text type, and lone UTF-16 surrogates, which
# have no UTF-8 encoding. The body of a regex character class, in a form that both
# Python's ``re`` and JSON Schema (ECMA 262) read.
UNSTORABLE_CHARACTERS = r"\u0000\ud800-\udfff"

# --- who and what -----------------------------------------------------------

ROLES = ("customer", "admin")  # least to most powerful
USER_STATUSES = ("active", "disabled")

ORDER_STATUSES = ("pending", "confirmed", "rejected", "cancelled", "completed")
# pending   -> confirmed | rejected | cancelled
# confirmed -> cancelled | completed
ORDER_TRANSITIONS = {
    "pending": frozenset({"confirmed", "rejected", "cancelled"}),
    "confirmed": frozenset({"cancelled", "completed"}),
}


def normalize_email(email):
    """How an email is compared: an account's every spelling of it is one email (the
    users service stores it so, the gateway's throttles count it so)."""
    return email.strip().lower()


# --- errors -----------------------------------------------------------------

# Every error the gateway's app answers with: HTTP status -> the envelope's ``error``
# code. The worker's own refusals are REFUSAL_CODES, below.
ERROR_CODES = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    408: "REQUEST_TIMEOUT",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    414: "URI_TOO_LONG",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
    431: "HEADERS_TOO_LARGE",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
    504: "UPSTREAM_TIMEOUT",
}

# What the gateway's worker answers when it or gunicorn refuses a request before the
# app sees it: the same codes, but a 400 there is a malformed request, not bad input.
REFUSAL_CODES = {
    **ERROR_CODES,
    400: "BAD_REQUEST",
    417: "EXPECTATION_FAILED",
    501: "NOT_IMPLEMENTED",
}

# The services' errors (shop/errors.py) by class name -> HTTP status.
REMOTE_ERROR_STATUS = {
    "ValidationError": 400,
    "NotFound": 404,
    "Conflict": 409,
    "Unauthorized": 401,
    # Upstream failures further down: a service's database or a service it calls.
    "Unavailable": 503,
    "UpstreamTimeout": 504,
}

# The request's fault, not the service's: a 4xx.
BUSINESS_ERRORS = frozenset(
    name for name, status in REMOTE_ERROR_STATUS.items() if 400 <= status < 500
)
