"""products.price_version and announced_price_cents, for orders' replica of prices

``price_version`` goes one up at every announced change of price; orders keeps
the price of the highest version it has heard of (orders/known_prices.py).
``announced_price_cents`` is the price last announced: the products that exist
before this revision have none, and inventory's sweep announces them once the
new inventory runs (inventory/service.py, ``announce_new_prices``).

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UNANNOUNCED = "(announced_price_cents IS NULL OR announced_price_cents <> price_cents)"


def upgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.add_column(sa.Column("price_version", BIG_ID, server_default="1", nullable=False))
        batch.add_column(sa.Column("announced_price_cents", BIG_ID, nullable=True))
    # The sweep's query, kept small: only the rows it has to announce are indexed.
    op.create_index(
        "ix_products_unannounced_price",
        "products",
        ["id"],
        postgresql_where=sa.text(UNANNOUNCED),
        sqlite_where=sa.text(UNANNOUNCED),
    )


def downgrade() -> None:
    op.drop_index("ix_products_unannounced_price", table_name="products")
    with op.batch_alter_table("products") as batch:
        batch.drop_column("announced_price_cents")
        batch.drop_column("price_version")
