"""Scheduled SQL imports: a table or query in any SQLAlchemy database, read as an import.

    reader = open_sql_source(url, table="clients", cursor_column="updated_at", last_cursor=c)
    for batch in reader.batches(10_000): ...       # SourceRow(row_number, values as text)
    reader.max_cursor                               # the greatest cursor value read

    result = run_sql_source(store, home, "crm_clients")   # reads, imports, advances the cursor

The source is only read: PostgreSQL sessions are read-only (`default_transaction_read_only`)
with a statement timeout, SQLite files are opened `mode=ro`. Rows stream through a server-side
cursor (`stream_results` + `yield_per`), never a whole table in memory. With a cursor column,
a run reads `WHERE cursor > :last ORDER BY cursor` (a bound parameter, never formatted text);
the cursor advances to the greatest value read only after the import succeeded. Rows that
later arrive with a cursor value equal to the stored one are not read again: use a cursor that
grows strictly (an id, or a timestamp with enough precision).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from herald.errors import HeraldError
from herald.imports.readers import DEFAULT_MAX_CELL_CHARS, SourceRow, TableReader

if TYPE_CHECKING:
    from herald.profiles.importing import ImportResult

CONNECT_TIMEOUT_S = 10
STATEMENT_TIMEOUT_S = 600
SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_URL_HELP = (
    "use a SQLAlchemy URL such as postgresql+psycopg://user:password@host:5432/db "
    "or sqlite:////path/to/file.sqlite"
)


class SqlSourceError(HeraldError):
    """A SQL source cannot be read; the message says why, without its password."""


class BadSourceUrl(SqlSourceError):
    """The URL is not a SQLAlchemy URL, or names a driver that is not installed."""


class SourceUnreachable(SqlSourceError):
    """The source database does not answer, refuses the login, or the file is missing."""


class UnknownSourceTable(SqlSourceError):
    """The table does not exist, or the query does not run, in the source database."""


class UnknownCursorColumn(SqlSourceError):
    """The cursor (or key) column is not a column of the source's result."""


class UnknownSqlSource(SqlSourceError):
    def __init__(self, name: str) -> None:
        super().__init__(f"there is no SQL source {name!r}; `herald source-sql list` shows them")


class SqlSourceExists(SqlSourceError):
    def __init__(self, name: str) -> None:
        super().__init__(f"a SQL source named {name!r} exists already")


# ---------------------------------------------------------------------------------------------
# URLs and passwords


def parse_source_url(url: str | URL) -> URL:
    """A source URL, a bare postgresql:// taking psycopg 3; BadSourceUrl if it is not one."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise BadSourceUrl(f"not a database URL: {_mask_text(str(url))!r}; {_URL_HELP}") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def masked_url(url: str | URL) -> str:
    """The URL with its password (and password-like query parameters) replaced by ***."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return _mask_text(str(url))
    hidden = {key: "MASKED" for key in parsed.query if key.lower() in ("password", "pwd")}
    if hidden:
        parsed = parsed.update_query_dict(hidden)
    return parsed.render_as_string(hide_password=True).replace("=MASKED", "=***")


def _mask_text(value: str) -> str:
    """Mask `user:password@` in text that does not parse as a URL."""
    return re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", value)


def _scrub(message: str, url: URL) -> str:
    """A driver message on one line, without the URL's password in it."""
    line = next((part.strip() for part in message.strip().splitlines() if part.strip()), "")
    if url.password:
        line = line.replace(str(url.password), "***")
    return line


# ---------------------------------------------------------------------------------------------
# Engines


def source_engine(
    url: str | URL,
    *,
    connect_timeout: int = CONNECT_TIMEOUT_S,
    statement_timeout: int = STATEMENT_TIMEOUT_S,
) -> Engine:
    """An engine on the source that cannot write and gives up on slow connects and queries.

    PostgreSQL: `connect_timeout`, `statement_timeout`, read-only transactions. SQLite: the
    file opened read-only (a missing file is an error, not a new empty database) and a
    progress handler interrupting a statement that runs longer than `statement_timeout`.
    Other databases get what their SQLAlchemy dialect offers, and are read with SELECTs only.
    """
    parsed = parse_source_url(url)
    backend = parsed.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend == "postgresql":
        connect_args = {
            "connect_timeout": connect_timeout,
            "options": (
                f"-c statement_timeout={statement_timeout * 1000}"
                " -c default_transaction_read_only=on"
            ),
        }
    elif backend == "sqlite":
        path = parsed.database or ""
        if not path or path == ":memory:":
            raise BadSourceUrl("a SQLite source needs a file: sqlite:////path/to/file.sqlite")
        if not path.startswith("file:"):
            parsed = parsed.set(database=f"file:{path}").update_query_dict(
                {"mode": "ro", "uri": "true"}
            )
        connect_args = {"timeout": connect_timeout}
    elif backend in ("mysql", "mariadb"):
        connect_args = {"connect_timeout": connect_timeout}
    try:
        engine = create_engine(parsed, connect_args=connect_args, pool_pre_ping=True)
    except (NoSuchModuleError, ModuleNotFoundError, ImportError) as exc:
        raise BadSourceUrl(
            f"no driver for {parsed.drivername!r} ({_scrub(str(exc), parsed)}); {_URL_HELP}"
        ) from None
    except (ArgumentError, TypeError, ValueError) as exc:
        raise BadSourceUrl(f"{masked_url(parsed)}: {_scrub(str(exc), parsed)}") from None
    if backend == "sqlite":
        _limit_sqlite_statements(engine, statement_timeout)
    return engine


def _limit_sqlite_statements(engine: Engine, seconds: int) -> None:
    import time

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("pragma query_only = on")

    @event.listens_for(engine, "before_cursor_execute")
    def _before(
        connection: Connection,
        _cursor: Any,
        _statement: str,
        _params: Any,
        _context: Any,
        _many: bool,
    ) -> None:
        deadline = time.monotonic() + seconds
        raw = connection.connection.dbapi_connection
        if raw is not None:
            raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)

    @event.listens_for(engine, "after_cursor_execute")
    def _after(
        connection: Connection,
        _cursor: Any,
        _statement: str,
        _params: Any,
        _context: Any,
        _many: bool,
    ) -> None:
        # The limit covers running the statement up to its first row (a sort included), not
        # the time the caller takes to fetch the rows of a large table.
        raw = connection.connection.dbapi_connection
        if raw is not None:
            raw.set_progress_handler(None, 0)


# ---------------------------------------------------------------------------------------------
# Cursor values kept as text


def cursor_to_text(value: Any) -> tuple[str, str]:
    """A cursor value as (text, type) for the store; `cursor_from_text` gives it back."""
    if isinstance(value, bool):
        return ("1" if value else "0"), "int"
    if isinstance(value, int):
        return str(value), "int"
    if isinstance(value, float):
        return repr(value), "float"
    if isinstance(value, decimal.Decimal):
        return str(value), "decimal"
    if isinstance(value, dt.datetime):
        return value.isoformat(), "datetime"
    if isinstance(value, dt.date):
        return value.isoformat(), "date"
    return str(value), "text"


def cursor_from_text(value: str, kind: str | None) -> Any:
    """The cursor value to bind in `WHERE cursor > :last`, with the type the driver gave it."""
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "decimal":
        return decimal.Decimal(value)
    if kind == "datetime":
        return dt.datetime.fromisoformat(value)
    if kind == "date":
        return dt.date.fromisoformat(value)
    return value


# ---------------------------------------------------------------------------------------------
# Cell values as text


def cell_text(value: Any) -> str | None:
    """A database value as import text: NULL is None, dates ISO, numbers plain, JSON as JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, bytes | bytearray | memoryview):
        raise _BinaryValue
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)


class _BinaryValue(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# The reader


class SqlTableReader(TableReader):
    """A table or query of a SQL database read as an import source (see `open_sql_source`).

    Row numbers count the rows of this run from 1. `max_cursor` is the greatest cursor value
    of the rows read so far (None before reading, or when no row had one).
    """

    def __init__(
        self,
        *,
        engine: Engine,
        select_sql: str,
        params: dict[str, Any],
        columns: list[str],
        cursor_column: str | None,
        label: str,
        first_run: bool,
    ) -> None:
        super().__init__(
            source=label,
            columns=columns,
            has_header=True,
            encoding=None,
            delimiter=None,
            sheet=None,
            warnings=[],
            max_cell_chars=DEFAULT_MAX_CELL_CHARS,
            _raw_rows=lambda: iter(()),
        )
        self.engine = engine
        self.select_sql = select_sql
        self.params = params
        self.cursor_column = cursor_column
        self.max_cursor: Any = None
        self._cursor_index = columns.index(cursor_column) if cursor_column else None
        self._first_run = first_run

    def batches(self, size: int = 10_000) -> Iterator[list[SourceRow]]:
        if size < 1:
            raise ValueError("batch size must be at least 1")
        url = self.engine.url
        cursor_index = self._cursor_index
        columns = self.columns
        limit = self.max_cell_chars
        row_number = 0
        null_cursors = 0
        try:
            with self.engine.connect() as connection:
                streaming = connection.execution_options(stream_results=True, yield_per=size)
                result = streaming.execute(text(self.select_sql), self.params)
                for partition in result.partitions(size):
                    batch: list[SourceRow] = []
                    for raw in partition:
                        row_number += 1
                        if cursor_index is not None:
                            cursor = raw[cursor_index]
                            # Rows come in cursor order, so the last value is the greatest
                            # as the source database compares them.
                            if cursor is None:
                                null_cursors += 1
                            else:
                                self.max_cursor = cursor
                        batch.append(_source_row(row_number, raw, columns, limit))
                    yield batch
                result.close()
                connection.rollback()
        except DBAPIError as exc:
            reason = _scrub(str(exc.orig) if exc.orig is not None else str(exc), url)
            raise SqlSourceError(f"{self.source}: reading failed: {reason}") from None
        finally:
            self.engine.dispose()
        if null_cursors:
            when = "were read now but" if self._first_run else "were skipped:"
            self.warnings.append(
                f"{null_cursors} rows have no {self.cursor_column!r} value; they {when} "
                "incremental runs do not see them"
            )


def _source_row(row_number: int, raw: Any, columns: list[str], limit: int) -> SourceRow:
    values: list[str | None] = []
    problems: list[str] = []
    for column, value in zip(columns, raw, strict=True):
        try:
            cell = cell_text(value)
        except _BinaryValue:
            problems.append(f"{column}: binary values cannot be imported")
            cell = None
        if cell is not None and len(cell) > limit:
            problems.append(f"{column}: {len(cell)} characters, above the limit of {limit}")
        values.append(cell)
    return SourceRow(row_number, values, "; ".join(problems) if problems else None)


def open_sql_source(
    url: str | URL,
    *,
    table: str | None = None,
    query: str | None = None,
    cursor_column: str | None = None,
    last_cursor: Any = None,
    required_columns: tuple[str, ...] = (),
    label: str | None = None,
    connect_timeout: int = CONNECT_TIMEOUT_S,
    statement_timeout: int = STATEMENT_TIMEOUT_S,
) -> SqlTableReader:
    """Open a table (`schema.table` allowed) or a SELECT for reading; rows past `last_cursor`.

    Connects once to check the source and learn its columns; raises BadSourceUrl,
    SourceUnreachable, UnknownSourceTable or UnknownCursorColumn with one clear line.
    """
    if (table is None) == (query is None):
        raise SqlSourceError("give a table or a query, not both and not neither")
    engine = source_engine(
        url, connect_timeout=connect_timeout, statement_timeout=statement_timeout
    )
    shown = masked_url(url)
    try:
        preparer = engine.dialect.identifier_preparer
        with engine.connect() as connection:
            if table is not None:
                schema, _, name = table.rpartition(".")
                if not inspect(connection).has_table(name, schema=schema or None):
                    raise UnknownSourceTable(f"{shown}: there is no table {table!r}")
                inner = "select * from " + ".".join(
                    preparer.quote(part) for part in ([schema] if schema else []) + [name]
                )
            else:
                assert query is not None
                inner = query.strip().rstrip(";").strip()
                if not inner:
                    raise SqlSourceError("the query is empty")
            try:
                probe = connection.execute(text(f"select * from ({inner}) as src where 1 = 0"))
                columns = [str(column) for column in probe.keys()]  # noqa: SIM118
                probe.close()
            except DBAPIError as exc:
                reason = _scrub(str(exc.orig) if exc.orig is not None else str(exc), engine.url)
                what = f"table {table!r}" if table is not None else "the query"
                raise UnknownSourceTable(f"{shown}: {what} cannot be read: {reason}") from None
            connection.rollback()
    except DBAPIError as exc:
        engine.dispose()
        reason = _scrub(str(exc.orig) if exc.orig is not None else str(exc), engine.url)
        raise SourceUnreachable(f"cannot connect to {shown}: {reason}") from None
    except BaseException:
        engine.dispose()
        raise
    for column in (cursor_column, *required_columns):
        if column is not None and column not in columns:
            engine.dispose()
            raise UnknownCursorColumn(
                f"{column!r} is not a column of the source (its columns: {', '.join(columns)})"
            )
    select_sql = f"select * from ({inner}) as src"
    params: dict[str, Any] = {}
    if cursor_column is not None:
        quoted = f"src.{preparer.quote(cursor_column)}"
        if last_cursor is not None:
            select_sql += f" where {quoted} > :last_cursor"
            params["last_cursor"] = last_cursor
        select_sql += f" order by {quoted}"
    return SqlTableReader(
        engine=engine,
        select_sql=select_sql,
        params=params,
        columns=columns,
        cursor_column=cursor_column,
        label=label or (table or "query"),
        first_run=last_cursor is None,
    )


# ---------------------------------------------------------------------------------------------
# Sources kept in the operational store


@dataclass(frozen=True)
class SqlSourceInfo:
    """A SQL source as the store keeps it; `url` holds the password: show `shown_url`."""

    name: str
    database: str
    url: str
    table: str | None
    query: str | None
    cursor_column: str | None
    last_cursor: str | None
    last_cursor_type: str | None
    key_column: str | None
    mapping: dict[str, str]
    mode: str
    schedule: str
    enabled: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    last_run_at: dt.datetime | None
    last_import_id: str | None

    @property
    def shown_url(self) -> str:
        return masked_url(self.url)

    def public(self) -> dict[str, Any]:
        """Everything but the password, for listings."""
        return {
            "name": self.name,
            "database": self.database,
            "url": self.shown_url,
            "table": self.table,
            "query": self.query,
            "cursor_column": self.cursor_column,
            "last_cursor": self.last_cursor,
            "key_column": self.key_column,
            "mapping": self.mapping,
            "mode": self.mode,
            "schedule": self.schedule,
            "enabled": self.enabled,
            "last_run_at": self.last_run_at.isoformat() if self.last_run_at else None,
            "last_import_id": self.last_import_id,
        }


def _info(source: Any, database: str) -> SqlSourceInfo:
    return SqlSourceInfo(
        name=source.name,
        database=database,
        url=source.url,
        table=source.table_name,
        query=source.query,
        cursor_column=source.cursor_column,
        last_cursor=source.last_cursor,
        last_cursor_type=source.last_cursor_type,
        key_column=source.key_column,
        mapping=dict(source.mapping or {}),
        mode=source.mode,
        schedule=source.schedule,
        enabled=source.enabled,
        created_at=source.created_at,
        updated_at=source.updated_at,
        last_run_at=source.last_run_at,
        last_import_id=source.last_import_id,
    )


CRON = re.compile(r"^\s*(\S+\s+){4}\S+\s*$")


def add_sql_source(
    store: Engine,
    name: str,
    *,
    database: str,
    url: str,
    table: str | None = None,
    query: str | None = None,
    cursor_column: str | None = None,
    key_column: str | None = None,
    mapping: dict[str, str] | None = None,
    mode: str = "upsert",
    schedule: str = "0 * * * *",
    enabled: bool = True,
) -> SqlSourceInfo:
    """Keep a new SQL source; the source database is not contacted (it may be down now)."""
    from herald.profiles.databases import UnknownProfileDatabase
    from herald.store import ProfileDatabase, SqlSource, session_scope

    if not SOURCE_NAME.match(name):
        raise SqlSourceError(
            f"source name {name!r}: use lowercase letters, digits and _, starting with a letter"
        )
    if (table is None) == (query is None):
        raise SqlSourceError("give --table or --query (one of them)")
    if mode not in ("upsert", "insert", "update"):
        raise SqlSourceError(f"mode {mode!r}: use upsert, insert or update")
    if not CRON.match(schedule):
        raise SqlSourceError(f"schedule {schedule!r} is not a cron expression like '0 * * * *'")
    parse_source_url(url)
    with session_scope(store) as session:
        owner = session.query(ProfileDatabase).filter_by(name=database).one_or_none()
        if owner is None:
            raise UnknownProfileDatabase(database)
        if session.query(SqlSource).filter_by(name=name).count():
            raise SqlSourceExists(name)
        source = SqlSource(
            name=name,
            database_id=owner.id,
            url=url,
            table_name=table,
            query=query,
            cursor_column=cursor_column,
            key_column=key_column,
            mapping=dict(mapping or {}),
            mode=mode,
            schedule=" ".join(schedule.split()),
            enabled=enabled,
        )
        session.add(source)
        session.flush()
        return _info(source, owner.name)


def list_sql_sources(store: Engine, *, enabled_only: bool = False) -> list[SqlSourceInfo]:
    from herald.store import ProfileDatabase, SqlSource, session_scope

    with session_scope(store) as session:
        query = session.query(SqlSource, ProfileDatabase.name).join(
            ProfileDatabase, SqlSource.database_id == ProfileDatabase.id
        )
        if enabled_only:
            query = query.filter(SqlSource.enabled.is_(True))
        return [_info(source, database) for source, database in query.order_by(SqlSource.name)]


def get_sql_source(store: Engine, name: str) -> SqlSourceInfo:
    for source in list_sql_sources(store):
        if source.name == name:
            return source
    raise UnknownSqlSource(name)


def remove_sql_source(store: Engine, name: str) -> None:
    from herald.store import SqlSource, session_scope

    with session_scope(store) as session:
        source = session.query(SqlSource).filter_by(name=name).one_or_none()
        if source is None:
            raise UnknownSqlSource(name)
        session.delete(source)


def run_sql_source(store: Engine, home: Path, name: str) -> ImportResult:
    """Import the rows of SQL source `name` that are new since its last successful run.

    Returns the `ImportResult` of `run_import` (kind "sql"). The source's cursor advances to
    the greatest cursor value read only when the import succeeded; a failed run leaves it.
    """
    from herald.profiles.importing import ImportRequest, run_import
    from herald.store import SqlSource, session_scope
    from herald.store.models import utc_now

    source = get_sql_source(store, name)
    last = (
        cursor_from_text(source.last_cursor, source.last_cursor_type)
        if source.cursor_column and source.last_cursor is not None
        else None
    )
    reader = open_sql_source(
        source.url,
        table=source.table,
        query=source.query,
        cursor_column=source.cursor_column,
        last_cursor=last,
        label=f"sql source {name}",
    )
    request = ImportRequest(
        database=source.database,
        source=name,
        kind="sql",
        mode=source.mode,  # type: ignore[arg-type]
        key_column=source.key_column,
        mapping=source.mapping,
    )
    result = run_import(store, home, reader, request)
    with session_scope(store) as session:
        entry = session.query(SqlSource).filter_by(name=name).one()
        now = utc_now()
        entry.last_run_at = now
        entry.last_import_id = result.import_id
        if reader.max_cursor is not None:
            entry.last_cursor, entry.last_cursor_type = cursor_to_text(reader.max_cursor)
    return result


__all__ = [
    "BadSourceUrl",
    "SourceUnreachable",
    "SqlSourceError",
    "SqlSourceExists",
    "SqlSourceInfo",
    "SqlTableReader",
    "UnknownCursorColumn",
    "UnknownSourceTable",
    "UnknownSqlSource",
    "add_sql_source",
    "cell_text",
    "cursor_from_text",
    "cursor_to_text",
    "get_sql_source",
    "list_sql_sources",
    "masked_url",
    "open_sql_source",
    "remove_sql_source",
    "run_sql_source",
    "source_engine",
]
