"""Alembic environment for the operational store.

Run from code (`herald.store.migrate`), the connection comes in `config.attributes`. Run by
hand (`alembic upgrade head` with the repository's alembic.ini), the database is
`sqlalchemy.url` if the ini sets one, else HERALD_DATABASE through Herald's settings.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from herald.store.models import Base

config = context.config
target_metadata = Base.metadata
version_table = config.get_main_option("version_table") or "schema_versions"

if config.config_file_name is not None and config.attributes.get("connection") is None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from herald.settings import load_settings

    return load_settings().database_url


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=version_table,
        # SQLite cannot ALTER most things: autogenerate batch (copy-and-move) operations.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Print the SQL (`alembic upgrade head --sql`) instead of running it."""
    from herald.store.engine import store_url

    context.configure(
        url=store_url(database_url()),
        target_metadata=target_metadata,
        version_table=version_table,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    from herald.store.engine import create_store_engine

    engine = create_store_engine(database_url())
    try:
        with engine.connect() as new_connection:
            run_on(new_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
