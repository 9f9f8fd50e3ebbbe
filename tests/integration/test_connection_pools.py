"""A service's database pools keep a connection for each of its workers.

A new PostgreSQL connection costs the server a process of its own (about 3 ms of
its CPU here, besides the client's work): a pool smaller than the number of
workers that use it at once opens and closes connections for as long as the load
lasts.
"""

import pytest
from nameko.rpc import rpc
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import text

from extensions.db import Database
from users.models import Base

WORKERS = 8
ROUNDS = 3
# Long enough for every call of a round to hold its connection at once, even on a
# machine busy with other tests.
HOLD = "select pg_backend_pid() from pg_sleep(1)"


class BusyService:
    name = "users"  # borrows the users database: its DB_URIS key is "users:Base"

    db = Database(Base)

    @rpc
    def write_connection(self):
        with self.db.get_session() as session:
            return session.execute(text(HOLD)).scalar()

    @rpc
    def read_connection(self):
        with self.db.read_rows() as connection:
            return connection.execute(text(HOLD)).scalar()


@pytest.mark.parametrize("method", ["write_connection", "read_connection"])
def test_every_worker_busy_at_once_round_after_round_opens_no_new_connection(
    container_factory, rabbit_config, pg_db_uris, method
):
    config = {**rabbit_config, "DB_URIS": pg_db_uris, "max_workers": WORKERS}
    container = container_factory(BusyService, config)
    container.start()

    backends = []
    with ClusterRpcProxy(config) as cluster:
        call = getattr(cluster.users, method)
        for _ in range(ROUNDS):
            calls = [call.call_async() for _ in range(WORKERS)]
            backends.append({pending.result() for pending in calls})

    assert len(backends[0]) == WORKERS  # the round did keep every worker busy at once
    # Each round ran on the connections of the first: none was closed and opened again.
    assert set().union(*backends) == backends[0]
