"""Alembic migrations run from code: no alembic.ini or working directory needed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from herald.store.engine import connection_error, create_store_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "schema_versions"
# Key of the PostgreSQL advisory lock that serialises services migrating at the same time.
_POSTGRES_LOCK_KEY = 0x4845524C44  # "HERLD"


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration for the store, built in code.

    With `connection`, migrations run on it (env.py picks it up from `attributes`).
    """
    config = Config()
    # ConfigParser interpolates "%": escape it in the path.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("version_table", VERSION_TABLE)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision the migrations in this package know."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "herald/store/migrations/versions has no revisions"
    return head


def migrate(url: str | URL | Engine, revision: str = "head") -> None:
    """Bring the store at `url` up to `revision` (the newest by default).

    Safe to run again and from several processes at once: on PostgreSQL they take turns
    on an advisory lock, on SQLite on the database's write lock.
    """
    with _locked_connection(url) as connection:
        command.upgrade(alembic_config(connection), revision)


def downgrade(url: str | URL | Engine, revision: str = "base") -> None:
    """Take the store at `url` back to `revision` ("base" drops every table)."""
    with _locked_connection(url) as connection:
        command.downgrade(alembic_config(connection), revision)


def current_revision(url: str | URL | Engine) -> str | None:
    """The revision the store at `url` is at, or None before the first migration."""
    engine = url if isinstance(url, Engine) else create_store_engine(url)
    try:
        try:
            connection = engine.connect()
        except DBAPIError as exc:
            raise connection_error(engine.url, exc) from None
        with connection:
            context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
            return context.get_current_revision()
    finally:
        if engine is not url:
            engine.dispose()


@contextmanager
def _locked_connection(url: str | URL | Engine) -> Iterator[Connection]:
    """A connection inside one transaction that holds the store's migration lock."""
    engine = url if isinstance(url, Engine) else create_store_engine(url)
    try:
        try:
            connection = engine.connect()
        except DBAPIError as exc:
            raise connection_error(engine.url, exc) from None
        with connection, connection.begin():
            if engine.dialect.name == "postgresql":
                connection.execute(
                    text("select pg_advisory_xact_lock(:key)"), {"key": _POSTGRES_LOCK_KEY}
                )
            else:
                # Take SQLite's write lock before reading the version table, so a second
                # process waits (busy timeout) instead of creating the same tables again.
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            yield connection
    finally:
        if engine is not url:
            engine.dispose()
