"""Bad input to every RPC method: the service's own error, nothing written, workers alive."""

import pytest
from nameko.testing.services import entrypoint_waiter
from nameko.testing.utils import get_container

from orders.service import OrdersService
from shop.errors import NotFound, ValidationError
from tests.tables import row_counter

LONG = "x" * 300
LONE = "\ud800"  # a lone surrogate: JSON can carry it ("\\ud800"), UTF-8 cannot encode it
# 212 characters, but lower case ("i" + a combining dot each) is 412: too long for the column.
WIDENS = "\u0130" * 200 + "@example.com"
GOOD_USER = {"email": "ok@example.com", "name": "Ok", "password": "password-1"}
GOOD_PRODUCT = {"sku": "OK-1", "name": "Ok", "price": "1.00", "stock": 1}

# (method, args, expected error, field named in the details or None)
CASES = {
    "users": [
        (
            "create_user",
            [{"name": "No email", "password": "password-1"}],
            ValidationError,
            "email",
        ),
        ("create_user", [{**GOOD_USER, "email": "not-an-email"}], ValidationError, "email"),
        ("create_user", [{**GOOD_USER, "name": 5}], ValidationError, "name"),
        ("create_user", [{**GOOD_USER, "name": LONG}], ValidationError, "name"),
        ("create_user", [{**GOOD_USER, "password": "short"}], ValidationError, "password"),
        ("create_user", [{**GOOD_USER, "password": LONG}], ValidationError, "password"),
        ("create_user", [{**GOOD_USER, "role": "admin"}], ValidationError, "role"),
        ("create_user", [GOOD_USER, LONG], ValidationError, "idempotency_key"),
        ("create_user", [GOOD_USER, ""], ValidationError, "idempotency_key"),
        ("create_user", [GOOD_USER, LONE], ValidationError, "idempotency_key"),
        ("create_user", [["not", "an", "object"]], ValidationError, "_schema"),
        ("create_user", [{**GOOD_USER, "name": "nul\x00byte"}], ValidationError, "name"),
        ("create_user", [{**GOOD_USER, "name": f"lone{LONE}"}], ValidationError, "name"),
        (
            "create_user",
            [{**GOOD_USER, "password": f"password{LONE}"}],
            ValidationError,
            "password",
        ),
        ("create_user", [{**GOOD_USER, "email": WIDENS}], ValidationError, "email"),
        ("get_user", ["1"], ValidationError, "user_id"),
        ("get_user", [-1], ValidationError, "user_id"),
        ("get_user", [True], ValidationError, "user_id"),
        ("get_user", [2**64], ValidationError, "user_id"),
        ("get_user", [999999], NotFound, None),
        ("list_users", [0, 20], ValidationError, "page"),
        ("list_users", [1, 1000], ValidationError, "per_page"),
        ("list_users", ["x", 20], ValidationError, "page"),
        ("update_user", [999999, {"name": "Ghost"}], NotFound, None),
        ("update_user", [1, {"role": "god"}], ValidationError, "role"),
        ("update_user", [1, {"email": "nope"}], ValidationError, "email"),
        ("update_user", [1, {"name": ""}], ValidationError, "name"),
        ("update_user", [1, {"name": LONE}], ValidationError, "name"),
        ("update_user", [1, {"email": WIDENS}], ValidationError, "email"),
        ("delete_user", [999999], NotFound, None),
        ("delete_user", [None], ValidationError, "user_id"),
        ("login", [None, "password-1"], ValidationError, "email"),
        ("login", ["ok@example.com", 12345678], ValidationError, "password"),
        ("login", [f"ok{LONE}@example.com", "password-1"], ValidationError, "email"),
        ("login", ["ok@example.com", f"password{LONE}"], ValidationError, "password"),
    ],
    "inventory": [
        ("create_product", [{**GOOD_PRODUCT, "price": "-1.00"}], ValidationError, "price"),
        ("create_product", [{**GOOD_PRODUCT, "price": "1.999"}], ValidationError, "price"),
        ("create_product", [{**GOOD_PRODUCT, "price": "NaN"}], ValidationError, "price"),
        ("create_product", [{**GOOD_PRODUCT, "price": None}], ValidationError, "price"),
        ("create_product", [{**GOOD_PRODUCT, "stock": -1}], ValidationError, "stock"),
        ("create_product", [{**GOOD_PRODUCT, "stock": "5"}], ValidationError, "stock"),
        ("create_product", [{**GOOD_PRODUCT, "sku": "has space"}], ValidationError, "sku"),
        ("create_product", [{**GOOD_PRODUCT, "sku": "NEW-1\n"}], ValidationError, "sku"),
        ("update_product", [1, {"sku": "OK-1\n"}], ValidationError, "sku"),
        ("create_product", [{**GOOD_PRODUCT, "name": LONG}], ValidationError, "name"),
        ("create_product", [{**GOOD_PRODUCT, "name": "nul\x00byte"}], ValidationError, "name"),
        ("update_product", [1, {"sku": "A\x00"}], ValidationError, "sku"),
        ("create_product", [{**GOOD_PRODUCT, "name": LONE}], ValidationError, "name"),
        ("update_product", [1, {"name": f"a{LONE}b"}], ValidationError, "name"),
        ("create_product", [{"sku": "NO-PRICE", "name": "x"}], ValidationError, "price"),
        ("get_product", [0], ValidationError, "product_id"),
        ("get_product", [999999], NotFound, None),
        ("get_products", [[]], ValidationError, "ids"),
        ("get_products", [["a"]], ValidationError, "ids"),
        ("get_products", [[0]], ValidationError, "ids"),
        ("get_products", [list(range(1, 102))], ValidationError, "ids"),
        ("get_products", [[999999]], NotFound, None),
        ("list_products", [1, 0], ValidationError, "per_page"),
        ("update_product", [999999, {"name": "Ghost"}], NotFound, None),
        ("update_product", [1, {"price": "abc"}], ValidationError, "price"),
        ("update_product", [1, {"stock": 5}], ValidationError, "stock"),
        ("adjust_stock", [1, 0], ValidationError, "delta"),
        ("adjust_stock", [1, "5"], ValidationError, "delta"),
        ("adjust_stock", [1, 1.5], ValidationError, "delta"),
        ("adjust_stock", [1, 10**9], ValidationError, "delta"),
        ("adjust_stock", [999999, 1], NotFound, None),
    ],
    "orders": [
        ("create_order", [2, []], ValidationError, "items"),
        ("create_order", [2, [{"product_id": 1, "quantity": 0}]], ValidationError, "items"),
        ("create_order", [2, [{"product_id": 1, "quantity": -3}]], ValidationError, "items"),
        ("create_order", [2, [{"product_id": 1, "quantity": "1"}]], ValidationError, "items"),
        ("create_order", [2, [{"product_id": 1, "quantity": 1001}]], ValidationError, "items"),
        ("create_order", [2, [{"quantity": 1}]], ValidationError, "items"),
        ("create_order", [2, "everything"], ValidationError, "items"),
        ("create_order", ["2", [{"product_id": 1, "quantity": 1}]], ValidationError, "user_id"),
        (
            "create_order",
            [2, [{"product_id": 1, "quantity": 1}], LONG],
            ValidationError,
            "idempotency_key",
        ),
        (
            "create_order",
            [2, [{"product_id": 1, "quantity": 600}, {"product_id": 1, "quantity": 600}]],
            ValidationError,
            "items",
        ),
        ("create_order", [2, [{"product_id": 999999, "quantity": 1}]], NotFound, None),
        ("create_order", [999999, [{"product_id": 1, "quantity": 1}]], NotFound, None),
        (
            "create_order",
            [2, [{"product_id": 1, "quantity": 1}], LONE],
            ValidationError,
            "idempotency_key",
        ),
        (
            "create_order",
            [2**63, [{"product_id": 1, "quantity": 1}], "key"],
            ValidationError,
            "user_id",
        ),
        ("get_order", ["x"], ValidationError, "order_id"),
        ("get_order", [999999], NotFound, None),
        ("list_orders", [-1], ValidationError, "user_id"),
        ("list_orders", [None, 1, 101], ValidationError, "per_page"),
        ("cancel_order", [-5], ValidationError, "order_id"),
        ("cancel_order", [999999], NotFound, None),
        ("complete_order", [999999], NotFound, None),
    ],
}


@pytest.mark.parametrize("service", sorted(CASES))
def test_bad_input_gets_a_clear_error_and_writes_nothing(shop, shop_runner, db_uris, service):
    # One user (id 2, after the admin) and one product (id 1) for the cases to aim at,
    # its price heard by orders before the rows are counted.
    shop.users.create_user(GOOD_USER)
    with entrypoint_waiter(get_container(shop_runner, OrdersService), "learn_price"):
        shop.inventory.create_product(GOOD_PRODUCT)
    proxy = getattr(shop, service)

    wrong = []  # every case that went wrong, not just the first
    with row_counter(db_uris) as row_counts:
        before = row_counts()
        for method, args, error, field in CASES[service]:
            try:
                getattr(proxy, method)(*args)
                wrong.append((method, "no error", args))
            except error as exc:
                if field is not None and field not in exc.details:
                    wrong.append((method, exc.details, args))
            except Exception as exc:
                wrong.append((method, f"{type(exc).__name__}: {exc}"[:300], args))
        after = row_counts()

    assert not wrong, "\n".join(repr(case)[:200] for case in wrong)
    assert after == before
    assert proxy.health()["status"] == "ok"
