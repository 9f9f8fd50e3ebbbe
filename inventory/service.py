"""The inventory service: products, stock and reservations for orders."""

import logging

from nameko.timer import timer

from extensions import scaffolding
from extensions.db import Database, flush_or_raise, paginate, utcnow
from extensions.envelopes import claim_again, once_per_event
from extensions.events import reliable_event_handler
from extensions.outbox import Outbox
from extensions.rpc import rpc
from inventory import queries, stock
from inventory.models import Base, OutboxMessage, ProcessedEvent, Product, Reservation
from inventory.schemas import (
    AdjustStockSchema,
    CreateProductSchema,
    ProductIdsSchema,
    ProductSchema,
    UpdateProductSchema,
)
from shop.contract import DEFAULT_PER_PAGE
from shop.errors import Conflict, NotFound
from shop.money import format_cents
from shop.validation import load, page_args, positive_id

log = logging.getLogger(__name__)
product_schema = ProductSchema()
# How soon a price set without an announcement is announced, and how many at a time.
ANNOUNCE_SWEEP_SECONDS = 5
ANNOUNCE_BATCH = 100


def _sku_taken():
    return Conflict("SKU is already in use", {"sku": ["Already in use."]})


class InventoryService(scaffolding.ShopService):
    name = "inventory"

    db = Database(Base)
    outbox = Outbox(Base, OutboxMessage)

    @rpc
    def create_product(self, data):
        new = load(CreateProductSchema(), data)
        product = Product(**new, announced_price_cents=new["price_cents"])
        with self.db.get_session() as session:
            session.add(product)
            flush_or_raise(session, _sku_taken)
            self._announce_price(session, product.id, product.price_cents, product.price_version)
            return product_schema.dump(product)

    @rpc
    def get_product(self, product_id):
        product_id = positive_id(product_id, "product_id")  # refused even with no database
        with self.db.read_rows() as connection:
            return product_schema.dump(queries.product_row(connection, product_id))

    @rpc
    def get_products(self, ids):
        ids = load(ProductIdsSchema(), {"ids": ids})["ids"]
        with self.db.read_rows() as connection:
            found = queries.products_by_id(connection, ids)
            missing = sorted(set(ids) - set(found))
            if missing:
                raise NotFound("No such products", {"product_ids": missing})
            return product_schema.dump([found[i] for i in dict.fromkeys(ids)], many=True)

    @rpc
    def list_products(self, page=1, per_page=DEFAULT_PER_PAGE):
        page, per_page = page_args(page, per_page)
        with self.db.get_session() as session:
            return paginate(
                session, queries.ALL_PRODUCTS, Product.id, page, per_page, product_schema
            )

    @rpc
    def update_product(self, product_id, data):
        changes = load(UpdateProductSchema(), data)
        with self.db.get_session() as session:
            # Locked: two changes of one price get versions one after the other.
            product = queries.product(
                session, positive_id(product_id, "product_id"), for_update=True
            )
            repriced = changes.get("price_cents", product.price_cents) != product.price_cents
            for field, value in changes.items():
                setattr(product, field, value)
            if repriced:
                product.price_version += 1
                product.announced_price_cents = product.price_cents
            flush_or_raise(session, _sku_taken)
            if repriced:  # after the flush: a taken SKU is a Conflict, and nothing announced
                self._announce_price(
                    session, product.id, product.price_cents, product.price_version
                )
            return product_schema.dump(product)

    @timer(interval=ANNOUNCE_SWEEP_SECONDS)
    def announce_new_prices(self):
        """Announce every price that was set without an announcement.

        ``create_product`` and ``update_product`` announce in the transaction of
        the change. A price set otherwise (by a release from before the
        announcements, still running during a rollout, or by an operator's SQL)
        differs from the one last announced; it is announced here, one version
        up, within ``ANNOUNCE_SWEEP_SECONDS``. So is every product that existed
        before this release, once.
        """
        while True:
            with self.db.get_session() as session:
                found = queries.unannounced_prices(session, ANNOUNCE_BATCH)
                for product_id, price_cents, version in found:
                    queries.mark_announced(session, product_id, price_cents, version + 1)
                    self._announce_price(session, product_id, price_cents, version + 1)
            if found:
                log.info("announced %d price(s) set without an announcement", len(found))
            if len(found) < ANNOUNCE_BATCH:
                return

    def _announce_price(self, session, product_id, price_cents, version):
        """Tell orders, which prices new orders from its replica (orders/known_prices.py)."""
        self.outbox.add(
            session,
            "product_priced",
            {
                "product_id": product_id,
                "price": format_cents(price_cents),
                "price_version": version,
            },
        )

    @rpc
    def adjust_stock(self, product_id, delta, idempotency_key=None):
        change = load(AdjustStockSchema(), {"delta": delta, "idempotency_key": idempotency_key})
        delta, key = change["delta"], change["idempotency_key"]
        with self.db.get_session() as session:
            product = queries.product(
                session, positive_id(product_id, "product_id"), for_update=True
            )
            earlier = None
            if key is not None:
                earlier = queries.earlier_adjustment(session, product.id, key, delta)
            if earlier is not None:  # the key has changed this product before
                if earlier != delta:
                    raise Conflict(
                        "The idempotency key was used for another change",
                        {"idempotency_key": [f"Already used to change the stock by {earlier}."]},
                    )
                return product_schema.dump(product)  # made once already: the stock as it is
            if not stock.can_adjust(product.stock, delta):
                raise Conflict(
                    "Stock cannot go below zero",
                    {"delta": [f"Only {product.stock} in stock."]},
                )
            product.stock += delta
            session.flush()
            return product_schema.dump(product)

    @reliable_event_handler("orders", "order_created")
    @once_per_event(ProcessedEvent, "reserve_stock")
    def reserve_stock(self, session, order):
        """Reserve every line of a new order, or none and say which fell short."""
        order_id = order["order_id"]
        wanted = stock.requested_quantities(order["items"])
        status = queries.reservation_status(session, order_id)
        if status is not None:
            # A re-driven order: say again what happened (a tombstone of a
            # cancel that overtook the order says nothing).
            if status == "failed":
                self.outbox.add(
                    session, "stock_reservation_failed", {"order_id": order_id, "shortages": []}
                )
            elif status in ("reserved", "fulfilled"):
                self.outbox.add(session, "stock_reserved", {"order_id": order_id})
            return
        if self._take_stock(session, order_id, wanted):
            return
        # A line fell short: nothing of this attempt stays, the order is refused.
        session.rollback()
        if not claim_again(session):
            return
        on_hand = queries.stock_on_hand(session, wanted)
        queries.insert_reservation(session, order_id, "failed", utcnow())
        self.outbox.add(
            session,
            "stock_reservation_failed",
            {"order_id": order_id, "shortages": stock.shortages(wanted, on_hand)},
        )

    def _take_stock(self, session, order_id, wanted):
        """Write the reservation and its event, and take every line from stock; False
        as soon as one line cannot be taken (too little stock, or no such product).

        Stock is taken last and in id order: its row locks are held only until the
        commit, and two orders never wait on each other's rows.
        """
        now = utcnow()
        queries.insert_reservation(session, order_id, "reserved", now)
        self.outbox.add(session, "stock_reserved", {"order_id": order_id})
        for product_id, quantity in sorted(wanted.items()):
            if not queries.take_stock(session, product_id, quantity, now):
                return False
        queries.insert_lines(session, order_id, wanted)
        return True

    @reliable_event_handler("orders", "order_cancelled")
    @once_per_event(ProcessedEvent, "release_stock")
    def release_stock(self, session, order):
        """Give a cancelled order's reservation back to stock."""
        order_id = order["order_id"]
        reservation = queries.reservation_for_update(session, order_id)
        if reservation is None:
            # The cancel overtook the order: a tombstone stops a late reservation.
            session.add(Reservation(order_id=order_id, status="cancelled"))
            return
        if reservation.status != "reserved":
            return
        self._settle(session, reservation, "released", back_to_stock=True)
        self.outbox.add(session, "stock_released", {"order_id": order_id})

    @reliable_event_handler("orders", "order_completed")
    @once_per_event(ProcessedEvent, "fulfil_reservation")
    def fulfil_reservation(self, session, order):
        """A completed order's goods have left: they are no longer held."""
        reservation = queries.reservation_for_update(session, order["order_id"])
        if reservation is not None and reservation.status == "reserved":
            self._settle(session, reservation, "fulfilled", back_to_stock=False)

    def _settle(self, session, reservation, status, back_to_stock):
        quantities = {line.product_id: line.quantity for line in reservation.lines}
        for product in queries.lock_products(session, list(quantities)):
            product.reserved -= quantities[product.id]
            if back_to_stock:
                product.stock += quantities[product.id]
        reservation.status = status
