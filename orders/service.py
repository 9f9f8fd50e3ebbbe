"""The orders service: the order aggregate and its side of the saga."""

import logging
from datetime import timedelta
from types import SimpleNamespace

from nameko.dependency_providers import Config
from nameko.timer import timer
from sqlalchemy.exc import IntegrityError

from extensions import scaffolding, shop_metrics
from extensions.db import Database, paginate, utcnow
from extensions.envelopes import once_per_event
from extensions.events import reliable_event_handler
from extensions.outbox import Outbox
from extensions.rpc import TimedRpcProxy, rpc
from orders import known_prices, known_users, queries, rules
from orders.models import Base, Order, OutboxMessage, ProcessedEvent
from orders.schemas import CreateOrderSchema, OrderSchema, ProductPricedSchema
from shop.contract import DEFAULT_PER_PAGE
from shop.errors import Conflict, NotFound, ValidationError
from shop.money import format_cents, parse_amount
from shop.validation import load, page_args, positive_id

log = logging.getLogger(__name__)
order_schema = OrderSchema()
SWEEP_INTERVAL_SECONDS = 10
DEFAULT_PENDING_REDRIVE_SECONDS = 60


class OrdersService(scaffolding.ShopService):
    name = "orders"

    db = Database(Base)
    outbox = Outbox(Base, OutboxMessage)
    users = TimedRpcProxy("users")
    inventory = TimedRpcProxy("inventory")
    config = Config()

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
        with self.db.get_session() as session:
            prices = known_prices.prices_of(session, quantities)
            user_known = known_users.is_known(session, user_id)
            if user_known and len(prices) == len(quantities):
                lines = rules.price_lines(quantities, prices)
                return self._save_order(session, user_id, key, lines)
        # Remote calls happen outside any transaction: no lock is held while this
        # worker waits on another service.
        answered = self._ask_prices(sorted(set(quantities) - set(prices)))
        if not user_known:
            self.users.get_user(user_id)  # not seen here yet: NotFound unless users knows it
        with self.db.get_session() as session:
            if user_known:
                known_users.is_known(session, user_id)  # NotFound if deleted meanwhile
            else:
                known_users.remember(session, user_id)
            lines = rules.price_lines(quantities, {**prices, **answered})
            return self._save_order(session, user_id, key, lines)

    def _ask_prices(self, product_ids):
        """``{product_id: cents}`` from inventory, for products whose announcement orders
        has not had yet; ``NotFound`` names any that do not exist."""
        if not product_ids:
            return {}
        products = self.inventory.get_products(product_ids)
        return {product["id"]: parse_amount(product["price"]) for product in products}

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
            order.id = queries.insert_order(session, vars(order))
        except IntegrityError:
            if key is None:
                raise
            session.rollback()
            return self._order_by_key(user_id, key)  # a concurrent twin won the race
        order.items = [SimpleNamespace(order_id=order.id, **line) for line in lines]
        queries.insert_items(session, [vars(item) for item in order.items])
        self.outbox.add(session, "order_created", _event_data(order))
        return order_schema.dump(order)

    @rpc
    def get_order(self, order_id):
        # Two statements, the order then its lines, but written in one transaction.
        with self.db.read() as session:
            return order_schema.dump(queries.order(session, positive_id(order_id, "order_id")))

    @rpc
    def list_orders(self, user_id=None, page=1, per_page=DEFAULT_PER_PAGE):
        page, per_page = page_args(page, per_page)
        query = queries.orders_of(None if user_id is None else positive_id(user_id, "user_id"))
        with self.db.get_session() as session:
            return paginate(session, query, Order.id.desc(), page, per_page, order_schema)

    @rpc
    def cancel_order(self, order_id):
        return self._move(order_id, "cancelled", "order_cancelled")

    @rpc
    def complete_order(self, order_id):
        return self._move(order_id, "completed", "order_completed")

    @reliable_event_handler("inventory", "stock_reserved")
    @once_per_event(ProcessedEvent, "confirmed_order")
    def confirm_order(self, session, reservation):
        self._settle_reservation(session, reservation, "confirmed", "order_confirmed")

    @reliable_event_handler("inventory", "stock_reservation_failed")
    @once_per_event(ProcessedEvent, "rejected_order")
    def reject_order(self, session, reservation):
        self._settle_reservation(session, reservation, "rejected", "order_rejected")

    @reliable_event_handler("inventory", "product_priced")
    @once_per_event(ProcessedEvent, "learn_price")
    def learn_price(self, session, announcement):
        # A malformed announcement is a ValidationError: dead-lettered at once.
        product = load(ProductPricedSchema(), announcement)
        known_prices.learn(
            session, product["product_id"], product["price"], product["price_version"]
        )

    @reliable_event_handler("users", "user_deleted")
    @once_per_event(ProcessedEvent, "forget_deleted_user")
    def forget_deleted_user(self, session, user):
        known_users.forget(session, user["user_id"], utcnow())

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
            shop_metrics.orders_pending(*queries.pending_count_and_oldest(session))
            stuck = queries.stuck_pending(session, cutoff)
            for order in stuck:
                order.updated_at = utcnow()
                self.outbox.add(session, "order_created", _event_data(order))
                shop_metrics.order_redriven()
        if stuck:
            log.warning(
                "re-drove %d order(s) pending for over %ss: %s",
                len(stuck),
                seconds,
                [order.id for order in stuck],
            )

    def _settle_reservation(self, session, reservation, status, event_type):
        order_id = reservation["order_id"]
        # Moved only if the rules allow it from where it is now.
        settled = queries.settle(session, order_id, rules.sources(status), status, utcnow())
        if settled is None:
            current = queries.status(session, order_id)
            if current is None:
                raise NotFound("No such order", {"order_id": order_id})
            # e.g. cancelled while inventory was reserving: inventory's
            # cancel handler gives the stock back, nothing to do here.
            log.info("order %s is %s; ignoring %s", order_id, current, event_type)
            return
        items = queries.items(session, order_id)
        order = SimpleNamespace(id=order_id, status=status, items=items, **settled._mapping)
        details = {"shortages": reservation.get("shortages", [])} if status == "rejected" else {}
        self.outbox.add(session, event_type, {**_event_data(order), **details})

    def _move(self, order_id, status, event_type):
        with self.db.get_session() as session:
            order = queries.order(session, positive_id(order_id, "order_id"), for_update=True)
            try:
                order.status = rules.transition(order.status, status)
            except rules.InvalidTransition as exc:
                raise Conflict(str(exc), {"status": order.status}) from None
            self.outbox.add(session, event_type, _event_data(order))
            session.flush()
            return order_schema.dump(order)

    def _order_by_key(self, user_id, key):
        with self.db.get_session() as session:
            order = queries.order_by_key(session, user_id, key)
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
