"""The orders service's reads and writes of its database, each in the caller's session."""

from sqlalchemy import bindparam, func, insert, select, update

from orders.models import Order, OrderItem
from shop.errors import NotFound

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
# How many orders the re-drive sweep takes at a time.
STUCK_BATCH = 100


def insert_order(session, fields):
    """Insert an order row; its id. ``IntegrityError`` if its idempotency key is taken."""
    return session.execute(_INSERT_ORDER, fields).scalar_one()


def insert_items(session, items):
    session.execute(_INSERT_ITEMS, items)


def order(session, order_id, for_update=False):
    """The order ``order_id``; ``NotFound`` if there is none."""
    found = session.get(Order, order_id, with_for_update=for_update)
    if found is None:
        raise NotFound("No such order", {"order_id": order_id})
    return found


def order_by_key(session, user_id, key):
    """The order ``user_id`` placed with the idempotency key ``key``, or None."""
    return session.scalar(
        select(Order).where(Order.user_id == user_id, Order.idempotency_key == key)
    )


def orders_of(user_id=None):
    """The orders of ``user_id``, or of everyone (a query, for ``paginate``)."""
    query = select(Order)
    return query if user_id is None else query.where(Order.user_id == user_id)


def settle(session, order_id, sources, status, at):
    """Move the order to ``status`` if it is in one of ``sources``, in one statement
    (which waits for a concurrent cancel's lock, then sees its outcome).

    The order's ``(user_id, total_cents)``, or None when it was not moved.
    """
    return session.execute(
        _SETTLE, {"order_id": order_id, "sources": sources, "to": status, "at": at}
    ).first()


def status(session, order_id):
    """The order's status, or None if there is no such order."""
    return session.scalar(_STATUS, {"order_id": order_id})


def items(session, order_id):
    """The order's ``(product_id, quantity)`` lines, by product."""
    return session.execute(_ITEMS, {"order_id": order_id}).all()


def pending_count_and_oldest(session):
    """How many orders are pending, and when the oldest of them was created."""
    return session.execute(
        select(func.count(), func.min(Order.created_at)).where(Order.status == "pending")
    ).one()


def stuck_pending(session, cutoff):
    """Up to ``STUCK_BATCH`` orders pending and untouched since ``cutoff``, locked
    (orders another instance is re-driving are skipped)."""
    return session.scalars(
        select(Order)
        .where(Order.status == "pending", Order.updated_at < cutoff)
        .order_by(Order.id)
        .limit(STUCK_BATCH)
        .with_for_update(skip_locked=True)
    ).all()
