"""A customer's and an admin's whole journey through the gateway, over HTTP."""

from tests.e2e.gateway.polling import until


def _product(api, admin_token, sku, price, stock):
    response = api.post(
        "/api/products",
        token=admin_token,
        json={"sku": sku, "name": f"Product {sku}", "price": price, "stock": stock},
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_sign_up_log_in_browse_order_cancel_and_earn_points_on_completion(api, admin_token):
    # Sign up and log in.
    response = api.post(
        "/api/users",
        json={"email": "Ann@Example.com", "name": "Ann", "password": "correct-horse"},
    )
    assert response.status_code == 201
    ann = response.json()
    assert ann["email"] == "ann@example.com"
    assert ann["role"] == "customer"
    assert "password" not in response.text and "hash" not in response.text

    response = api.post(
        "/api/auth/token", json={"email": "ann@example.com", "password": "correct-horse"}
    )
    assert response.status_code == 200
    login = response.json()
    assert login["token_type"] == "Bearer" and login["expires_in"] > 0
    token = login["access_token"]
    assert api.get("/api/users/me", token=token).json()["id"] == ann["id"]

    # An admin stocks the shop; anyone browses it.
    tea = _product(api, admin_token, "TEA-1", "4.50", 10)
    mug = _product(api, admin_token, "MUG-1", "12.00", 3)
    page = api.get("/api/products?per_page=10").json()
    assert {p["sku"] for p in page["items"]} == {"TEA-1", "MUG-1"}
    assert (page["page"], page["per_page"], page["total"]) == (1, 10, 2)
    assert api.get(f"/api/products/{tea['id']}").json()["price"] == "4.50"

    # Order; a retry with the same Idempotency-Key gives back the same order.
    lines = {"items": [{"product_id": tea["id"], "quantity": 2}]}
    key = {"Idempotency-Key": "ann-order-1"}
    first = api.post("/api/orders", token=token, json=lines, headers=dict(key))
    again = api.post("/api/orders", token=token, json=lines, headers=dict(key))
    assert first.status_code == again.status_code == 201
    order = first.json()
    assert again.json()["id"] == order["id"]
    assert (order["status"], order["total"], order["user_id"]) == ("pending", "9.00", ann["id"])
    assert order["items"] == [{"product_id": tea["id"], "quantity": 2, "unit_price": "4.50"}]

    # The saga confirms it; Ann cancels it and the stock comes back.
    api.wait_for_order_status(order, "confirmed", token)
    response = api.post(f"/api/orders/{order['id']}/cancel", token=token)
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    until(lambda: api.get(f"/api/products/{tea['id']}"), lambda p: p["reserved"] == 0)
    assert api.get(f"/api/products/{tea['id']}").json()["stock"] == 10

    # A second order: the admin completes it and Ann earns 1 point per whole unit.
    lines = {
        "items": [
            {"product_id": mug["id"], "quantity": 2},
            {"product_id": tea["id"], "quantity": 1},
        ]
    }
    second = api.post("/api/orders", token=token, json=lines).json()
    assert second["total"] == "28.50"
    api.wait_for_order_status(second, "confirmed", token)
    response = api.post(f"/api/orders/{second['id']}/complete", token=admin_token)
    assert response.status_code == 200
    assert response.json()["status"] == "completed"
    me = until(lambda: api.get("/api/users/me", token=token), lambda u: u["points"] > 0)
    assert me["points"] == 28

    # Ann sees her own two orders; the admin sees everyone's.
    mine = api.get("/api/orders", token=token).json()
    assert sorted(o["id"] for o in mine["items"]) == sorted([order["id"], second["id"]])
    assert {o["status"] for o in mine["items"]} == {"cancelled", "completed"}
    everyone = api.get("/api/orders", token=admin_token).json()
    assert everyone["total"] == 2


def test_an_order_beyond_the_stock_is_rejected_and_cannot_be_completed(api, admin_token):
    _, token = api.sign_up("bob@example.com")
    lamp = _product(api, admin_token, "LAMP-1", "30.00", 1)

    order = api.post(
        "/api/orders", token=token, json={"items": [{"product_id": lamp["id"], "quantity": 5}]}
    ).json()

    api.wait_for_order_status(order, "rejected", token)
    response = api.post(f"/api/orders/{order['id']}/complete", token=admin_token)
    assert response.status_code == 409
    assert response.json()["error"] == "CONFLICT"


def test_each_response_carries_a_request_id_and_one_json_access_log_line_without_secrets(api):
    response = api.post(
        "/api/users",
        json={"email": "carol@example.com", "name": "Carol", "password": "very-secret-pw"},
        headers={"X-Request-ID": "carol-signup-1"},
    )
    token = api.token("carol@example.com", "very-secret-pw")
    api.get("/api/users/me", token=token)

    assert response.headers["X-Request-ID"] == "carol-signup-1"
    records = api.log_records()
    access = [r for r in records if r.get("logger") == "gateway.access"]
    signup = [r for r in access if r["request_id"] == "carol-signup-1"]
    assert len(signup) == 1
    # The same schema as the services' lines, for one index in ELK.
    assert {"timestamp", "level", "service", "trace_id", "span_id"} <= set(signup[0])
    assert (signup[0]["service"], signup[0]["level"]) == ("gateway", "INFO")
    assert signup[0]["route"] == "/api/users" and signup[0]["status"] == 201
    assert signup[0]["duration_ms"] >= 0
    me = [r for r in access if r["route"] == "/api/users/me"]
    assert me[0]["user_id"] == response.json()["id"]
    log_text = api.log_path.read_text()
    assert "very-secret-pw" not in log_text
    assert token not in log_text
