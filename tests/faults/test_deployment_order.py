"""F8: the first deployment comes up out of order, and orders publishes
``order_created`` before inventory has ever run (so before its queue exists)."""

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from extensions.envelopes import envelope
from inventory.models import Product
from orders.models import Order, OrderItem, OutboxMessage
from orders.service import _event_data
from tests.polling import eventually

pytestmark = pytest.mark.faults


def _session(db_uri):
    return Session(create_engine(db_uri, pool_pre_ping=True))


def test_an_event_published_before_its_subscriber_ever_ran_waits_for_it(
    shop_processes, pg_db_uris
):
    with _session(pg_db_uris["inventory:Base"]) as inventory_db:
        product = Product(sku="TEA-1", name="Tea", price_cents=450, stock=5)
        inventory_db.add(product)
        inventory_db.commit()
        product_id = product.id
    shop_processes.start_service("users")
    shop_processes.start_service("orders")

    # An order as create_order writes it; the relay publishes it while
    # inventory has never run in this vhost.
    with _session(pg_db_uris["orders:Base"]) as orders_db:
        order = Order(
            user_id=1,
            total_cents=450,
            items=[OrderItem(product_id=product_id, quantity=1, unit_price_cents=450)],
        )
        orders_db.add(order)
        orders_db.flush()
        outbox_row = OutboxMessage(
            event_type="order_created", payload=envelope(_event_data(order)), headers={}
        )
        orders_db.add(outbox_row)
        orders_db.commit()

        def published():
            orders_db.expire_all()
            return orders_db.get(OutboxMessage, outbox_row.id).published_at is not None

        eventually(published, timeout=30)
        shop_processes.start_service("inventory")

        def status():
            orders_db.expire_all()
            return orders_db.scalar(select(Order.status).where(Order.id == order.id))

        assert eventually(lambda: status() != "pending" and status(), timeout=30) == "confirmed"
        shop_processes.assert_alive()
