from alembic import context

from orders.models import Base
from tools.migrate import run_migrations

run_migrations(context, Base.metadata)
