"""Inventory's revision 0002 announces every product that exists before it, so that
orders' replica of prices starts from all of them (orders/known_prices.py)."""

import uuid

import pytest
from sqlalchemy import create_engine, select, text

from inventory.models import OutboxMessage
from tests.conftest import PG_ADMIN_URI, PG_SQLALCHEMY_URI
from tools.migrate import upgrade
from tools.pgadmin import execute_on_server

BEFORE_PRICE_VERSIONS = "0001"
PRODUCTS = [("A-1", 250), ("B-2", 100_000_000)]


@pytest.fixture(params=["postgresql", "sqlite"])
def empty_inventory_db(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/inventory.sqlite3"
        return
    name = f"shop_test_inventory_migration_{uuid.uuid4().hex[:8]}"
    execute_on_server(PG_ADMIN_URI, f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_SQLALCHEMY_URI}/{name}"
    finally:
        execute_on_server(PG_ADMIN_URI, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_every_product_that_existed_is_announced_once_at_version_1(empty_inventory_db):
    upgrade("inventory", empty_inventory_db, BEFORE_PRICE_VERSIONS)
    engine = create_engine(empty_inventory_db)
    with engine.begin() as connection:
        for sku, cents in PRODUCTS:
            connection.execute(
                text(
                    "INSERT INTO products (sku, name, price_cents, stock, reserved,"
                    " created_at, updated_at) VALUES (:sku, :sku, :cents, 1, 0,"
                    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"sku": sku, "cents": cents},
            )

    upgrade("inventory", empty_inventory_db)

    with engine.connect() as connection:
        versions = connection.execute(text("SELECT price_version FROM products")).scalars().all()
        announced = connection.execute(
            select(
                OutboxMessage.event_type, OutboxMessage.payload, OutboxMessage.published_at
            ).order_by(OutboxMessage.id)
        ).all()
    engine.dispose()
    assert versions == [1, 1]
    assert [(kind, payload["data"], sent) for kind, payload, sent in announced] == [
        ("product_priced", {"product_id": 1, "price": "2.50", "price_version": 1}, None),
        ("product_priced", {"product_id": 2, "price": "1000000.00", "price_version": 1}, None),
    ]
    assert all(payload["event_id"] for _, payload, _ in announced)


def test_an_empty_catalogue_announces_nothing(empty_inventory_db):
    upgrade("inventory", empty_inventory_db)

    engine = create_engine(empty_inventory_db)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM outbox")).scalar() == 0
    engine.dispose()
