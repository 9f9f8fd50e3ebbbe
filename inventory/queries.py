"""The inventory service's reads and writes of its database, each in the caller's session
(or, for the reads of rows alone, its connection: ``Database.read_rows()``)."""

from sqlalchemy import bindparam, insert, select, text, update

from extensions.db import dialect_insert, utcnow
from inventory.models import UNANNOUNCED, Product, Reservation, ReservationLine, StockAdjustment
from shop.errors import NotFound

# The statements of every order, built once: on every order, building them would
# cost more than running them.
_PRODUCT, _RESERVATION, _LINE = Product.__table__, Reservation.__table__, ReservationLine.__table__
_PRODUCT_BY_ID = select(_PRODUCT).where(_PRODUCT.c.id == bindparam("id"))
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
# Several instances sweep the same table: each product goes through one at a time.
_UNANNOUNCED = (
    select(_PRODUCT.c.id, _PRODUCT.c.price_cents, _PRODUCT.c.price_version)
    .where(text(UNANNOUNCED))
    .order_by(_PRODUCT.c.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_ANNOUNCED = (
    update(_PRODUCT)
    .where(_PRODUCT.c.id == bindparam("product_id"))
    .values(price_version=bindparam("version"), announced_price_cents=bindparam("announced"))
)
_INSERT_RESERVATION = insert(_RESERVATION)
_INSERT_LINES = insert(_LINE)

_ADJUSTMENT = StockAdjustment.__table__
_ADJUSTMENT_DELTA = select(_ADJUSTMENT.c.delta).where(
    _ADJUSTMENT.c.product_id == bindparam("product_id"),
    _ADJUSTMENT.c.idempotency_key == bindparam("key"),
)
ALL_PRODUCTS = select(Product)


def product(session, product_id, for_update=False):
    """The product ``product_id``; ``NotFound`` if there is none."""
    found = session.get(Product, product_id, with_for_update=for_update)
    if found is None:
        raise NotFound("No such product", {"product_id": product_id})
    return found


def product_row(connection, product_id):
    """The product ``product_id`` as a row, for reading only; ``NotFound`` if there is none."""
    found = connection.execute(_PRODUCT_BY_ID, {"id": product_id}).first()
    if found is None:
        raise NotFound("No such product", {"product_id": product_id})
    return found


def products_by_id(connection, ids):
    """``{id: product row}`` of those of ``ids`` that exist."""
    return {p.id: p for p in connection.execute(_PRODUCTS, {"ids": ids})}


def stock_on_hand(session, ids):
    """``{id: stock}`` of those of ``ids`` that exist."""
    return dict(session.execute(_STOCK, {"ids": list(ids)}).all())


def earlier_adjustment(session, product_id, key, delta):
    """Record the change of stock ``key`` makes to the product and return None; or,
    if the key has changed the product before, record nothing and return that delta.

    Called under the product's row lock, so that twins sent at once wait for each other.
    """
    recorded = session.execute(
        dialect_insert(session, _ADJUSTMENT).on_conflict_do_nothing(
            index_elements=[_ADJUSTMENT.c.product_id, _ADJUSTMENT.c.idempotency_key]
        ),
        {"product_id": product_id, "idempotency_key": key, "delta": delta, "created_at": utcnow()},
    )
    if recorded.rowcount == 1:
        return None
    return session.execute(_ADJUSTMENT_DELTA, {"product_id": product_id, "key": key}).scalar_one()


def take_stock(session, product_id, quantity, at):
    """Move ``quantity`` from the product's stock to its reserved; False (and nothing
    changed) if it has less than that in stock, or does not exist."""
    taken = session.execute(
        _TAKE_STOCK, {"product_id": product_id, "quantity": quantity, "at": at}
    )
    return taken.rowcount == 1


def lock_products(session, ids):
    # Locking in id order means two orders never wait on each other's rows.
    return session.scalars(
        select(Product).where(Product.id.in_(ids)).order_by(Product.id).with_for_update()
    ).all()


def reservation_status(session, order_id):
    """The status of the order's reservation, or None if it has none."""
    return session.scalar(_RESERVATION_STATUS, {"order_id": order_id})


def reservation_for_update(session, order_id):
    """The order's reservation, locked, or None."""
    return session.get(Reservation, order_id, with_for_update=True)


def insert_reservation(session, order_id, status, now):
    session.execute(
        _INSERT_RESERVATION,
        {"order_id": order_id, "status": status, "created_at": now, "updated_at": now},
    )


def insert_lines(session, order_id, quantities):
    """The reservation's lines: ``{product_id: quantity}``."""
    session.execute(
        _INSERT_LINES,
        [{"order_id": order_id, "product_id": p, "quantity": q} for p, q in quantities.items()],
    )


def unannounced_prices(session, limit):
    """Up to ``limit`` products whose price was never announced or has changed since,
    locked: ``(id, price_cents, price_version)`` rows."""
    return session.execute(_UNANNOUNCED, {"limit": limit}).all()


def mark_announced(session, product_id, price_cents, version):
    session.execute(
        _ANNOUNCED, {"product_id": product_id, "announced": price_cents, "version": version}
    )
