"""The inventory service: products, stock and reservations for orders."""

from sqlalchemy import bindparam, func, insert, select, update

from extensions.db import Database, flush_or_raise, utcnow
from extensions.events import claim_event, open_envelope, reliable_event_handler
from extensions.jsonlog import LogContext
from extensions.metrics import Metrics
from extensions.outbox import Outbox
from extensions.registration import ConsulRegistration
from extensions.rpc import rpc
from extensions.tracing import Tracing
from inventory import stock
from inventory.exceptions import Conflict, NotFound
from inventory.models import (
    Base,
    OutboxMessage,
    ProcessedEvent,
    Product,
    Reservation,
    ReservationLine,
)
from inventory.schemas import (
    AdjustStockSchema,
    CreateProductSchema,
    ProductIdsSchema,
    ProductSchema,
    UpdateProductSchema,
)
from shop.validation import load, page_args, positive_id

product_schema = ProductSchema()

# The statements of every order, built once: on every order, building them would
# cost more than running them.
_PRODUCT, _RESERVATION, _LINE = Product.__table__, Reservation.__table__, ReservationLine.__table__
_PRODUCTS = select(_PRODUCT).where(_PRODUCT.c.id.in_(bindparam("ids", expanding=True)))
_STOCK = select(_PRODUCT.c.id, _PRODUCT.c.stock).where(
    _PRODUCT.c.id.in_(bindparam("ids", expanding=True))
)
# Takes a line only if there is enough: stock never goes below zero.
_TAKE_STOCK = (
    update(_PRODUCT)
    .where(_PRODUCT.c.id == bindparam("product_id"), _PRODUCT.c.stock >= bindparam("quantity"))
    .values(
        stock=_PRODUCT.c.stock - bindparam("quantity"),
        reserved=_PRODUCT.c.reserved + bindparam("quantity"),
        updated_at=bindparam("at"),
    )
)
_RESERVATION_STATUS = select(_RESERVATION.c.status).where(
    _RESERVATION.c.order_id == bindparam("order_id")
)
_INSERT_RESERVATION = insert(_RESERVATION)
_INSERT_LINES = insert(_LINE)


def _reservation(order_id, status, now=None):
    now = now or utcnow()
    return {"order_id": order_id, "status": status, "created_at": now, "updated_at": now}


def _sku_taken():
    return Conflict("SKU is already in use", {"sku": ["Already in use."]})


class InventoryService:
    name = "inventory"

    db = Database(Base)
    outbox = Outbox(Base, OutboxMessage)

    # Cross-cutting extensions: spans, Prometheus metrics, Consul, log fields.
    tracer = Tracing()
    metrics = Metrics()
    registration = ConsulRegistration()
    log_context = LogContext()

    @rpc
    def create_product(self, data):
        product = Product(**load(CreateProductSchema(), data))
        with self.db.get_session() as session:
            session.add(product)
            flush_or_raise(session, _sku_taken)
            return product_schema.dump(product)

    @rpc
    def get_product(self, product_id):
        with self.db.read() as session:
            return product_schema.dump(self._product(session, product_id))

    @rpc
    def get_products(self, ids):
        ids = load(ProductIdsSchema(), {"ids": ids})["ids"]
        with self.db.read() as session:
            found = {p.id: p for p in session.execute(_PRODUCTS, {"ids": ids})}
            missing = sorted(set(ids) - set(found))
            if missing:
                raise NotFound("No such products", {"product_ids": missing})
            return product_schema.dump([found[i] for i in dict.fromkeys(ids)], many=True)

    @rpc
    def list_products(self, page=1, per_page=20):
        page, per_page = page_args(page, per_page)
        with self.db.get_session() as session:
            total = session.scalar(select(func.count(Product.id)))
            products = session.scalars(
                select(Product).order_by(Product.id).offset((page - 1) * per_page).limit(per_page)
            ).all()
            return {
                "items": product_schema.dump(products, many=True),
                "page": page,
                "per_page": per_page,
                "total": total,
            }

    @rpc
    def update_product(self, product_id, data):
        changes = load(UpdateProductSchema(), data)
        with self.db.get_session() as session:
            product = self._product(session, product_id)
            for field, value in changes.items():
                setattr(product, field, value)
            flush_or_raise(session, _sku_taken)
            return product_schema.dump(product)

    @rpc
    def adjust_stock(self, product_id, delta):
        delta = load(AdjustStockSchema(), {"delta": delta})["delta"]
        with self.db.get_session() as session:
            product = self._product(session, product_id, for_update=True)
            if not stock.can_adjust(product.stock, delta):
                raise Conflict(
                    "Stock cannot go below zero",
                    {"delta": [f"Only {product.stock} in stock."]},
                )
            product.stock += delta
            session.flush()
            return product_schema.dump(product)

    @rpc
    def health(self):
        with self.db.get_session() as session:
            session.execute(select(1))
        return {"service": self.name, "status": "ok"}

    @reliable_event_handler("orders", "order_created")
    def reserve_stock(self, payload):
        """Reserve every line of a new order, or none and say which fell short."""
        event_id, order = open_envelope(payload)
        order_id = order["order_id"]
        wanted = stock.requested_quantities(order["items"])
        with self.db.get_session() as session:
            if not claim_event(session, ProcessedEvent, event_id, "reserve_stock"):
                return
            status = session.scalar(_RESERVATION_STATUS, {"order_id": order_id})
            if status is not None:
                # A re-driven order: say again what happened (a tombstone of a
                # cancel that overtook the order says nothing).
                if status == "failed":
                    self.outbox.add(
                        session,
                        "stock_reservation_failed",
                        {"order_id": order_id, "shortages": []},
                    )
                elif status in ("reserved", "fulfilled"):
                    self.outbox.add(session, "stock_reserved", {"order_id": order_id})
                return
            if self._take_stock(session, order_id, wanted):
                return
            # A line fell short: nothing of this attempt stays, the order is refused.
            session.rollback()
            if not claim_event(session, ProcessedEvent, event_id, "reserve_stock"):
                return
            on_hand = dict(session.execute(_STOCK, {"ids": list(wanted)}).all())
            session.execute(_INSERT_RESERVATION, _reservation(order_id, "failed"))
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
        session.execute(_INSERT_RESERVATION, _reservation(order_id, "reserved", now))
        self.outbox.add(session, "stock_reserved", {"order_id": order_id})
        for product_id, quantity in sorted(wanted.items()):
            taken = session.execute(
                _TAKE_STOCK, {"product_id": product_id, "quantity": quantity, "at": now}
            )
            if taken.rowcount != 1:
                return False
        session.execute(
            _INSERT_LINES,
            [{"order_id": order_id, "product_id": p, "quantity": q} for p, q in wanted.items()],
        )
        return True

    @reliable_event_handler("orders", "order_cancelled")
    def release_stock(self, payload):
        """Give a cancelled order's reservation back to stock."""
        event_id, order = open_envelope(payload)
        order_id = order["order_id"]
        with self.db.get_session() as session:
            if not claim_event(session, ProcessedEvent, event_id, "release_stock"):
                return
            reservation = session.get(Reservation, order_id, with_for_update=True)
            if reservation is None:
                # The cancel overtook the order: a tombstone stops a late reservation.
                session.add(Reservation(order_id=order_id, status="cancelled"))
                return
            if reservation.status != "reserved":
                return
            self._settle(session, reservation, "released", back_to_stock=True)
            self.outbox.add(session, "stock_released", {"order_id": order_id})

    @reliable_event_handler("orders", "order_completed")
    def fulfil_reservation(self, payload):
        """A completed order's goods have left: they are no longer held."""
        event_id, order = open_envelope(payload)
        with self.db.get_session() as session:
            if not claim_event(session, ProcessedEvent, event_id, "fulfil_reservation"):
                return
            reservation = session.get(Reservation, order["order_id"], with_for_update=True)
            if reservation is not None and reservation.status == "reserved":
                self._settle(session, reservation, "fulfilled", back_to_stock=False)

    def _settle(self, session, reservation, status, back_to_stock):
        quantities = {line.product_id: line.quantity for line in reservation.lines}
        for product in self._lock_products(session, quantities):
            product.reserved -= quantities[product.id]
            if back_to_stock:
                product.stock += quantities[product.id]
        reservation.status = status

    def _lock_products(self, session, quantities):
        # Locking in id order means two orders never wait on each other's rows.
        return session.scalars(
            select(Product)
            .where(Product.id.in_(quantities))
            .order_by(Product.id)
            .with_for_update()
        ).all()

    def _product(self, session, product_id, for_update=False):
        product = session.get(
            Product, positive_id(product_id, "product_id"), with_for_update=for_update
        )
        if product is None:
            raise NotFound("No such product", {"product_id": product_id})
        return product
