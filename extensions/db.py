"""Database access for Nameko services that cooperates with eventlet.

psycopg2 is a C extension: left alone, a slow query blocks the eventlet hub
and with it every other worker of the process. psycogreen makes psycopg2 wait
on the hub instead, so queries of different workers overlap.
"""

from datetime import UTC, datetime

from nameko_sqlalchemy import Database as _Database
from nameko_sqlalchemy.database import Session as _Session
from psycogreen.eventlet import patch_psycopg
from sqlalchemy import BigInteger, DateTime, Integer, TypeDecorator
from sqlalchemy.exc import DisconnectionError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import sessionmaker

from extensions.errors import Unavailable

patch_psycopg()

# A BIGINT primary key everywhere but SQLite, which only auto-increments INTEGER.
BigId = BigInteger().with_variant(Integer, "sqlite")


def utcnow():
    return datetime.now(UTC)


def flush_or_raise(session, make_error):
    """Flush the session; a constraint it breaks (a taken email or SKU) raises ``make_error()``."""
    try:
        session.flush()
    except IntegrityError:
        raise make_error() from None


class Timestamp(TypeDecorator):
    """A timezone-aware UTC timestamp, also on SQLite (which stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


# The database refused, dropped or timed out a connection: worth retrying later.
DATABASE_UNREACHABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)


class Session(_Session):
    """A worker's session; a database it cannot reach surfaces as ``Unavailable``.

    Callers then see a typed, retryable error (503 at the gateway, a delayed
    retry for an event handler) instead of a bare driver error.
    """

    def __exit__(self, exc_type, exc, traceback):
        try:
            super().__exit__(exc_type, exc, traceback)  # commits, or rolls back
        except DATABASE_UNREACHABLE as error:
            raise _unavailable(error) from error
        if isinstance(exc, DATABASE_UNREACHABLE):
            raise _unavailable(exc) from exc


def _unavailable(error):
    cause = getattr(error, "orig", None) or error
    return Unavailable("The database is unavailable", {"reason": type(cause).__name__})


class Database(_Database):
    """nameko-sqlalchemy's Database with connections checked before use and
    unreachable databases reported as ``Unavailable``."""

    def __init__(self, declarative_base):
        # hide_parameters: a failed statement's error (logged, traced, and sent to
        # the caller of an RPC) would otherwise print its values, password hashes too.
        super().__init__(
            declarative_base, engine_options={"pool_pre_ping": True, "hide_parameters": True}
        )

    def setup(self):
        super().setup()
        self.Session = sessionmaker(bind=self.engine, class_=Session, **self.session_options)
