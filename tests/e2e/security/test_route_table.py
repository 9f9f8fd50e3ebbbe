"""Every route, as anonymous, the owner, another customer and the admin: the status each
gets, from ONE table derived from DESIGN.md's "The gateway's HTTP API" (who may do what).

401: no (valid) token on a route that needs one. 403: a caller the route is not for (a
customer on an admin route, or on another customer's account or order). 404: no such
resource, for a caller who may ask. A customer asking about another *user* id gets 403
whether or not that user exists (no account enumeration); an *order* id is looked up
first, so a customer tells "someone else's" (403) from "none" (404), as DESIGN.md has it.
"""

import itertools
from dataclasses import dataclass
from types import SimpleNamespace

import pytest

ROLES = ("anonymous", "owner", "other", "admin")
MISSING = 999_999_999


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # {owner}, {order}, {product}, {missing}
    body: object
    anonymous: int
    owner: int
    other: int
    admin: int
    # The route changes what it is about (deletes the account, cancels or completes
    # the order): each role gets an owner and an order of its own.
    fresh: bool = False


PASSWORD = "correct-horse-battery"
SIGN_UP = {"email": "{new_email}", "name": "New", "password": PASSWORD}
LOGIN = {"email": "{owner_email}", "password": PASSWORD}
NEW_PRODUCT = {"sku": "{new_sku}", "name": "Lamp", "price": "9.99", "stock": 5}
ONE_OF = {"items": [{"product_id": "{product}", "quantity": 1}]}
ONE_MISSING = {"items": [{"product_id": "{missing}", "quantity": 1}]}

#   method    path                                body                anon owner other admin
TABLE = [
    # Anyone.
    Row("POST", "/api/users", SIGN_UP, 201, 201, 201, 201),
    Row("POST", "/api/auth/token", LOGIN, 200, 200, 200, 200),
    Row("GET", "/api/products", None, 200, 200, 200, 200),
    Row("GET", "/api/products/{product}", None, 200, 200, 200, 200),
    Row("GET", "/api/products/{missing}", None, 404, 404, 404, 404),
    Row("GET", "/health/live", None, 200, 200, 200, 200),
    Row("GET", "/health/ready", None, 200, 200, 200, 200),
    Row("GET", "/metrics", None, 200, 200, 200, 200),
    Row("GET", "/openapi.json", None, 200, 200, 200, 200),
    Row("GET", "/docs", None, 200, 200, 200, 200),
    Row("GET", "/api/nothing-here", None, 404, 404, 404, 404),
    Row("DELETE", "/api/products", None, 405, 405, 405, 405),
    # Users: the logged-in user; that user or an admin; admins.
    Row("GET", "/api/users/me", None, 401, 200, 200, 200),
    Row("GET", "/api/users", None, 401, 403, 403, 200),
    Row("GET", "/api/users/{owner}", None, 401, 200, 403, 200),
    Row("GET", "/api/users/{missing}", None, 401, 403, 403, 404),
    Row("PATCH", "/api/users/{owner}", {"name": "Renamed"}, 401, 200, 403, 200),
    Row("PATCH", "/api/users/{owner}", {"role": "customer"}, 401, 403, 403, 200),
    Row("PATCH", "/api/users/{owner}", {"status": "active"}, 401, 403, 403, 200),
    Row("PATCH", "/api/users/{missing}", {"name": "Nobody"}, 401, 403, 403, 404),
    Row("DELETE", "/api/users/{owner}", None, 401, 204, 403, 204, fresh=True),
    Row("DELETE", "/api/users/{missing}", None, 401, 403, 403, 404),
    # Products: admins change them.
    Row("POST", "/api/products", NEW_PRODUCT, 401, 403, 403, 201),
    Row("PATCH", "/api/products/{product}", {"name": "Pen II"}, 401, 403, 403, 200),
    Row("PATCH", "/api/products/{missing}", {"name": "Pen II"}, 401, 403, 403, 404),
    Row("POST", "/api/products/{product}/stock", {"delta": 1}, 401, 403, 403, 200),
    Row("POST", "/api/products/{missing}/stock", {"delta": 1}, 401, 403, 403, 404),
    # Orders: users place theirs; owner or admin see and cancel; admins complete.
    Row("POST", "/api/orders", ONE_OF, 401, 201, 201, 201),
    Row("POST", "/api/orders", ONE_MISSING, 401, 404, 404, 404),
    Row("GET", "/api/orders", None, 401, 200, 200, 200),
    Row("GET", "/api/orders?user_id={owner}", None, 401, 200, 403, 200),
    Row("GET", "/api/orders/{order}", None, 401, 200, 403, 200),
    Row("GET", "/api/orders/{missing}", None, 401, 404, 404, 404),
    Row("POST", "/api/orders/{order}/cancel", None, 401, 200, 403, 200, fresh=True),
    Row("POST", "/api/orders/{missing}/cancel", None, 401, 404, 404, 404),
    Row("POST", "/api/orders/{order}/complete", None, 401, 403, 403, 200, fresh=True),
    Row("POST", "/api/orders/{missing}/complete", None, 401, 403, 403, 404),
]

ENVELOPE = {"error", "message", "details", "request_id"}


@pytest.fixture
def scene(api, admin_token):
    """The admin, another customer, a product, and a factory of owners with an order."""
    counter = itertools.count(1)
    product = api.post(
        "/api/products",
        token=admin_token,
        json={"sku": "PEN-1", "name": "Pen", "price": "1.50", "stock": 1000},
    ).json()
    _other, other_token = api.sign_up("other@example.com", "Other")

    def owner():
        """A new customer with a confirmed order of theirs."""
        email = f"owner-{next(counter)}@example.com"
        user, token = api.sign_up(email, "Owner", PASSWORD)
        order = api.place_confirmed_order(token, product)
        return SimpleNamespace(user=user, email=email, token=token, order=order)

    return SimpleNamespace(
        admin_token=admin_token,
        other_token=other_token,
        product=product,
        owner=owner,
        counter=counter,
    )


def _fill(template, values):
    """``template`` with every "{name}" replaced (a whole-string placeholder keeps its type)."""
    if isinstance(template, dict):
        return {key: _fill(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [_fill(value, values) for value in template]
    if isinstance(template, str):
        if template.startswith("{") and template.endswith("}") and template[1:-1] in values:
            return values[template[1:-1]]
        return template.format(**values)
    return template


def test_every_route_answers_every_kind_of_caller_as_the_table_says(api, scene):
    shared_owner = scene.owner()
    expected, actual, bad_envelopes = {}, {}, []

    for row in TABLE:
        for role in ROLES:
            owner = scene.owner() if row.fresh else shared_owner
            n = next(scene.counter)
            values = {
                "owner": owner.user["id"],
                "owner_email": owner.email,
                "order": owner.order["id"],
                "product": scene.product["id"],
                "missing": MISSING,
                "new_email": f"new-{n}@example.com",
                "new_sku": f"LAMP-{n}",
            }
            token = {
                "anonymous": None,
                "owner": owner.token,
                "other": scene.other_token,
                "admin": scene.admin_token,
            }[role]
            path = _fill(row.path, values)
            response = api.request(row.method, path, token=token, json=_fill(row.body, values))

            cell = (row.method, row.path, str(row.body) if row.body else "", role)
            expected[cell] = getattr(row, role)
            actual[cell] = response.status_code
            if response.status_code >= 400 and (
                response.headers.get("Content-Type") != "application/json"
                or set(response.json()) != ENVELOPE
            ):
                bad_envelopes.append((cell, response.status_code, response.text[:200]))

    wrong = {
        cell: (actual[cell], f"expected {expected[cell]}")
        for cell in expected
        if actual[cell] != expected[cell]
    }
    assert wrong == {}
    assert bad_envelopes == []
