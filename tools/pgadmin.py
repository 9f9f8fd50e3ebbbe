"""Server-level PostgreSQL statements (CREATE/DROP DATABASE) for migrations, tests and
benchmarks.

They cannot run inside a transaction, hence autocommit on a plain psycopg2
connection to the server's ``postgres`` database.
"""

import psycopg2
from psycopg2 import errors
from sqlalchemy.engine import URL, make_url


def execute_on_server(server_uri, *statements):
    """Run ``statements`` in order on ``<server_uri>/postgres`` with autocommit."""
    connection = psycopg2.connect(f"{server_uri}/postgres")
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        connection.close()


def create_database_if_missing(db_uri):
    """Create the PostgreSQL database a SQLAlchemy URI names, unless it exists; True when
    it was made. Any other URI is left alone (SQLite makes its file on first use)."""
    url = make_url(db_uri)
    if url.get_backend_name() != "postgresql":
        return False
    server = URL.create("postgresql", url.username, url.password, url.host, url.port)
    try:
        execute_on_server(
            server.render_as_string(hide_password=False), f'CREATE DATABASE "{url.database}"'
        )
    except errors.DuplicateDatabase:
        return False
    return True
