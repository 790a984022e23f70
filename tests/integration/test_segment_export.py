"""Exporting a segment: its members, one row each, with the profile fields chosen, as CSV,
XLSX or Parquet, on DuckDB and chdb.

The warehouse tables the segment engine and the profile build write (`segment_members`,
`profiles__shop`) are made directly here; the segment itself is a row of the store.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine

from herald.profiles.databases import create_database
from herald.profiles.schema import load_schema
from herald.segments.catalog import UnknownSegment
from herald.segments.export import (
    UnknownSegmentField,
    export_segment,
    segment_database,
)
from herald.store import ProfileDatabase, create_store_engine, migrate, session_scope
from herald.store.models import Segment
from herald.warehouse import Warehouse

REPO = Path(__file__).resolve().parents[2]
PROFILE_SCHEMA = pa.schema(
    [
        ("profile_id", pa.string()),
        ("database", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("updated_at", pa.timestamp("us", tz="UTC")),
        ("email", pa.string()),
        ("level", pa.string()),
        ("bonus_points", pa.int64()),
        ("average_order", pa.float64()),
        ("date_of_birth", pa.date32()),
        ("tags", pa.list_(pa.string())),
    ]
)
MEMBER_SCHEMA = pa.schema(
    [
        ("segment_id", pa.string()),
        ("profile_id", pa.string()),
        ("since", pa.timestamp("us", tz="UTC")),
    ]
)
FIELDS = [field.name for field in PROFILE_SCHEMA][2:]
SINCE = datetime(2026, 11, 1, tzinfo=UTC)


def profile(profile_id: str, email: str, level: str, bonus: int, **more: Any) -> dict[str, Any]:
    """A row of the typed profile view of `shop`."""
    return {
        "profile_id": profile_id,
        "database": "shop",
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        "updated_at": datetime(2026, 2, 1, tzinfo=UTC),
        "email": email,
        "level": level,
        "bonus_points": bonus,
        "average_order": more.get("average_order"),
        "date_of_birth": more.get("date_of_birth"),
        "tags": more.get("tags", []),
    }


PROFILES = [
    profile("p1", "ivan@example.com", "gold", 100, average_order=1500.5, tags=["vip", "msk"]),
    profile("p2", '=HYPERLINK("http://x")', "silver", 5, date_of_birth=date(1990, 5, 17)),
    profile("p3", "anna@example.com", "bronze", 0),
    profile("p4", "eve@example.com", "gold", 7),
]


def put_table(
    warehouse: Warehouse, name: str, schema: pa.Schema, rows: list[dict[str, Any]]
) -> None:
    """Make `name` afresh in the warehouse holding `rows`."""
    warehouse.drop(name)
    warehouse.create_table_from_arrow_schema(name, schema)
    warehouse.insert_arrow(name, pa.Table.from_pylist(rows, schema=schema))


def put_profiles(warehouse: Warehouse, profiles: list[dict[str, Any]]) -> None:
    put_table(warehouse, "profiles__shop", PROFILE_SCHEMA, profiles)


def put_members(warehouse: Warehouse, members: dict[str, list[str]]) -> None:
    """`segment_members` holding these members of these segments."""
    rows = [
        {"segment_id": segment, "profile_id": profile_id, "since": SINCE}
        for segment, profile_ids in members.items()
        for profile_id in profile_ids
    ]
    put_table(warehouse, "segment_members", MEMBER_SCHEMA, rows)


def new_store(path: Path) -> Engine:
    """A migrated SQLite store with the `shop` profile database and its segment `vip`."""
    engine = create_store_engine(f"sqlite:///{path}")
    migrate(engine)
    create_database(engine, load_schema(REPO / "docs" / "schemas" / "shop.yml"))
    add_segment(engine, "vip")
    return engine


def add_segment(engine: Engine, name: str) -> None:
    with session_scope(engine) as session:
        shop = session.query(ProfileDatabase).filter_by(name="shop").one()
        session.add(Segment(name=name, database_id=shop.id, kind="dynamic"))


@pytest.fixture
def shop(warehouse: Warehouse) -> Warehouse:
    """A warehouse with four profiles; `vip` holds p1, p2 (twice) and p9 (no profile any
    more), `other` holds p3."""
    put_profiles(warehouse, PROFILES)
    put_members(warehouse, {"vip": ["p2", "p1", "p9", "p2"], "other": ["p3"]})
    return warehouse


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Engine]:
    engine = new_store(tmp_path / "store.sqlite")
    yield engine
    engine.dispose()


def test_csv_has_one_row_per_member_with_every_field(shop: Warehouse, tmp_path: Path) -> None:
    out = tmp_path / "vip.csv"

    summary = export_segment(shop, "vip", "shop", None, "csv", out)

    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["profile_id", *FIELDS]
    assert [row[0] for row in rows[1:]] == ["p1", "p2", "p9"]
    by_id = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert by_id["p1"]["email"] == "ivan@example.com"
    assert by_id["p1"]["tags"] == '["vip", "msk"]'
    assert by_id["p2"]["email"].startswith("'=")  # never a formula in a spreadsheet
    assert by_id["p9"]["email"] == "" and by_id["p9"]["level"] == ""
    assert summary["rows"] == 3 and summary["fields"] == FIELDS


def test_parquet_has_the_chosen_fields_in_their_order(shop: Warehouse, tmp_path: Path) -> None:
    out = tmp_path / "vip.parquet"

    export_segment(shop, "vip", "shop", ["level", "email", "level"], "parquet", out)

    table = pq.read_table(out)
    assert table.column_names == ["profile_id", "level", "email"]
    assert table.to_pylist() == [
        {"profile_id": "p1", "level": "gold", "email": "ivan@example.com"},
        {"profile_id": "p2", "level": "silver", "email": '=HYPERLINK("http://x")'},
        {"profile_id": "p9", "level": None, "email": None},
    ]


def test_xlsx_keeps_types_and_writes_text_as_text(shop: Warehouse, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    out = tmp_path / "vip.xlsx"

    export_segment(shop, "vip", "shop", ["email", "bonus_points", "date_of_birth"], "xlsx", out)

    sheet = load_workbook(out).active
    assert sheet is not None
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == ["profile_id", "email", "bonus_points", "date_of_birth"]
    assert rows[1][:3] == ["p1", "ivan@example.com", 100]
    assert rows[2][1] == '=HYPERLINK("http://x")' and rows[2][3].date() == date(1990, 5, 17)
    assert len(rows) == 4


def test_an_unknown_field_is_named_with_the_known_ones(shop: Warehouse, tmp_path: Path) -> None:
    with pytest.raises(UnknownSegmentField) as raised:
        export_segment(shop, "vip", "shop", ["email", "shoe_size"], "csv", tmp_path / "x.csv")

    message = str(raised.value)
    assert "'shoe_size'" in message and "email, level, bonus_points" in message
    assert not (tmp_path / "x.csv").exists()


def test_a_segment_without_members_exports_a_header_only(shop: Warehouse, tmp_path: Path) -> None:
    summary = export_segment(shop, "nobody", "shop", ["email"], "csv", tmp_path / "none.csv")

    assert summary["rows"] == 0
    assert (tmp_path / "none.csv").read_text(encoding="utf-8-sig").strip() == "profile_id,email"


def test_the_segment_names_its_profile_database(store: Engine) -> None:
    assert segment_database(store, "vip") == "shop"
    with pytest.raises(UnknownSegment, match="there is no segment 'gone'"):
        segment_database(store, "gone")


def test_the_export_command_finds_the_database_and_prints_json(tmp_path: Path) -> None:
    import json

    import typer
    from typer.testing import CliRunner

    from herald.cli_segment_syncs import export_command
    from herald.warehouse.duckdb_engine import DuckDBWarehouse

    home = tmp_path / "home"
    new_store(home / "herald.sqlite").dispose()
    with DuckDBWarehouse(home / "warehouse.duckdb") as warehouse:
        put_profiles(warehouse, PROFILES)
        put_members(warehouse, {"vip": ["p1", "p4"]})
    app = typer.Typer()
    app.command()(export_command)
    out = tmp_path / "vip.csv"
    env = {"HERALD_HOME": str(home), "HERALD_DATABASE": "", "HERALD_WAREHOUSE": ""}

    done = CliRunner().invoke(
        app, ["vip", "--format", "csv", "--out", str(out), "--fields", "email,level"], env=env
    )

    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {
        "segment": "vip",
        "database": "shop",
        "format": "csv",
        "fields": ["email", "level"],
        "rows": 2,
        "out": str(out),
    }
    assert out.read_text(encoding="utf-8-sig").splitlines()[1] == "p1,ivan@example.com,gold"
