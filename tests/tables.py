"""Row counts of every table, to show that a rejected call wrote nothing."""

from contextlib import contextmanager

from sqlalchemy import create_engine, inspect, text


@contextmanager
def row_counter(db_uris):
    """Yield ``count()``: ``{"<database key>/<table>": rows}`` over every service's database.

    The engines and the table list live as long as the block, so that counting
    before and after each of many calls costs one query per database.
    """
    engines = {key: create_engine(uri) for key, uri in db_uris.items()}
    queries = {}
    for key, engine in engines.items():
        with engine.connect() as connection:
            tables = sorted(set(inspect(connection).get_table_names()) - {"alembic_version"})
        queries[key] = text(
            " union all ".join(f"select '{t}', count(*) from \"{t}\"" for t in tables)
        )

    def count():
        counts = {}
        for key, engine in engines.items():
            with engine.connect() as connection:
                for table, rows in connection.execute(queries[key]):
                    counts[f"{key}/{table}"] = rows
        return counts

    try:
        yield count
    finally:
        for engine in engines.values():
            engine.dispose()
