"""Inventory's revision 0002 leaves the products that exist before it unannounced, for
the sweep to announce once the new inventory runs (``announce_new_prices``)."""

import uuid

import pytest
from sqlalchemy import create_engine, text

from inventory.models import UNANNOUNCED
from tests.conftest import PG_ADMIN_URI, PG_SQLALCHEMY_URI
from tools.migrate import upgrade
from tools.pgadmin import execute_on_server

BEFORE_PRICE_VERSIONS = "0001"


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


def test_the_products_that_existed_are_left_for_the_sweep_to_announce(empty_inventory_db):
    upgrade("inventory", empty_inventory_db, BEFORE_PRICE_VERSIONS)
    engine = create_engine(empty_inventory_db)
    with engine.begin() as connection:
        for sku, cents in [("A-1", 250), ("B-2", 990)]:
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
        rows = connection.execute(
            text(
                "SELECT price_cents, price_version, announced_price_cents FROM products"
                f" WHERE {UNANNOUNCED} ORDER BY id"
            )
        ).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [(250, 1, None), (990, 1, None)]
