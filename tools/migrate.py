"""Apply each service's alembic migrations to its own database.

    python -m tools.migrate [--config config.yaml] [--create-databases] [SERVICE ...]

Each service keeps its revisions in ``<service>/migrations``; the URI comes
from ``DB_URIS`` in the Nameko config, like the running service reads it.
``--create-databases`` first creates a PostgreSQL database that does not exist
yet (``make run-postgres``); elsewhere the databases are an operator's to make.
"""

import argparse
import importlib
from pathlib import Path

from alembic import command
from alembic.config import Config

from extensions.config import load_config
from shop.contract import SERVICES
from tools.pgadmin import create_database_if_missing


def alembic_config(service, db_uri):
    package_dir = Path(importlib.import_module(service).__file__).parent
    config = Config()
    config.set_main_option("script_location", str(package_dir / "migrations"))
    config.attributes["db_uri"] = db_uri
    return config


def upgrade(service, db_uri, revision="head"):
    command.upgrade(alembic_config(service, db_uri), revision)


def run_migrations(context, metadata):
    """The body of every service's ``migrations/env.py``."""
    from sqlalchemy import create_engine

    db_uri = context.config.attributes["db_uri"]
    if context.is_offline_mode():
        context.configure(url=db_uri, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(db_uri)
    with engine.connect() as connection:
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table.
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config.yaml")
    parser.add_argument(
        "--create-databases", action="store_true", help="create missing PostgreSQL databases"
    )
    parser.add_argument("services", nargs="*", help=f"any of {', '.join(SERVICES)} (default: all)")
    args = parser.parse_args()
    if unknown := set(args.services) - set(SERVICES):
        parser.error(f"unknown services: {', '.join(sorted(unknown))}")
    db_uris = load_config(args.config)["DB_URIS"]
    for service in args.services or SERVICES:
        if args.create_databases and create_database_if_missing(db_uris[f"{service}:Base"]):
            print(f"{service}: database created")
        upgrade(service, db_uris[f"{service}:Base"])
        print(f"{service}: migrated")


if __name__ == "__main__":
    main()
