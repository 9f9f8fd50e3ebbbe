"""psycopg2 under psycogreen: slow queries of one service process overlap."""

from nameko.rpc import rpc
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import text

from extensions.db import Database
from users.models import Base


class SlowQueryService:
    name = "users"  # borrows the users database: its DB_URIS key is "users:Base"

    db = Database(Base)

    @rpc
    def slow_query(self, seconds):
        with self.db.get_session() as session:
            started, finished = session.execute(
                text("select clock_timestamp(), pg_sleep(:s), clock_timestamp()"), {"s": seconds}
            ).one()[::2]
        return [started.isoformat(), finished.isoformat()]


def test_two_slow_queries_in_one_service_process_overlap(
    container_factory, rabbit_config, pg_db_uris
):
    config = {**rabbit_config, "DB_URIS": pg_db_uris, "max_workers": 4}
    container = container_factory(SlowQueryService, config)
    container.start()

    with ClusterRpcProxy(config) as cluster:
        first = cluster.users.slow_query.call_async(1)
        second = cluster.users.slow_query.call_async(1)
        (start_a, end_a), (start_b, end_b) = first.result(), second.result()

    # Were the hub blocked during a query, the second would only start once the
    # first had ended: their intervals would not overlap.
    assert start_a < end_b and start_b < end_a
