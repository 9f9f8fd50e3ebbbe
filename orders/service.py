"""The orders service: the order aggregate and its side of the saga."""

import logging
from datetime import timedelta
from types import SimpleNamespace

from nameko.dependency_providers import Config
from nameko.timer import timer
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from extensions import shop_metrics as metrics
from extensions.db import Database, utcnow
from extensions.events import claim_event, open_envelope, reliable_event_handler
from extensions.jsonlog import LogContext
from extensions.metrics import Metrics
from extensions.outbox import Outbox
from extensions.registration import ConsulRegistration
from extensions.rpc import TimedRpcProxy, rpc
from extensions.tracing import Tracing
from orders import known_users, rules
from orders.exceptions import Conflict, NotFound, ValidationError
from orders.models import Base, Order, OrderItem, OutboxMessage, ProcessedEvent
from orders.schemas import CreateOrderSchema, OrderSchema
from shop.money import format_cents, parse_amount
from shop.validation import load, page_args, positive_id

log = logging.getLogger(__name__)
order_schema = OrderSchema()
SWEEP_INTERVAL_SECONDS = 10

# The saga's statements, built once: on every order, building them would cost
# more than running them.
_ORDERS, _ORDER_ITEMS = Order.__table__, OrderItem.__table__
_INSERT_ORDER = insert(_ORDERS).returning(_ORDERS.c.id)
_INSERT_ITEMS = insert(_ORDER_ITEMS)
_SETTLE = (
    update(_ORDERS)
    .where(
        _ORDERS.c.id == bindparam("order_id"),
        _ORDERS.c.status.in_(bindparam("sources", expanding=True)),
    )
    .values(status=bindparam("to"), updated_at=bindparam("at"))
    .returning(_ORDERS.c.user_id, _ORDERS.c.total_cents)
)
_STATUS = select(_ORDERS.c.status).where(_ORDERS.c.id == bindparam("order_id"))
_ITEMS = (
    select(_ORDER_ITEMS.c.product_id, _ORDER_ITEMS.c.quantity)
    .where(_ORDER_ITEMS.c.order_id == bindparam("order_id"))
    .order_by(_ORDER_ITEMS.c.product_id)
)
DEFAULT_PENDING_REDRIVE_SECONDS = 60


class OrdersService:
    name = "orders"

    db = Database(Base)
    outbox = Outbox(Base, OutboxMessage)
    users = TimedRpcProxy("users")
    inventory = TimedRpcProxy("inventory")
    config = Config()

    # Cross-cutting extensions: spans, Prometheus metrics, Consul, log fields.
    tracer = Tracing()
    metrics = Metrics()
    registration = ConsulRegistration()
    log_context = LogContext()

    @rpc
    def create_order(self, user_id, items, idempotency_key=None):
        request = load(
            CreateOrderSchema(),
            {"user_id": user_id, "items": items, "idempotency_key": idempotency_key},
        )
        user_id, key = request["user_id"], request["idempotency_key"]
        try:
            quantities = rules.merge_lines(request["items"])
        except ValueError as exc:
            raise ValidationError("Invalid input", {"items": [str(exc)]}) from None
        if key is not None and (existing := self._order_by_key(user_id, key)) is not None:
            return existing
        # Remote calls happen before a transaction opens: no lock is held while
        # this worker waits on another service.
        products = self.inventory.get_products(sorted(quantities))
        lines = rules.price_lines(
            quantities, {p["id"]: parse_amount(p["price"]) for p in products}
        )
        with self.db.get_session() as session:
            if known_users.is_known(session, user_id):
                return self._save_order(session, user_id, key, lines)
        self.users.get_user(user_id)  # not seen here yet: NotFound unless users knows it
        with self.db.get_session() as session:
            known_users.remember(session, user_id)
            return self._save_order(session, user_id, key, lines)

    def _save_order(self, session, user_id, key, lines):
        now = utcnow()
        order = SimpleNamespace(
            user_id=user_id,
            idempotency_key=key,
            status="pending",
            total_cents=rules.total_cents(lines),
            created_at=now,
            updated_at=now,
        )
        try:
            order.id = session.execute(_INSERT_ORDER, vars(order)).scalar_one()
        except IntegrityError:
            if key is None:
                raise
            session.rollback()
            return self._order_by_key(user_id, key)  # a concurrent twin won the race
        order.items = [SimpleNamespace(order_id=order.id, **line) for line in lines]
        session.execute(_INSERT_ITEMS, [vars(item) for item in order.items])
        self.outbox.add(session, "order_created", _event_data(order))
        return order_schema.dump(order)

    @rpc
    def get_order(self, order_id):
        # Two statements, the order then its lines, but written in one transaction.
        with self.db.read() as session:
            return order_schema.dump(self._order(session, order_id))

    @rpc
    def list_orders(self, user_id=None, page=1, per_page=20):
        page, per_page = page_args(page, per_page)
        query = select(Order)
        if user_id is not None:
            query = query.where(Order.user_id == positive_id(user_id, "user_id"))
        with self.db.get_session() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery()))
            orders = session.scalars(
                query.order_by(Order.id.desc()).offset((page - 1) * per_page).limit(per_page)
            ).all()
            return {
                "items": order_schema.dump(orders, many=True),
                "page": page,
                "per_page": per_page,
                "total": total,
            }

    @rpc
    def cancel_order(self, order_id):
        return self._move(order_id, "cancelled", "order_cancelled")

    @rpc
    def complete_order(self, order_id):
        return self._move(order_id, "completed", "order_completed")

    @rpc
    def health(self):
        with self.db.get_session() as session:
            session.execute(select(1))
        return {"service": self.name, "status": "ok"}

    @reliable_event_handler("inventory", "stock_reserved")
    def confirm_order(self, payload):
        self._settle_reservation(payload, "confirmed", "order_confirmed")

    @reliable_event_handler("inventory", "stock_reservation_failed")
    def reject_order(self, payload):
        self._settle_reservation(payload, "rejected", "order_rejected")

    @reliable_event_handler("users", "user_deleted")
    def forget_deleted_user(self, payload):
        event_id, data = open_envelope(payload)
        with self.db.get_session() as session:
            if claim_event(session, ProcessedEvent, event_id, "forget_deleted_user"):
                known_users.forget(session, data["user_id"], utcnow())

    @timer(interval=SWEEP_INTERVAL_SECONDS)
    def redrive_stuck_orders(self):
        """Publish ``order_created`` again for orders pending too long.

        An order stays pending only if an event of its saga was lost for good
        (dead-lettered, or published before any queue existed). Inventory
        answers a repeated ``order_created`` with the outcome it already
        reached, so a re-drive settles the order whichever event was lost.
        Each order is re-driven at most once per ``ORDERS.PENDING_REDRIVE_SECONDS``.
        The sweep also sets the pending-orders gauges that the stuck-orders alert watches.
        """
        seconds = float(
            self.config.get("ORDERS", {}).get(
                "PENDING_REDRIVE_SECONDS", DEFAULT_PENDING_REDRIVE_SECONDS
            )
        )
        cutoff = utcnow() - timedelta(seconds=seconds)
        with self.db.get_session() as session:
            pending, oldest = session.execute(
                select(func.count(), func.min(Order.created_at)).where(Order.status == "pending")
            ).one()
            metrics.orders_pending(pending, oldest)
            stuck = session.scalars(
                select(Order)
                .where(Order.status == "pending", Order.updated_at < cutoff)
                .order_by(Order.id)
                .limit(100)
                .with_for_update(skip_locked=True)
            ).all()
            for order in stuck:
                order.updated_at = utcnow()
                self.outbox.add(session, "order_created", _event_data(order))
                metrics.order_redriven()
        if stuck:
            log.warning(
                "re-drove %d order(s) pending for over %ss: %s",
                len(stuck),
                seconds,
                [order.id for order in stuck],
            )

    def _settle_reservation(self, payload, status, event_type):
        event_id, data = open_envelope(payload)
        order_id = data["order_id"]
        with self.db.get_session() as session:
            if not claim_event(session, ProcessedEvent, event_id, f"{status}_order"):
                return
            # One statement moves the order if the rules allow it (and waits for a
            # concurrent cancel's lock, then sees its outcome).
            settled = session.execute(
                _SETTLE,
                {
                    "order_id": order_id,
                    "sources": rules.sources(status),
                    "to": status,
                    "at": utcnow(),
                },
            ).first()
            if settled is None:
                current = session.scalar(_STATUS, {"order_id": order_id})
                if current is None:
                    raise NotFound("No such order", {"order_id": order_id})
                # e.g. cancelled while inventory was reserving: inventory's
                # cancel handler gives the stock back, nothing to do here.
                log.info("order %s is %s; ignoring %s", order_id, current, event_type)
                return
            items = session.execute(_ITEMS, {"order_id": order_id}).all()
            order = SimpleNamespace(id=order_id, status=status, items=items, **settled._mapping)
            details = {"shortages": data.get("shortages", [])} if status == "rejected" else {}
            self.outbox.add(session, event_type, {**_event_data(order), **details})

    def _move(self, order_id, status, event_type):
        with self.db.get_session() as session:
            order = self._order(session, order_id, for_update=True)
            try:
                order.status = rules.transition(order.status, status)
            except rules.InvalidTransition as exc:
                raise Conflict(str(exc), {"status": order.status}) from None
            self.outbox.add(session, event_type, _event_data(order))
            session.flush()
            return order_schema.dump(order)

    def _order(self, session, order_id, for_update=False):
        order = session.get(Order, positive_id(order_id, "order_id"), with_for_update=for_update)
        if order is None:
            raise NotFound("No such order", {"order_id": order_id})
        return order

    def _order_by_key(self, user_id, key):
        with self.db.get_session() as session:
            order = session.scalar(
                select(Order).where(Order.user_id == user_id, Order.idempotency_key == key)
            )
            return None if order is None else order_schema.dump(order)


def _event_data(order):
    """What every order event carries: enough for any handler to act alone."""
    return {
        "order_id": order.id,
        "user_id": order.user_id,
        "status": order.status,
        "items": [{"product_id": i.product_id, "quantity": i.quantity} for i in order.items],
        "total": format_cents(order.total_cents),
    }
