"""products.price_version, and every product's price announced once

``price_version`` goes one up at every change of price; orders keeps the price
of the highest version it has heard of (orders/known_prices.py). The products
that exist before this revision are announced here, in inventory's outbox, so
that orders' replica starts from every price; the relay publishes them once the
new inventory runs.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from extensions.db import utcnow
from extensions.envelopes import envelope
from shop.money import format_cents

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIRST_VERSION = 1


def upgrade() -> None:
    op.add_column(
        "products",
        sa.Column(
            "price_version",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            server_default=str(FIRST_VERSION),
            nullable=False,
        ),
    )
    products = sa.table("products", sa.column("id"), sa.column("price_cents"))
    outbox = sa.table(
        "outbox",
        sa.column("event_type", sa.String),
        sa.column("payload", sa.JSON),
        sa.column("headers", sa.JSON),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    now = utcnow()
    announcements = [
        {
            "event_type": "product_priced",
            "payload": envelope(
                {
                    "product_id": product_id,
                    "price": format_cents(price_cents),
                    "price_version": FIRST_VERSION,
                }
            ),
            "headers": {},
            "created_at": now,
        }
        for product_id, price_cents in op.get_bind().execute(
            sa.select(products.c.id, products.c.price_cents)
        )
    ]
    if announcements:
        op.bulk_insert(outbox, announcements)


def downgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.drop_column("price_version")
