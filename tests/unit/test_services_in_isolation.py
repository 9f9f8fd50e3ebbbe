"""Each service's methods with ``worker_factory``: no broker, an in-memory database.

Remote services are the only stand-ins; the database and the outbox are real.
"""

import secrets

import pytest
from nameko.testing.services import worker_factory
from nameko_sqlalchemy.database import Session
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import StaticPool

from extensions.db import DatabaseWrapper
from extensions.envelopes import envelope
from extensions.outbox import OutboxWriter
from inventory import models as inventory_models
from inventory.service import InventoryService
from orders import models as orders_models
from orders.service import OrdersService
from shop.errors import Conflict, Unauthorized, ValidationError
from users import models as users_models
from users.service import UsersService

TOKEN = {"SECRET": secrets.token_hex(32), "ALGORITHM": "HS256", "TTL_SECONDS": 60}


def in_memory_db(base):
    engine = create_engine("sqlite://", poolclass=StaticPool)
    base.metadata.create_all(engine)
    sessions = sessionmaker(bind=engine, class_=Session)
    return DatabaseWrapper(sessions, sessions, engine)


def outbox_rows(db, model):
    with db.get_session() as session:
        return [(row.event_type, row.payload["data"]) for row in session.scalars(select(model))]


def announced_prices(inventory):
    rows = outbox_rows(inventory.db, inventory_models.OutboxMessage)
    return [data for event, data in rows if event == "product_priced"]


@pytest.fixture
def users():
    return worker_factory(UsersService, db=in_memory_db(users_models.Base), token=TOKEN)


@pytest.fixture
def inventory():
    db = in_memory_db(inventory_models.Base)
    return worker_factory(
        InventoryService, db=db, outbox=OutboxWriter(inventory_models.OutboxMessage, dict)
    )


@pytest.fixture
def orders():
    db = in_memory_db(orders_models.Base)
    return worker_factory(
        OrdersService, db=db, outbox=OutboxWriter(orders_models.OutboxMessage, dict)
    )


def test_users_sign_up_log_in_and_collect_points_once_per_event(users):
    user = users.create_user({"email": "a@b.co", "name": "A", "password": "password-1"})
    completed = envelope({"order_id": 1, "user_id": user["id"], "total": "42.10"})

    assert users.login("A@B.CO", "password-1")["token_type"] == "Bearer"
    with pytest.raises(Unauthorized):
        users.login("a@b.co", "password-2")
    users.add_points_for_completed_order(completed)
    users.add_points_for_completed_order(completed)
    assert users.get_user(user["id"])["points"] == 42


def test_a_login_tells_no_disabled_or_deleted_account_from_a_wrong_password_or_none(users):
    user = {"name": "A", "password": "password-1"}
    disabled = users.create_user({**user, "email": "disabled@b.co"})
    deleted = users.create_user({**user, "email": "deleted@b.co"})
    users.create_user({**user, "email": "active@b.co"})
    users.update_user(disabled["id"], {"status": "disabled"})
    users.delete_user(deleted["id"])
    answers = []

    for email, password in [
        ("disabled@b.co", "password-1"),
        ("deleted@b.co", "password-1"),
        ("active@b.co", "password-2"),
        ("nobody@b.co", "password-1"),
    ]:
        with pytest.raises(Unauthorized) as refused:
            users.login(email, password)
        answers.append((str(refused.value), refused.value.details))

    assert answers == [("Invalid email or password", {})] * 4


def test_inventory_announces_each_new_price_one_version_up(inventory):
    lamp = inventory.create_product({"sku": "L", "name": "L", "price": "1.00", "stock": 5})

    inventory.update_product(lamp["id"], {"price": "1.50"})
    inventory.update_product(lamp["id"], {"name": "Lamp", "price": "1.50"})  # same price
    inventory.adjust_stock(lamp["id"], 3)
    inventory.update_product(lamp["id"], {"price": "0.99"})

    announced = announced_prices(inventory)
    assert announced == [
        {"product_id": lamp["id"], "price": price, "price_version": version}
        for price, version in [("1.00", 1), ("1.50", 2), ("0.99", 3)]
    ]


def test_inventory_announces_a_price_set_without_an_announcement_once(inventory):
    lamp = inventory.create_product({"sku": "L", "name": "L", "price": "1.00", "stock": 5})
    with inventory.db.get_session() as session:  # as an older release or an operator would
        session.execute(text("UPDATE products SET price_cents = 120"))

    inventory.announce_new_prices()
    inventory.announce_new_prices()

    announced = announced_prices(inventory)
    assert announced == [
        {"product_id": lamp["id"], "price": "1.00", "price_version": 1},
        {"product_id": lamp["id"], "price": "1.20", "price_version": 2},
    ]


def test_a_taken_sku_changes_and_announces_nothing(inventory):
    inventory.create_product({"sku": "A", "name": "A", "price": "1.00"})
    b = inventory.create_product({"sku": "B", "name": "B", "price": "1.00"})

    with pytest.raises(Conflict):
        inventory.update_product(b["id"], {"sku": "A", "price": "2.00"})

    assert inventory.get_product(b["id"])["price"] == "1.00"
    events = [event for event, _ in outbox_rows(inventory.db, inventory_models.OutboxMessage)]
    assert events == ["product_priced", "product_priced"]


def test_inventory_reserves_all_lines_or_none_and_says_which_fell_short(inventory):
    a = inventory.create_product({"sku": "A", "name": "A", "price": "1.00", "stock": 5})
    b = inventory.create_product({"sku": "B", "name": "B", "price": "1.00", "stock": 1})
    lines = [{"product_id": a["id"], "quantity": 2}, {"product_id": b["id"], "quantity": 2}]

    inventory.reserve_stock(envelope({"order_id": 1, "items": lines[:1]}))
    inventory.reserve_stock(envelope({"order_id": 2, "items": lines}))

    assert inventory.get_product(a["id"])["stock"] == 3
    assert inventory.get_product(b["id"])["stock"] == 1
    assert outbox_rows(inventory.db, inventory_models.OutboxMessage) == [
        ("product_priced", {"product_id": a["id"], "price": "1.00", "price_version": 1}),
        ("product_priced", {"product_id": b["id"], "price": "1.00", "price_version": 1}),
        ("stock_reserved", {"order_id": 1}),
        (
            "stock_reservation_failed",
            {
                "order_id": 2,
                "shortages": [{"product_id": b["id"], "requested": 2, "available": 1}],
            },
        ),
    ]


def test_inventory_refuses_to_take_stock_below_zero(inventory):
    product = inventory.create_product({"sku": "A", "name": "A", "price": "1.00", "stock": 1})

    with pytest.raises(Conflict):
        inventory.adjust_stock(product["id"], -2)
    assert inventory.get_product(product["id"])["stock"] == 1


def test_orders_prices_from_inventory_and_announces_the_new_order(orders):
    orders.inventory.get_products.return_value = [{"id": 5, "price": "3.30"}]

    order = orders.create_order(9, [{"product_id": 5, "quantity": 3}], idempotency_key="k")

    orders.users.get_user.assert_called_once_with(9)
    assert (order["status"], order["total"]) == ("pending", "9.90")
    assert orders.create_order(9, [{"product_id": 5, "quantity": 3}], "k")["id"] == order["id"]
    [(event_type, data)] = outbox_rows(orders.db, orders_models.OutboxMessage)
    assert event_type == "order_created"
    assert data["items"] == [{"product_id": 5, "quantity": 3}]


def test_orders_prices_from_the_newest_announcement_and_refuses_a_malformed_one(orders):
    orders.learn_price(envelope({"product_id": 5, "price": "3.30", "price_version": 2}))
    orders.learn_price(envelope({"product_id": 5, "price": "3.00", "price_version": 1}))  # late
    for malformed in (
        {"product_id": 5},
        {"product_id": 5, "price": "free", "price_version": 3},
        {"product_id": "5", "price": "1.00", "price_version": 3},
        {"product_id": 5, "price": "1.00", "price_version": 0},
    ):
        with pytest.raises(ValidationError):  # poison: dead-lettered at once
            orders.learn_price(envelope(malformed))

    order = orders.create_order(9, [{"product_id": 5, "quantity": 2}])

    orders.inventory.get_products.assert_not_called()
    assert order["total"] == "6.60"


def test_orders_moves_through_the_saga_and_refuses_illegal_moves(orders):
    orders.inventory.get_products.return_value = [{"id": 5, "price": "1.00"}]
    order = orders.create_order(9, [{"product_id": 5, "quantity": 1}])

    orders.confirm_order(envelope({"order_id": order["id"]}))
    orders.reject_order(envelope({"order_id": order["id"], "shortages": []}))

    assert orders.get_order(order["id"])["status"] == "confirmed"
    assert orders.complete_order(order["id"])["status"] == "completed"
    with pytest.raises(Conflict):
        orders.cancel_order(order["id"])
    events = [t for t, _ in outbox_rows(orders.db, orders_models.OutboxMessage)]
    assert events == ["order_created", "order_confirmed", "order_completed"]
