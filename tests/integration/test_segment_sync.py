"""Segment syncs: a segment's members written to a table of a real PostgreSQL database, in
replace and diff modes, read from DuckDB and chdb; failures recorded; one Dagster schedule
per enabled sync.

PostgreSQL: the server at HERALD_TEST_POSTGRES_URL (default postgres@127.0.0.1:5432, trust
auth); the session's throwaway database, a new target table per test.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import URL, Engine, create_engine, text
from typer.testing import CliRunner

from assets.resources import StoreResource, WarehouseResource
from assets.segment_syncs import build_segment_sync_schedules, segment_sync_job
from herald.cli_segment_syncs import segment_syncs_app
from herald.segments.catalog import UnknownSegment
from herald.segments.export import UnknownSegmentField
from herald.segments.sync import (
    SegmentSyncError,
    add_segment_sync,
    get_segment_sync,
    list_segment_syncs,
    run_sync,
)
from herald.settings import load_settings
from herald.store import session_scope
from herald.store.models import SegmentSync
from herald.warehouse import Warehouse
from herald.warehouse.duckdb_engine import DuckDBWarehouse
from tests.integration.test_segment_export import (
    PROFILES,
    new_store,
    profile,
    put_members,
    put_profiles,
)

FIELDS = ["email", "level", "bonus_points", "tags"]
PASSWORD = "s3cret-pw"
UNREACHABLE = f"postgresql+psycopg://crm:{PASSWORD}@127.0.0.1:1/crm"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Engine]:
    engine = new_store(tmp_path / "store.sqlite")
    yield engine
    engine.dispose()


@pytest.fixture
def target(postgres_database: URL) -> Iterator[tuple[str, str]]:
    """(URL with a password trust auth ignores, a new table name) in PostgreSQL."""
    table = f"vip_{uuid.uuid4().hex[:8]}"
    yield postgres_database.set(password=PASSWORD).render_as_string(hide_password=False), table
    engine = create_engine(postgres_database)
    with engine.begin() as connection:
        connection.execute(text(f'drop table if exists "{table}"'))
    engine.dispose()


def target_rows(url: str, table: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            query = f'select profile_id, email, level, bonus_points, tags from "{table}"'
            return [tuple(row) for row in connection.execute(text(f"{query} order by 1"))]
    finally:
        engine.dispose()


def test_replace_then_diff_write_exactly_the_members(
    warehouse: Warehouse, store: Engine, target: tuple[str, str]
) -> None:
    url, table = target
    put_profiles(warehouse, PROFILES)
    put_members(warehouse, {"vip": ["p1", "p2", "p3"], "other": ["p4"]})
    common: dict[str, Any] = {"segment": "vip", "url": url, "table": table, "fields": FIELDS}
    add_segment_sync(store, "vip_full", mode="replace", **common)
    add_segment_sync(store, "vip_diff", mode="diff", **common)

    replaced = run_sync(store, warehouse, "vip_full")
    first = target_rows(url, table)
    # p3 leaves, p4 joins, p2 moves up a level; p1 stays as it was.
    put_members(warehouse, {"vip": ["p1", "p2", "p4"]})
    changed = [*PROFILES[:1], profile("p2", '=HYPERLINK("http://x")', "gold", 5), *PROFILES[2:]]
    put_profiles(warehouse, changed)
    diffed = run_sync(store, warehouse, "vip_diff")
    unchanged = run_sync(store, warehouse, "vip_diff")

    assert replaced.public()["inserted"] == 3 and replaced.counts.total == 3
    assert first == [
        ("p1", "ivan@example.com", "gold", 100, '["vip", "msk"]'),
        ("p2", '=HYPERLINK("http://x")', "silver", 5, "[]"),
        ("p3", "anna@example.com", "bronze", 0, "[]"),
    ]
    counts = diffed.counts
    assert (counts.inserted, counts.updated, counts.deleted, counts.total) == (1, 1, 1, 3)
    assert target_rows(url, table) == [
        ("p1", "ivan@example.com", "gold", 100, '["vip", "msk"]'),
        ("p2", '=HYPERLINK("http://x")', "gold", 5, "[]"),
        ("p4", "eve@example.com", "gold", 7, "[]"),
    ]
    again = unchanged.counts
    assert (again.inserted, again.updated, again.deleted, again.total) == (0, 0, 0, 3)
    recorded = get_segment_sync(store, "vip_diff")
    assert recorded.last_status == "succeeded" and recorded.last_error is None
    assert (recorded.last_inserted, recorded.last_deleted, recorded.last_total) == (0, 0, 3)


def test_replace_again_swaps_in_a_new_table(
    warehouse: Warehouse, store: Engine, target: tuple[str, str]
) -> None:
    url, table = target
    put_profiles(warehouse, PROFILES)
    put_members(warehouse, {"vip": ["p1", "p2", "p3"]})
    add_segment_sync(store, "vip_full", segment="vip", url=url, table=table, fields=FIELDS)
    run_sync(store, warehouse, "vip_full")
    put_members(warehouse, {"vip": ["p4"]})

    counts = run_sync(store, warehouse, "vip_full").counts

    assert (counts.inserted, counts.updated, counts.deleted, counts.total) == (1, 0, 3, 1)
    assert [row[0] for row in target_rows(url, table)] == ["p4"]


def test_an_unreachable_target_is_a_clear_error_recorded_on_the_sync(
    warehouse: Warehouse, store: Engine
) -> None:
    put_profiles(warehouse, PROFILES)
    put_members(warehouse, {"vip": ["p1"]})
    add_segment_sync(store, "crm", segment="vip", url=UNREACHABLE, table="vip", mode="diff")

    with pytest.raises(SegmentSyncError) as raised:
        run_sync(store, warehouse, "crm")

    recorded = get_segment_sync(store, "crm")
    message = str(raised.value)
    assert message.startswith("segment sync crm failed: cannot connect to ")
    assert "crm:***@127.0.0.1:1/crm" in message and PASSWORD not in message
    assert "\n" not in message
    assert recorded.last_status == "failed"
    assert recorded.last_error and recorded.last_error.startswith("cannot connect to ")
    assert PASSWORD not in json.dumps(recorded.public())


def test_a_missing_column_in_the_diff_target_is_recorded(
    warehouse: Warehouse, store: Engine, target: tuple[str, str]
) -> None:
    url, table = target
    put_profiles(warehouse, PROFILES)
    put_members(warehouse, {"vip": ["p1"]})
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f'create table "{table}" (profile_id text primary key)'))
    engine.dispose()
    add_segment_sync(store, "crm", segment="vip", url=url, table=table, fields=["email"])
    with session_scope(store) as session:
        session.query(SegmentSync).filter_by(name="crm").one().mode = "diff"

    with pytest.raises(SegmentSyncError, match="has no column email"):
        run_sync(store, warehouse, "crm")

    assert get_segment_sync(store, "crm").last_status == "failed"


def test_a_sync_is_checked_when_it_is_added(store: Engine) -> None:
    with pytest.raises(UnknownSegmentField, match="'shoe_size'"):
        add_segment_sync(
            store, "a", segment="vip", url=UNREACHABLE, table="t", fields=["shoe_size"]
        )
    with pytest.raises(UnknownSegment, match="there is no segment 'gone'"):
        add_segment_sync(store, "b", segment="gone", url=UNREACHABLE, table="t")
    with pytest.raises(SegmentSyncError, match="mode 'merge'"):
        add_segment_sync(store, "c", segment="vip", url=UNREACHABLE, table="t", mode="merge")
    with pytest.raises(SegmentSyncError, match="not a cron expression"):
        add_segment_sync(store, "d", segment="vip", url=UNREACHABLE, table="t", schedule="hourly")
    assert list_segment_syncs(store) == []


def test_cli_adds_lists_and_removes_syncs_without_passwords(tmp_path: Path) -> None:
    database = tmp_path / "store.sqlite"
    new_store(database).dispose()
    env = {"HERALD_HOME": str(tmp_path / "home"), "HERALD_DATABASE": f"sqlite:///{database}"}
    runner = CliRunner()
    args = ["sync-add", "crm", "--segment", "vip", "--url", UNREACHABLE, "--table", "vip"]

    added = runner.invoke(segment_syncs_app, [*args, "--fields", "email, level"], env=env)
    listed = runner.invoke(segment_syncs_app, ["sync-list"], env=env)
    removed = runner.invoke(segment_syncs_app, ["sync-remove", "crm"], env=env)
    after = runner.invoke(segment_syncs_app, ["sync-list"], env=env)

    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["fields"] == ["email", "level"]
    [shown] = json.loads(listed.stdout)
    assert shown["url"] == "postgresql+psycopg://crm:***@127.0.0.1:1/crm"
    assert PASSWORD not in added.stdout + listed.stdout
    assert json.loads(removed.stdout) == {"removed": "crm"}
    assert json.loads(after.stdout) == []


def test_a_schedule_per_enabled_sync_runs_it(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "home", database=f"sqlite:///{tmp_path / 's.db'}")
    store = new_store(Path(settings.database_url.removeprefix("sqlite:///")))
    with DuckDBWarehouse(settings.home / "warehouse.duckdb") as warehouse:
        put_profiles(warehouse, PROFILES)
        put_members(warehouse, {"vip": ["p1", "p3"]})
    target = f"sqlite:///{tmp_path / 'crm.sqlite'}"
    add_segment_sync(store, "crm", segment="vip", url=target, table="vip", fields=["email"])
    add_segment_sync(store, "ads", segment="vip", url=target, table="ads", schedule="5 4 * * *")
    add_segment_sync(store, "old", segment="vip", url=target, table="old", enabled=False)

    schedules = build_segment_sync_schedules(settings)
    defs = dg.Definitions(
        schedules=schedules,
        jobs=[segment_sync_job],
        resources={
            "store": StoreResource.from_settings(settings),
            "warehouse": WarehouseResource.from_settings(settings),
        },
    )
    dg.Definitions.validate_loadable(defs)
    assert sorted((s.name, s.cron_schedule) for s in schedules) == [
        ("segment_sync_ads", "5 4 * * *"),
        ("segment_sync_crm", "0 * * * *"),
    ]
    crm = next(s for s in schedules if s.name == "segment_sync_crm")
    [request] = crm.evaluate_tick(dg.build_schedule_context()).run_requests or []
    job = defs.resolve_job_def(segment_sync_job.name)
    outcome = job.execute_in_process(
        run_config=request.run_config, instance=dg.DagsterInstance.ephemeral()
    )

    assert outcome.success
    with sqlite3.connect(tmp_path / "crm.sqlite") as connection:
        rows = connection.execute("select * from vip order by profile_id").fetchall()
    assert rows == [("p1", "ivan@example.com"), ("p3", "anna@example.com")]
    assert get_segment_sync(store, "crm").last_total == 2
    store.dispose()


def test_an_unreachable_store_gives_no_schedules_and_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = load_settings(database="postgresql+psycopg://nobody@127.0.0.1:1/herald")

    assert build_segment_sync_schedules(settings) == []
    assert "segment sync schedules are not loaded" in caplog.text


def test_timestamps_compare_equal_after_a_round_trip(
    warehouse: Warehouse, store: Engine, target: tuple[str, str]
) -> None:
    url, table = target
    put_profiles(warehouse, PROFILES)
    put_members(warehouse, {"vip": ["p1", "p2"]})
    fields = ["created_at", "average_order", "date_of_birth"]
    add_segment_sync(store, "crm", segment="vip", url=url, table=table, fields=fields, mode="diff")

    run_sync(store, warehouse, "crm")
    again = run_sync(store, warehouse, "crm").counts

    assert (again.inserted, again.updated, again.deleted) == (0, 0, 0)
    engine = create_engine(url)
    with engine.connect() as connection:
        created = connection.execute(text(f'select created_at from "{table}" limit 1')).scalar()
    engine.dispose()
    assert created == datetime(2026, 1, 1, tzinfo=UTC)
