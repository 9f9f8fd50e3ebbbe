"""Database access for Nameko services that cooperates with eventlet.

psycopg2 is a C extension: left alone, a slow query blocks the eventlet hub
and with it every other worker of the process. psycogreen makes psycopg2 wait
on the hub instead, so queries of different workers overlap.
"""

from datetime import UTC, datetime

from nameko_sqlalchemy import Database as _Database
from psycogreen.eventlet import patch_psycopg
from sqlalchemy import BigInteger, DateTime, Integer, TypeDecorator
from sqlalchemy.exc import IntegrityError

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


class Database(_Database):
    """nameko-sqlalchemy's Database with connections checked before use."""

    def __init__(self, declarative_base):
        super().__init__(declarative_base, engine_options={"pool_pre_ping": True})
