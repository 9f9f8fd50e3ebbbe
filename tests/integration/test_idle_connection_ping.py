"""Pooled connections are checked before use only after sitting idle (extensions/db.py)."""

from sqlalchemy import create_engine, text

from extensions.db import ping_idle_connections
from tests.conftest import _admin_execute
from tests.polling import eventually


def backend_pid(engine):
    with engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar()


def backend_alive(engine, pid):
    with create_engine(str(engine.url)).connect() as connection:
        return connection.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        ).scalar()


def test_a_connection_that_died_while_idle_is_replaced_before_any_work(pg_db_uris):
    engine = ping_idle_connections(create_engine(pg_db_uris["orders:Base"]), idle_seconds=0)
    pid = backend_pid(engine)
    _admin_execute(f"SELECT pg_terminate_backend({pid})")
    eventually(lambda: not backend_alive(engine, pid))

    assert backend_pid(engine) != pid  # the dead one was dropped, the work ran on a new one
    engine.dispose()


def test_a_connection_used_a_moment_ago_is_not_pinged(pg_db_uris):
    engine = ping_idle_connections(create_engine(pg_db_uris["orders:Base"]), idle_seconds=60)
    pings = []
    engine.dialect.do_ping = pings.append

    for _ in range(3):
        backend_pid(engine)

    assert pings == []
    engine.dispose()
