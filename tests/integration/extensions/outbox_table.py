"""The integration tests' small service with an outbox, and its table in a SQLite file."""

from nameko.rpc import rpc
from sqlalchemy import create_engine
from sqlalchemy.orm import declarative_base

from extensions.db import Database
from extensions.outbox import Outbox, OutboxMessageMixin

Base = declarative_base()


class OutboxMessage(OutboxMessageMixin, Base):
    pass


class PlacesItems:
    """Writes a ``placed`` event to its outbox per ``place`` call; a test names the service."""

    db = Database(Base)
    outbox = Outbox(Base, OutboxMessage)

    @rpc
    def place(self, item):
        with self.db.get_session() as session:  # committed as the block ends
            self.outbox.add(session, "placed", {"item": item})


def outbox_db_uri(tmp_path):
    """The URI of a SQLite file in ``tmp_path`` that holds the outbox table."""
    db_uri = f"sqlite:///{tmp_path}/outbox.sqlite3"
    engine = create_engine(db_uri)
    Base.metadata.create_all(engine)
    engine.dispose()
    return db_uri
