"""known_prices: the price of each product that inventory has told orders of

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "known_prices",
        sa.Column("product_id", BIG_ID, autoincrement=False, nullable=False),
        sa.Column("price_cents", BIG_ID, nullable=False),
        sa.Column("price_version", BIG_ID, nullable=False),
        sa.PrimaryKeyConstraint("product_id"),
    )


def downgrade() -> None:
    op.drop_table("known_prices")
