"""The prices that orders knows: a local replica of inventory's, kept by its events.

``create_order`` fixes each line at the product's price. Rather than ask
inventory on every order (two messages, a worker and a query in inventory),
orders keeps in its own database the price of each product that inventory has
announced (``product_priced``, sent through inventory's outbox in the
transaction that creates the product or changes its price). Each change of
price carries a version one above the last, so news that arrives late or twice
never replaces newer news. A product not heard of is asked of inventory, and
the answer is not kept: only announcements are, so that the replica never holds
a price that no announcement will correct. The consistency this gives is in
docs/performance.md, "Orders' replica of prices".
"""

from sqlalchemy import bindparam, select

from extensions.db import dialect_insert
from orders.models import KnownPrice

_KNOWN = KnownPrice.__table__
# Built once: on every order, building the statement would cost more than running it.
_PRICES = select(_KNOWN.c.product_id, _KNOWN.c.price_cents).where(
    _KNOWN.c.product_id.in_(bindparam("ids", expanding=True))
)


def prices_of(session, product_ids):
    """``{product_id: cents}`` for those of ``product_ids`` whose price orders knows."""
    return dict(session.execute(_PRICES, {"ids": list(product_ids)}).all())


def learn(session, product_id, price_cents, price_version):
    """Inventory has announced a price; it replaces only an older version."""
    insert = dialect_insert(session, _KNOWN).values(
        product_id=product_id, price_cents=price_cents, price_version=price_version
    )
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["product_id"],
            set_={
                "price_cents": insert.excluded.price_cents,
                "price_version": insert.excluded.price_version,
            },
            where=_KNOWN.c.price_version < insert.excluded.price_version,
        )
    )
