"""Scheduled SQL imports: a table or query of a SQLite file or a PostgreSQL database, read
incrementally by a cursor column into a profile database, from the API, the CLI and Dagster.

PostgreSQL: the server at HERALD_TEST_POSTGRES_URL (default postgres@127.0.0.1:5432, trust
auth); one throwaway database per session, its source table made again for every test.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from sqlalchemy import Engine, make_url, text
from sqlalchemy.exc import DBAPIError

from assets.resources import StoreResource, WarehouseResource
from assets.sql_sources import build_sql_source_schedules, sql_source_import_job
from herald.imports.sql_source import (
    BadSourceUrl,
    SourceUnreachable,
    UnknownCursorColumn,
    UnknownSourceTable,
    add_sql_source,
    get_sql_source,
    open_sql_source,
    run_sql_source,
)
from herald.profiles.databases import create_database
from herald.profiles.schema import load_schema
from herald.settings import load_settings
from herald.store import ProfileImport, create_store_engine, migrate, session_scope
from tests.support.cli import run_herald as run_cli

REPO = Path(__file__).resolve().parents[2]
POSTGRES_SERVER_URL = os.environ.get(
    "HERALD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
Row = tuple[str | None, str | None, str, int | None, str]
FIRST_ROWS: list[Row] = [
    ("c1", "ivan@example.com", "gold", 100, "2024-01-01 10:00:00"),
    ("c2", "not-an-email", "silver", 5, "2024-01-02 10:00:00"),
    (None, "anna@example.com", "gold", None, "2024-01-03 10:00:00"),
]
NEW_ROWS: list[Row] = [
    ("c4", "eve@example.com", "bronze", 1, "2024-02-01 09:00:00"),
    ("c5", "sean@example.com", "gold", 7, "2024-02-02 09:00:00"),
]


@dataclass
class SourceDatabase:
    """A source database holding a `clients` table, and a way to add rows to it."""

    kind: str
    url: str
    insert: Callable[[list[Row]], None]


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_source_url() -> Iterator[str]:
    server = make_url(POSTGRES_SERVER_URL)
    try:
        admin = psycopg.connect(_libpq(POSTGRES_SERVER_URL), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable ({str(exc).strip().splitlines()[0]})")
    name = f"herald_src_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'create database "{name}"')
        try:
            # Trust auth ignores the password; it is there to be masked.
            yield server.set(
                drivername="postgresql+psycopg", database=name, password="s3cret-pw"
            ).render_as_string(hide_password=False)
        finally:
            admin.execute(f'drop database if exists "{name}" with (force)')


def _sqlite_source(path: Path) -> SourceDatabase:
    with sqlite3.connect(path) as connection:
        connection.execute(
            "create table clients (code text, email text, level text, bonus integer,"
            " changed_at datetime)"
        )

    def insert(rows: list[Row]) -> None:
        with sqlite3.connect(path) as connection:
            connection.executemany("insert into clients values (?, ?, ?, ?, ?)", rows)

    return SourceDatabase("sqlite", f"sqlite:///{path}", insert)


def _postgres_source(url: str) -> SourceDatabase:
    with psycopg.connect(_libpq(url), autocommit=True) as connection:
        connection.execute("drop table if exists clients")
        connection.execute(
            "create table clients (code text, email text, level text, bonus numeric(12, 2),"
            " changed_at timestamp)"
        )

    def insert(rows: list[Row]) -> None:
        with psycopg.connect(_libpq(url), autocommit=True) as connection:
            connection.cursor().executemany("insert into clients values (%s, %s, %s, %s, %s)", rows)

    return SourceDatabase("postgresql", url, insert)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def source_db(request: pytest.FixtureRequest, tmp_path: Path) -> SourceDatabase:
    if request.param == "sqlite":
        source = _sqlite_source(tmp_path / "source.sqlite")
    else:
        source = _postgres_source(request.getfixturevalue("postgres_source_url"))
    source.insert(FIRST_ROWS)
    return source


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Engine]:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'store.sqlite'}")
    migrate(engine)
    create_database(engine, load_schema(REPO / "docs" / "schemas" / "shop.yml"))
    yield engine
    engine.dispose()


def _counts(result: object) -> tuple[int, int, int]:
    outcome = result.outcome  # type: ignore[attr-defined]
    return outcome.received, outcome.accepted, outcome.rejected


# --- imports ------------------------------------------------------------------------------


def test_a_table_imports_incrementally_by_its_cursor(
    store: Engine, source_db: SourceDatabase, tmp_path: Path
) -> None:
    add_sql_source(
        store,
        "crm",
        database="shop",
        url=source_db.url,
        table="clients",
        cursor_column="changed_at",
        key_column="code",
        mapping={"bonus": "bonus_points"},
    )
    first = run_sql_source(store, tmp_path, "crm")
    assert _counts(first) == (3, 1, 2)
    after_first = get_sql_source(store, "crm")
    assert after_first.last_cursor is not None and after_first.last_cursor.startswith("2024-01-03")
    assert _counts(run_sql_source(store, tmp_path, "crm")) == (0, 0, 0)

    source_db.insert(NEW_ROWS)
    third = run_sql_source(store, tmp_path, "crm")

    assert _counts(third) == (2, 2, 0)
    assert get_sql_source(store, "crm").last_cursor.startswith("2024-02-02")  # type: ignore[union-attr]
    assert get_sql_source(store, "crm").last_import_id == third.import_id
    with session_scope(store) as session:
        kinds = {entry.kind for entry in session.query(ProfileImport)}
    assert kinds == {"sql"}


def test_a_null_key_and_a_bad_value_are_rejected_with_their_reasons(
    store: Engine, source_db: SourceDatabase, tmp_path: Path
) -> None:
    add_sql_source(
        store, "crm", database="shop", url=source_db.url, table="clients", key_column="code"
    )

    result = run_sql_source(store, tmp_path, "crm")

    report = result.outcome.rejects_path
    assert report is not None
    lines = report.read_text(encoding="utf-8-sig").splitlines()
    assert lines[1].startswith("2,email: invalid email")
    assert lines[2].startswith("3,empty key column 'code'")


def test_a_query_is_read_as_a_subquery_with_the_cursor(
    store: Engine, source_db: SourceDatabase, tmp_path: Path
) -> None:
    add_sql_source(
        store,
        "gold",
        database="shop",
        url=source_db.url,
        query="select code, email, level, changed_at from clients where level = 'gold';",
        cursor_column="changed_at",
    )
    assert _counts(run_sql_source(store, tmp_path, "gold")) == (2, 2, 0)

    source_db.insert(NEW_ROWS)

    assert _counts(run_sql_source(store, tmp_path, "gold")) == (1, 1, 0)


def test_the_cursor_does_not_advance_when_the_import_fails(
    store: Engine, source_db: SourceDatabase, tmp_path: Path
) -> None:
    add_sql_source(
        store,
        "crm",
        database="shop",
        url=source_db.url,
        table="clients",
        cursor_column="changed_at",
    )
    home = tmp_path / "home"
    home.mkdir()
    (home / "landing").write_text("a file where the landing folder should be")

    with pytest.raises(OSError):
        run_sql_source(store, home, "crm")

    assert get_sql_source(store, "crm").last_cursor is None
    (home / "landing").unlink()
    assert _counts(run_sql_source(store, home, "crm"))[0] == 3


def test_values_arrive_as_text(source_db: SourceDatabase) -> None:
    reader = open_sql_source(source_db.url, table="clients", cursor_column="changed_at")

    rows = [row for batch in reader.batches(2) for row in batch]

    assert [row.row_number for row in rows] == [1, 2, 3]
    assert rows[0].values[:3] == ["c1", "ivan@example.com", "gold"]
    assert rows[0].values[3] in ("100", "100.00")
    assert rows[2].values[0] is None and rows[2].values[3] is None
    assert rows[0].values[4] in ("2024-01-01 10:00:00", "2024-01-01T10:00:00")


def test_the_source_is_opened_read_only(source_db: SourceDatabase) -> None:
    reader = open_sql_source(source_db.url, table="clients")

    with pytest.raises(DBAPIError), reader.engine.connect() as connection:
        connection.execute(text("delete from clients"))
    reader.engine.dispose()


# --- clear errors -------------------------------------------------------------------------


def test_a_bad_url_is_one_clear_error() -> None:
    with pytest.raises(BadSourceUrl, match="not a database URL"):
        open_sql_source("not a url", table="clients")
    with pytest.raises(BadSourceUrl, match="no driver for 'nosuchdb'"):
        open_sql_source("nosuchdb://host/db", table="clients")


def test_an_unreachable_source_is_one_clear_error_without_the_password(tmp_path: Path) -> None:
    with pytest.raises(SourceUnreachable, match="unable to open database file"):
        open_sql_source(f"sqlite:///{tmp_path / 'missing.sqlite'}", table="clients")
    with pytest.raises(SourceUnreachable) as refused:
        open_sql_source("postgresql://user:s3cret@127.0.0.1:1/crm", table="clients")
    assert "s3cret" not in str(refused.value) and "user:***@127.0.0.1:1" in str(refused.value)
    assert not (tmp_path / "missing.sqlite").exists()


def test_an_unknown_table_or_cursor_column_is_one_clear_error(source_db: SourceDatabase) -> None:
    with pytest.raises(UnknownSourceTable, match="there is no table 'nope'"):
        open_sql_source(source_db.url, table="nope")
    with pytest.raises(UnknownSourceTable, match="the query cannot be read"):
        open_sql_source(source_db.url, query="select nope from clients")
    with pytest.raises(UnknownCursorColumn, match="'updated' is not a column of the source"):
        open_sql_source(source_db.url, table="clients", cursor_column="updated")


# --- CLI ----------------------------------------------------------------------------------


def test_cli_adds_lists_runs_and_removes_sources(tmp_path: Path) -> None:
    home = tmp_path / "home"
    source = _sqlite_source(tmp_path / "source.sqlite")
    source.insert(FIRST_ROWS)
    assert run_cli(["db", "apply", "--schema", "docs/schemas/shop.yml"], home).returncode == 0
    args = ["source-sql", "add", "crm", "--db", "shop", "--url", source.url, "--table", "clients"]
    args += ["--cursor", "changed_at", "--key", "code", "--map", "bonus=bonus_points"]
    added = run_cli(args, home)
    assert added.returncode == 0, added.stderr
    secret_url = "postgresql+psycopg://crm:s3cret@db.example.com:5432/crm"
    args = ["source-sql", "add", "erp", "--db", "shop", "--url", secret_url, "--query"]
    added = run_cli([*args, "select 1 as code", "--schedule", "*/15 * * * *"], home)
    assert added.returncode == 0, added.stderr
    assert "s3cret" not in added.stdout

    listed = run_cli(["source-sql", "list"], home)
    listed_json = run_cli(["source-sql", "list", "--json"], home)
    ran = run_cli(["source-sql", "run", "crm", "--no-load"], home)
    removed = run_cli(["source-sql", "remove", "erp"], home)
    missing = run_cli(["source-sql", "run", "erp"], home)

    assert "s3cret" not in listed.stdout + listed_json.stdout
    assert "crm:***@db.example.com" in listed.stdout
    assert [item["name"] for item in json.loads(listed_json.stdout)] == ["crm", "erp"]
    assert ran.returncode == 0, ran.stderr
    summary = json.loads(ran.stdout)
    assert (summary["received"], summary["accepted"], summary["rejected"]) == (3, 1, 2)
    assert summary["import_id"] and Path(summary["report"]).exists()
    assert removed.returncode == 0
    assert missing.returncode == 1 and missing.stderr.startswith("herald: there is no SQL source")
    assert "Traceback" not in missing.stderr


# --- Dagster ------------------------------------------------------------------------------


def test_a_schedule_per_enabled_source_runs_the_import(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "home", database=f"sqlite:///{tmp_path / 's.db'}")
    engine = create_store_engine(settings.database_url)
    migrate(engine)
    create_database(engine, load_schema(REPO / "docs" / "schemas" / "shop.yml"))
    source = _sqlite_source(tmp_path / "source.sqlite")
    source.insert(FIRST_ROWS)
    add_sql_source(engine, "crm", database="shop", url=source.url, table="clients")
    add_sql_source(
        engine, "erp", database="shop", url=source.url, table="clients", schedule="5 4 * * *"
    )
    add_sql_source(engine, "old", database="shop", url=source.url, table="clients", enabled=False)

    schedules = build_sql_source_schedules(settings)
    defs = dg.Definitions(
        schedules=schedules,
        jobs=[sql_source_import_job],
        resources={
            "store": StoreResource.from_settings(settings),
            "warehouse": WarehouseResource.from_settings(settings),
        },
    )
    dg.Definitions.validate_loadable(defs)

    assert sorted((s.name, s.cron_schedule) for s in schedules) == [
        ("sql_source_crm", "0 * * * *"),
        ("sql_source_erp", "5 4 * * *"),
    ]
    tick = schedules[0].evaluate_tick(dg.build_schedule_context())
    [request] = tick.run_requests or []
    job = defs.resolve_job_def(sql_source_import_job.name)
    outcome = job.execute_in_process(
        run_config=request.run_config, instance=dg.DagsterInstance.ephemeral()
    )
    assert outcome.success
    assert get_sql_source(engine, "crm").last_import_id is not None
    engine.dispose()


def test_an_unreachable_store_gives_no_schedules_and_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = load_settings(database="postgresql+psycopg://nobody@127.0.0.1:1/herald")

    assert build_sql_source_schedules(settings) == []
    assert "SQL source schedules are not loaded" in caplog.text
