"""Engines and sessions for the operational store, with one clear error for a bad URL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session

from herald.errors import SettingsError

SETTING = "HERALD_DATABASE"
SQLITE_BUSY_TIMEOUT_MS = 30_000
POSTGRES_CONNECT_TIMEOUT_S = 10
_URL_HELP = "use sqlite:///path/to/herald.sqlite or postgresql+psycopg://user@host:5432/database"


def store_url(url: str | URL) -> URL:
    """Parse a HERALD_DATABASE value, choosing psycopg 3 for a bare postgresql:// URL."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise SettingsError(SETTING, f"not a database URL: {url!r}; {_URL_HELP}") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise SettingsError(
            SETTING, f"unsupported database {parsed.get_backend_name()!r}; {_URL_HELP}"
        )
    return parsed


def display_url(url: URL) -> str:
    """The URL without its password, for messages."""
    return url.render_as_string(hide_password=True)


def create_store_engine(url: str | URL, *, check: bool = True) -> Engine:
    """An engine for the operational store at `url` (SQLite file or PostgreSQL).

    SQLite: the file's directory is created, and every connection gets WAL journaling, a
    busy timeout and foreign keys. PostgreSQL: connections are pinged before use. With
    `check` (the default) one connection is opened now, so an unreachable server or an
    unusable file fails here with a SettingsError instead of at the first query.
    """
    parsed = store_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = _sqlite_engine(parsed)
        else:
            engine = _postgres_engine(parsed)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise SettingsError(
            SETTING, f"no driver for {parsed.drivername!r} ({exc}); {_URL_HELP}"
        ) from None
    if check:
        check_connection(engine)
    return engine


def check_connection(engine: Engine) -> None:
    """Open and close one connection, turning a failure into a SettingsError."""
    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        engine.dispose()
        raise connection_error(engine.url, exc) from None


def connection_error(url: URL, exc: DBAPIError) -> SettingsError:
    """One line saying which database could not be reached and why."""
    reason = _first_line(str(exc.orig) if exc.orig is not None else str(exc))
    if url.get_backend_name() == "sqlite":
        return SettingsError(SETTING, f"cannot open SQLite database {url.database!r}: {reason}")
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    return SettingsError(
        SETTING,
        f"cannot connect to PostgreSQL at {where} (database {url.database!r}, "
        f"user {url.username!r}): {reason}",
    )


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "unknown error"


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        directory = Path(database).expanduser().absolute().parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SettingsError(
                SETTING,
                f"cannot create the directory {str(directory)!r} for the SQLite database: "
                f"{exc.strerror or exc}",
            ) from None
    engine = create_engine(url)
    event.listen(engine, "connect", _configure_sqlite_connection)
    return engine


def _configure_sqlite_connection(dbapi_connection: sqlite3.Connection, record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # A file database switches to WAL once and stays there; :memory: answers "memory".
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _postgres_engine(url: URL) -> Engine:
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = POSTGRES_CONNECT_TIMEOUT_S
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block ends and rolls back if it raises.

    Objects stay readable after the block (no expiry on commit).
    """
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
