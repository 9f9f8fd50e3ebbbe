"""Who may do what, route by route, as DESIGN.md's table says."""

from types import SimpleNamespace

import pytest


@pytest.fixture
def world(api, admin_token):
    """Two customers, a product, and an order of the first customer's."""
    ann, ann_token = api.sign_up("ann@example.com", "Ann")
    bob, bob_token = api.sign_up("bob@example.com", "Bob")
    product = api.post(
        "/api/products",
        token=admin_token,
        json={"sku": "PEN-1", "name": "Pen", "price": "1.50", "stock": 100},
    ).json()
    order = api.place_confirmed_order(ann_token, product)
    return SimpleNamespace(
        ann=ann,
        ann_token=ann_token,
        bob=bob,
        bob_token=bob_token,
        admin_token=admin_token,
        product=product,
        order=order,
    )


def _routes(w):
    """(method, path, json) of every route that needs a logged-in caller."""
    return [
        ("GET", "/api/users/me", None),
        ("GET", "/api/users", None),
        ("GET", f"/api/users/{w.ann['id']}", None),
        ("PATCH", f"/api/users/{w.ann['id']}", {"name": "X"}),
        ("DELETE", f"/api/users/{w.ann['id']}", None),
        ("POST", "/api/products", {"sku": "S-9", "name": "N", "price": "1.00"}),
        ("PATCH", f"/api/products/{w.product['id']}", {"name": "N"}),
        ("POST", f"/api/products/{w.product['id']}/stock", {"delta": 1}),
        ("POST", "/api/orders", {"items": [{"product_id": w.product["id"], "quantity": 1}]}),
        ("GET", "/api/orders", None),
        ("GET", f"/api/orders/{w.order['id']}", None),
        ("POST", f"/api/orders/{w.order['id']}/cancel", None),
        ("POST", f"/api/orders/{w.order['id']}/complete", None),
    ]


def test_anonymous_callers_get_401_on_every_route_that_needs_a_user(api, world):
    refused = {
        (method, path): api.request(method, path, json=body).status_code
        for method, path, body in _routes(world)
    }

    assert refused == {key: 401 for key in refused}


def test_customers_get_403_on_every_admin_route(api, world):
    admin_routes = [
        ("GET", "/api/users", None),
        ("POST", "/api/products", {"sku": "S-9", "name": "N", "price": "1.00"}),
        ("PATCH", f"/api/products/{world.product['id']}", {"name": "N"}),
        ("POST", f"/api/products/{world.product['id']}/stock", {"delta": 1}),
        ("POST", f"/api/orders/{world.order['id']}/complete", None),
    ]

    product_path = f"/api/products/{world.product['id']}"
    before = api.get(product_path).json()

    refused = {
        (method, path): api.request(method, path, token=world.ann_token, json=body).status_code
        for method, path, body in admin_routes
    }

    assert refused == {key: 403 for key in refused}
    assert api.get(product_path).json() == before


def test_a_customer_gets_403_on_another_customers_account_and_it_stays_unchanged(api, world):
    bob_path = f"/api/users/{world.bob['id']}"

    assert api.get(bob_path, token=world.ann_token).status_code == 403
    assert api.patch(bob_path, token=world.ann_token, json={"name": "Mallory"}).status_code == 403
    assert api.delete(bob_path, token=world.ann_token).status_code == 403
    assert api.get("/api/users/me", token=world.bob_token).json()["name"] == "Bob"


def test_a_customer_gets_403_on_another_customers_orders(api, world):
    order_path = f"/api/orders/{world.order['id']}"

    assert api.get(order_path, token=world.bob_token).status_code == 403
    assert api.post(f"{order_path}/cancel", token=world.bob_token).status_code == 403
    listed = api.get(f"/api/orders?user_id={world.ann['id']}", token=world.bob_token)
    assert listed.status_code == 403
    assert api.get(order_path, token=world.ann_token).json()["status"] != "cancelled"


def test_a_customers_order_list_holds_only_their_own_orders(api, world):
    assert api.get("/api/orders", token=world.bob_token).json()["items"] == []
    ann_orders = api.get("/api/orders", token=world.ann_token).json()["items"]
    assert [o["id"] for o in ann_orders] == [world.order["id"]]


def test_a_customer_may_change_their_own_account_but_not_their_role_or_status(api, world):
    me = f"/api/users/{world.ann['id']}"

    renamed = api.patch(me, token=world.ann_token, json={"name": "Annie"})
    promoted = api.patch(me, token=world.ann_token, json={"role": "admin"})
    enabled = api.patch(me, token=world.ann_token, json={"status": "active"})

    assert renamed.status_code == 200 and renamed.json()["name"] == "Annie"
    assert promoted.status_code == enabled.status_code == 403
    assert api.get(me, token=world.ann_token).json()["role"] == "customer"


def test_a_customer_who_deletes_their_account_can_no_longer_log_in(api, world):
    response = api.delete(f"/api/users/{world.bob['id']}", token=world.bob_token)

    assert response.status_code == 204 and response.content == b""
    login = api.post(
        "/api/auth/token", json={"email": "bob@example.com", "password": "correct-horse-battery"}
    )
    assert login.status_code == 401
    # Nor use the token they had: its account is gone (gateway/auth.py).
    assert api.get("/api/users/me", token=world.bob_token).status_code == 401


def test_an_admin_may_read_list_and_disable_any_user(api, world):
    bob_path = f"/api/users/{world.bob['id']}"

    assert api.get(bob_path, token=world.admin_token).json()["email"] == "bob@example.com"
    listed = api.get("/api/users?per_page=50", token=world.admin_token).json()
    assert {"ann@example.com", "bob@example.com"} <= {u["email"] for u in listed["items"]}
    disabled = api.patch(bob_path, token=world.admin_token, json={"status": "disabled"})
    assert disabled.status_code == 200 and disabled.json()["status"] == "disabled"
    login = api.post(
        "/api/auth/token", json={"email": "bob@example.com", "password": "correct-horse-battery"}
    )
    assert login.status_code == 401


def test_an_admin_may_see_filter_and_cancel_any_customers_order(api, world):
    order_path = f"/api/orders/{world.order['id']}"

    assert api.get(order_path, token=world.admin_token).status_code == 200
    filtered = api.get(f"/api/orders?user_id={world.ann['id']}", token=world.admin_token).json()
    assert [o["id"] for o in filtered["items"]] == [world.order["id"]]
    cancelled = api.post(f"{order_path}/cancel", token=world.admin_token)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


def test_an_admin_may_change_products_and_their_stock(api, world):
    path = f"/api/products/{world.product['id']}"

    changed = api.patch(path, token=world.admin_token, json={"price": "2.25"})
    stocked = api.post(f"{path}/stock", token=world.admin_token, json={"delta": 5})

    assert changed.status_code == 200 and changed.json()["price"] == "2.25"
    assert stocked.status_code == 200 and stocked.json()["stock"] == changed.json()["stock"] + 5
