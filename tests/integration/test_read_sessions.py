"""``Database.read()`` and ``read_rows()``: a read of one statement costs the server one
transaction."""

import pytest
from nameko.rpc import rpc
from nameko.testing.services import entrypoint_hook
from sqlalchemy import create_engine, func, select, text

from extensions.db import Database
from inventory.models import Base, Product
from tests.conftest import PG_SQLALCHEMY_URI
from tests.polling import eventually

READS = 40


class ProductCounter:
    name = "inventory"  # borrows the inventory database: its DB_URIS key is "inventory:Base"

    db = Database(Base)

    @rpc
    def count_products(self):
        with self.db.read() as session:
            return session.scalar(select(func.count()).select_from(Product))

    @rpc
    def count_product_rows(self):
        with self.db.read_rows() as connection:
            return connection.scalar(select(func.count()).select_from(Product))


def _server(query, **params):
    engine = create_engine(f"{PG_SQLALCHEMY_URI}/postgres")
    try:
        with engine.connect() as connection:
            return connection.execute(text(query), params).scalar()
    finally:
        engine.dispose()


def committed_transactions(database):
    return _server("SELECT xact_commit FROM pg_stat_database WHERE datname = :d", d=database)


def sessions_on(database):
    return _server("SELECT count(*) FROM pg_stat_activity WHERE datname = :d", d=database)


@pytest.mark.parametrize("method", ["count_products", "count_product_rows"])
def test_a_read_costs_the_server_one_transaction_and_nothing_more(
    container_factory, rabbit_config, pg_db_uris, method
):
    database = pg_db_uris["inventory:Base"].rsplit("/", 1)[1]
    before = committed_transactions(database)
    container = container_factory(ProductCounter, {**rabbit_config, "DB_URIS": pg_db_uris})
    container.start()
    with entrypoint_hook(container, method) as count:
        for _ in range(READS):
            assert count() == 0
    container.stop()
    # A backend's counts reach pg_stat_database, at the latest, before it leaves
    # pg_stat_activity as its connection closes.
    eventually(lambda: sessions_on(database) == 0)

    # Each read is its SELECT; the few more are the connection's own set-up queries.
    # A connection of the writers' pool switched to autocommit for the read, and
    # back, would cost a second transaction per read (psycopg2's
    # "SET default_transaction_isolation TO DEFAULT").
    assert READS <= committed_transactions(database) - before < READS + 10
