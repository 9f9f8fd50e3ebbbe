"""Server-level PostgreSQL statements for tests and benchmarks (CREATE/DROP DATABASE).

They cannot run inside a transaction, hence autocommit on a plain psycopg2
connection to the server's ``postgres`` database.
"""

import psycopg2


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
