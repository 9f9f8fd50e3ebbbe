"""Database access for Nameko services that cooperates with eventlet.

psycopg2 is a C extension: left alone, a slow query blocks the eventlet hub
and with it every other worker of the process. psycogreen makes psycopg2 wait
on the hub instead, so queries of different workers overlap.
"""

import time
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache

from nameko_sqlalchemy import Database as _Database
from nameko_sqlalchemy.database import DatabaseWrapper as _DatabaseWrapper
from nameko_sqlalchemy.database import Session as _Session
from psycogreen.eventlet import patch_psycopg
from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    TypeDecorator,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DisconnectionError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import sessionmaker

from shop.errors import Unavailable

patch_psycopg()

# A BIGINT primary key everywhere but SQLite, which only auto-increments INTEGER.
BigId = BigInteger().with_variant(Integer, "sqlite")


def utcnow():
    return datetime.now(UTC)


# INSERT with ON CONFLICT clauses, in each database the shop runs on.
_DIALECT_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def dialect_insert(session, table):
    """An INSERT into ``table`` that takes ``on_conflict_do_nothing()`` and ``..._do_update()``."""
    return _dialect_insert(session.get_bind().dialect.name, table)


@cache
def _dialect_insert(dialect, table):
    # Built once per table: statements are immutable, their methods return copies.
    return _DIALECT_INSERTS[dialect](table)


def flush_or_raise(session, make_error):
    """Flush the session; a constraint it breaks (a taken email or SKU) raises ``make_error()``."""
    try:
        session.flush()
    except IntegrityError:
        raise make_error() from None


def paginate(session, query, order_by, page, per_page, schema):
    """What every ``list_*`` RPC method returns: the rows of ``query`` on page ``page``
    (in ``order_by`` order, dumped with ``schema``) and how many rows there are in all.

    ``page`` and ``per_page`` are already checked (``shop.validation.page_args``).
    """
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(
        query.order_by(order_by).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return {
        "items": schema.dump(rows, many=True),
        "page": page,
        "per_page": per_page,
        "total": total,
    }


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


# A pooled connection unused for longer than this is checked (``SELECT 1``) before use.
IDLE_PING_SECONDS = 1.0


def ping_idle_connections(engine, idle_seconds=IDLE_PING_SECONDS):
    """Check a pooled connection before use only when it has been idle a while.

    ``pool_pre_ping`` checks every checkout: under load that is a round trip and
    a server transaction for each unit of work, on a connection used a few
    milliseconds before. A database that went away while its connections sat
    idle is still caught here, before any work runs. One that goes away between
    two busy checkouts fails that unit of work (``Unavailable``, which callers
    and event handlers retry), and that failure makes SQLAlchemy replace every
    connection of the pool.
    """

    @event.listens_for(engine, "checkin")
    def remember_when(dbapi_connection, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi_connection, record, proxy):
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool drops this connection and checks out another (a new one if need be).
            raise DisconnectionError("idle connection found dead") from exc

    return engine


# hide_parameters: a failed statement's error (logged, traced, and sent to the
# caller of an RPC) would otherwise print its values, password hashes too.
ENGINE_OPTIONS = {"hide_parameters": True}


def service_engine(uri, **options):
    """An engine as every part of a service uses it (``Database`` and the outbox relay)."""
    return ping_idle_connections(create_engine(uri, **ENGINE_OPTIONS, **options))


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


class DatabaseWrapper(_DatabaseWrapper):
    """What a worker gets: nameko-sqlalchemy's ``get_session()``, ``read()`` and
    ``read_rows()``."""

    def __init__(self, Session, ReadSession, read_engine):
        super().__init__(Session)
        self.ReadSession = ReadSession
        self.read_engine = read_engine

    def read(self):
        """A session whose statements each run alone, outside any transaction.

        That spares a BEGIN and a COMMIT round trip to the database: for a read
        of one statement only. Never for writes, nor for reads that must agree
        with each other.
        """
        session = self.ReadSession()
        self._context_sessions.append(session)
        return session

    @contextmanager
    def read_rows(self):
        """``read()`` without the ORM: a Core connection, outside any transaction too,
        for a Core statement whose rows are all the caller wants. The session's
        bookkeeping would cost as much as running the statement."""
        try:
            with self.read_engine.connect() as connection:
                yield connection
        except DATABASE_UNREACHABLE as error:
            raise _unavailable(error) from error


class Database(_Database):
    """nameko-sqlalchemy's Database with idle connections checked before use,
    ``read()``, and unreachable databases reported as ``Unavailable``."""

    def __init__(self, declarative_base):
        super().__init__(declarative_base, engine_options=ENGINE_OPTIONS)

    def setup(self):
        # Each pool keeps a connection for every worker. With fewer (SQLAlchemy keeps
        # 5), a service busier than that closes the connections it opened beyond them
        # and opens them again at once, for as long as its load lasts: each a new
        # server process, about 4 ms of CPU (docs/performance.md, "Connections kept").
        pool = {"pool_size": self.container.max_workers}
        self.engine_options = {**self.engine_options, **pool}
        super().setup()
        ping_idle_connections(self.engine)
        self.Session = sessionmaker(bind=self.engine, class_=Session, **self.session_options)
        # Reads get a pool of their own, whose connections stay in autocommit. A
        # writers' connection lent to a read costs the server a second transaction
        # when it goes back: psycopg2 then sends its isolation level again.
        self.read_engine = service_engine(self.engine.url, isolation_level="AUTOCOMMIT", **pool)
        self.ReadSession = sessionmaker(bind=self.read_engine, class_=Session)

    def stop(self):
        self.read_engine.dispose()
        super().stop()

    def kill(self):
        self.read_engine.dispose()
        super().kill()

    def get_dependency(self, worker_ctx):
        db = DatabaseWrapper(self.Session, self.ReadSession, self.read_engine)
        self.dbs[worker_ctx] = db
        return db
