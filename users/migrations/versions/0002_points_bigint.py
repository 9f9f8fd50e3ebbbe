"""points as a 64-bit integer

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


def upgrade() -> None:
    # SQLite's INTEGER already holds 64 bits; PostgreSQL's does not.
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("users", "points", type_=sa.BigInteger(), existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("users", "points", type_=sa.Integer(), existing_nullable=False)
