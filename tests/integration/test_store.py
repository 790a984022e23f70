"""The operational store on SQLite and on a real PostgreSQL server.

PostgreSQL: the server at HERALD_TEST_POSTGRES_URL (default postgres@127.0.0.1:5432, trust
auth; `deploy/services.sh ensure postgres` starts it). One throwaway database
`herald_test_<random>` per session, its `public` schema emptied before every test.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import URL, Engine, inspect
from sqlalchemy.exc import IntegrityError

from herald.errors import SettingsError
from herald.settings import load_settings
from herald.store import (
    Base,
    LandingFile,
    LandingFileAlreadyLoaded,
    PipelineRun,
    UnknownRun,
    create_store_engine,
    current_revision,
    downgrade,
    get_run,
    head_revision,
    loaded_files,
    migrate,
    record_loaded_file,
    record_run_finished,
    record_run_started,
    session_scope,
)
from herald.store.migrate import VERSION_TABLE
from tests.conftest import emptied

STORE_TABLES = {
    "pipeline_runs",
    "landing_files",
    "profile_databases",
    "profile_schema_versions",
    "profile_imports",
    "sql_sources",
    "profile_edits",
    "profile_subscriptions",
    "profile_subscription_changes",
    "profile_relations",
    "profile_unmerges",
    "segments",
    "segment_versions",
    "segment_list_entries",
    "segment_syncs",
    "users",
    "tracking_sources",
    "tracked_identities",
    "send_runs",
    "send_log",
    "suppressed_addresses",
    "sender_workers",
    "content_items",
    "content_versions",
    "data_connections",
    "campaigns",
    "campaign_launches",
    "sending_limits",
    "sending_quota_use",
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty store database: a new SQLite file, or the session's PostgreSQL database
    with its public schema dropped and created again."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store' / 'herald.sqlite'}"
    return emptied(request.getfixturevalue("postgres_database"))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a migrated store."""
    migrate(database_url)
    store_engine = create_store_engine(database_url)
    yield store_engine
    store_engine.dispose()


def _tables(url: str) -> set[str]:
    store_engine = create_store_engine(url)
    try:
        return set(inspect(store_engine).get_table_names())
    finally:
        store_engine.dispose()


# --- migrations ---------------------------------------------------------------------------


def test_migrate_creates_the_tables_on_an_empty_database(database_url: str) -> None:
    assert current_revision(database_url) is None

    migrate(database_url)

    assert current_revision(database_url) == head_revision()
    assert _tables(database_url) == STORE_TABLES | {VERSION_TABLE}


def test_migrate_again_changes_nothing(database_url: str) -> None:
    migrate(database_url)
    store_engine = create_store_engine(database_url)
    run = record_run_started(store_engine, "materialize")

    migrate(database_url)

    assert current_revision(database_url) == head_revision()
    assert get_run(store_engine, run).kind == "materialize"
    store_engine.dispose()


def test_processes_starting_together_migrate_once(database_url: str) -> None:
    failures: list[BaseException] = []

    def run_migrate() -> None:
        try:
            migrate(database_url)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run_migrate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert current_revision(database_url) == head_revision()


def test_migrations_create_what_the_models_declare(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
        )
        differences = compare_metadata(context, Base.metadata)

    assert differences == []


def test_constraints_have_the_names_of_the_naming_convention(engine: Engine) -> None:
    inspector = inspect(engine)

    names = {
        "check": [c["name"] for c in inspector.get_check_constraints("pipeline_runs")],
        "unique": [c["name"] for c in inspector.get_unique_constraints("landing_files")],
        "indexes": sorted(i["name"] for i in inspector.get_indexes("pipeline_runs")),
    }

    assert names == {
        "check": ["ck_pipeline_runs_status"],
        "unique": ["uq_landing_files_source_file_name_fingerprint"],
        "indexes": ["ix_pipeline_runs_run_id", "ix_pipeline_runs_started_at"],
    }


def test_downgrade_to_base_removes_the_tables(database_url: str) -> None:
    migrate(database_url)

    downgrade(database_url, "base")

    assert current_revision(database_url) is None
    assert _tables(database_url) & STORE_TABLES == set()


def test_upgrade_after_downgrade_restores_the_tables(database_url: str) -> None:
    migrate(database_url)
    downgrade(database_url, "base")

    migrate(database_url)

    assert _tables(database_url) >= STORE_TABLES


def test_default_settings_put_a_sqlite_store_under_herald_home(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "new-home", database="")

    migrate(settings.database_url)

    assert (tmp_path / "new-home" / "herald.sqlite").is_file()


def test_sqlite_connections_use_wal_a_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    store_engine = create_store_engine(f"sqlite:///{tmp_path / 'herald.sqlite'}")

    with store_engine.connect() as connection:
        journal_mode = connection.exec_driver_sql("pragma journal_mode").scalar()
        busy_timeout = connection.exec_driver_sql("pragma busy_timeout").scalar()
        foreign_keys = connection.exec_driver_sql("pragma foreign_keys").scalar()
    store_engine.dispose()

    assert (journal_mode, foreign_keys) == ("wal", 1)
    assert isinstance(busy_timeout, int) and busy_timeout >= 5000


# --- pipeline runs ------------------------------------------------------------------------


def test_a_started_run_is_recorded_as_started(engine: Engine) -> None:
    run = record_run_started(
        engine,
        "materialize",
        selection="staging/*",
        run_id="dagster-run-1",
        details={"targets": ["stg_shop__orders"]},
    )

    recorded = get_run(engine, run)
    assert (recorded.kind, recorded.selection, recorded.run_id, recorded.status) == (
        "materialize",
        "staging/*",
        "dagster-run-1",
        "started",
    )
    assert recorded.finished_at is None
    assert recorded.rows_written == 0
    assert recorded.details == {"targets": ["stg_shop__orders"]}
    assert recorded.started_at.tzinfo is not None
    assert abs(datetime.now(UTC) - recorded.started_at) < timedelta(minutes=1)


def test_a_finished_run_keeps_its_outcome(engine: Engine) -> None:
    run = record_run_started(engine, "generate", details={"profiles": 1000})

    record_run_finished(
        engine, run, status="succeeded", rows_written=12_345, details={"seconds": 2.5}
    )

    recorded = get_run(engine, run)
    assert recorded.status == "succeeded"
    assert recorded.rows_written == 12_345
    assert recorded.details == {"profiles": 1000, "seconds": 2.5}
    assert recorded.finished_at is not None
    assert recorded.finished_at >= recorded.started_at


def test_a_failed_run_keeps_its_error(engine: Engine) -> None:
    run = record_run_started(engine, "demo")

    record_run_finished(engine, run, status="failed", error="ModelError: stg_x: no such table")

    recorded = get_run(engine, run)
    assert (recorded.status, recorded.error) == ("failed", "ModelError: stg_x: no such table")


def test_finishing_a_run_that_was_never_started_is_an_error(engine: Engine) -> None:
    with pytest.raises(UnknownRun):
        record_run_finished(engine, 999_999, status="succeeded")


def test_the_database_rejects_an_unknown_run_status(engine: Engine) -> None:
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(PipelineRun(kind="materialize", status="paused"))


# --- landing-file ledger ------------------------------------------------------------------


def test_loaded_files_lists_what_was_recorded_for_a_source(engine: Engine) -> None:
    record_loaded_file(
        engine, "tracker", "2025/11/25/a.parquet", "sha256:aa", size_bytes=10, rows=2
    )
    record_loaded_file(
        engine, "tracker", "2025/11/25/a.parquet", "sha256:bb", size_bytes=12, rows=3
    )
    record_loaded_file(engine, "shop", "orders.csv", "sha256:cc", size_bytes=99, rows=9)

    assert loaded_files(engine, "tracker") == {
        ("2025/11/25/a.parquet", "sha256:aa"),
        ("2025/11/25/a.parquet", "sha256:bb"),
    }
    assert loaded_files(engine, "shop") == {("orders.csv", "sha256:cc")}
    assert loaded_files(engine, "crm") == set()


def test_the_ledger_refuses_the_same_file_twice(engine: Engine) -> None:
    record_loaded_file(engine, "tracker", "a.parquet", "sha256:aa", size_bytes=10, rows=2)

    with pytest.raises(LandingFileAlreadyLoaded):
        record_loaded_file(engine, "tracker", "a.parquet", "sha256:aa", size_bytes=10, rows=2)

    assert loaded_files(engine, "tracker") == {("a.parquet", "sha256:aa")}


def test_the_database_enforces_the_ledger_uniqueness(engine: Engine) -> None:
    record_loaded_file(engine, "tracker", "a.parquet", "sha256:aa", size_bytes=10, rows=2)

    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(
            LandingFile(
                source="tracker",
                file_name="a.parquet",
                fingerprint="sha256:aa",
                size_bytes=10,
                rows=2,
            )
        )


def test_a_ledger_entry_keeps_its_details(engine: Engine) -> None:
    entry = record_loaded_file(
        engine,
        "tracker",
        "b.parquet",
        "sha256:bb",
        size_bytes=2048,
        rows=40,
        run_id="dagster-run-7",
    )

    with session_scope(engine) as session:
        recorded = session.get(LandingFile, entry)
    assert recorded is not None
    assert (recorded.size_bytes, recorded.rows, recorded.run_id) == (2048, 40, "dagster-run-7")
    assert recorded.loaded_at.tzinfo is not None


# --- a database that cannot be used -------------------------------------------------------


def _assert_one_line_about_the_database(error: SettingsError) -> None:
    assert error.setting == "HERALD_DATABASE"
    assert "\n" not in error.problem


def test_a_refused_postgresql_connection_is_a_settings_error() -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:1/herald"

    with pytest.raises(SettingsError) as raised:
        create_store_engine(url)

    _assert_one_line_about_the_database(raised.value)
    assert "127.0.0.1:1" in raised.value.problem
    assert "refused" in raised.value.problem.lower()


def test_migrating_a_refused_postgresql_connection_is_a_settings_error() -> None:
    with pytest.raises(SettingsError) as raised:
        migrate("postgresql://postgres@127.0.0.1:1/herald")

    _assert_one_line_about_the_database(raised.value)


@pytest.mark.postgres
def test_a_missing_postgresql_database_is_a_settings_error(postgres_database: URL) -> None:
    url = postgres_database.set(database=f"herald_missing_{uuid.uuid4().hex[:8]}")

    with pytest.raises(SettingsError) as raised:
        migrate(url.render_as_string(hide_password=False))

    _assert_one_line_about_the_database(raised.value)
    assert "does not exist" in raised.value.problem


def test_a_sqlite_directory_that_cannot_be_created_is_a_settings_error(tmp_path: Path) -> None:
    a_file = tmp_path / "not-a-directory"
    a_file.write_text("")

    with pytest.raises(SettingsError) as raised:
        migrate(f"sqlite:///{a_file / 'var' / 'herald.sqlite'}")

    _assert_one_line_about_the_database(raised.value)
    assert "not-a-directory" in raised.value.problem


@pytest.mark.parametrize("url", ["mysql://root@localhost/herald", "herald.sqlite", ""])
def test_an_unsupported_url_is_a_settings_error(url: str) -> None:
    with pytest.raises(SettingsError) as raised:
        create_store_engine(url)

    _assert_one_line_about_the_database(raised.value)
