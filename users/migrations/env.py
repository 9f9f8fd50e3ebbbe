from alembic import context

from tools.migrate import run_migrations
from users.models import Base

run_migrations(context, Base.metadata)
