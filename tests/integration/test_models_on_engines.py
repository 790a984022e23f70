"""Every SQL model runs on DuckDB, on chdb and on a ClickHouse server over HTTP (the test
server, whose queries run in chdb) against the fixture dataset, with the same result on
all three and the answers the fixtures were written to give."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from herald.models.build import asset_readers, build_models, load_all_landing
from herald.models.project import SqlProject
from herald.settings import WarehouseURL
from herald.warehouse import open_warehouse
from herald.warehouse.base import Warehouse
from herald.warehouse.duckdb_engine import DuckDBWarehouse
from tests.conftest import new_chdb_warehouse, session_chdb_path
from tests.fixtures.landing import WEB_EVENTS_2, write_landing
from tests.support.clickhouse_server import clickhouse_http_server

PROJECT = SqlProject.load()
# Models over Python assets' tables (the reports) are compared in test_report_marts.py.
MODELS = set(PROJECT.models) - asset_readers(PROJECT)
# Filled by the tracking service's loader; test_tracked_event_models.py gives them rows.
EMPTY_ON_FIXTURES = {"stg_tracking__events", "stg_herald__message_events"}


def normalise(value: Any) -> Any:
    """Make DuckDB's and ClickHouse's Python values comparable."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal | float):
        return round(float(value), 6)
    return value


def rows_of(warehouse: Warehouse, name: str) -> list[dict[str, Any]]:
    table = warehouse.query_arrow(f"select * from {warehouse.qualify(name)}")
    rows = [{key: normalise(value) for key, value in row.items()} for row in table.to_pylist()]
    return sorted(rows, key=lambda row: [repr(row[key]) for key in sorted(row)])


ENGINES = ("duckdb", "chdb", "clickhouse")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Warehouse]]:
    root = tmp_path_factory.mktemp("models")
    write_landing(root / "landing")
    with clickhouse_http_server() as url:
        warehouses = build_everywhere(root, url, tmp_path_factory)
        yield warehouses
        for warehouse in warehouses.values():
            if isinstance(warehouse, Warehouse):
                warehouse.close()


def build_everywhere(
    root: Path, clickhouse_url: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Warehouse]:
    warehouses: dict[str, Warehouse] = {
        "duckdb": DuckDBWarehouse(root / "warehouse.duckdb"),
        "chdb": new_chdb_warehouse(session_chdb_path(tmp_path_factory)),
        "clickhouse": open_warehouse(WarehouseURL.parse(clickhouse_url, root)),
    }
    for warehouse in warehouses.values():
        loads = load_all_landing(warehouse, PROJECT, root / "landing")
        assert all(not load.rejected for load in loads)
        runs = build_models(warehouse, PROJECT, names=MODELS)
        failures = [
            f"{run.name}.{outcome.test.name}"
            for run in runs
            for outcome in run.tests
            if not outcome.passed
        ]
        assert failures == [], f"{warehouse.engine}: data tests failed: {failures}"
    warehouses["landing_root"] = root  # type: ignore[assignment]
    return warehouses


@pytest.mark.parametrize("model", sorted(MODELS))
def test_model_gives_the_same_rows_on_duckdb_and_chdb(
    built: dict[str, Warehouse], model: str
) -> None:
    duck = rows_of(built["duckdb"], model)
    click = rows_of(built["chdb"], model)
    assert duck == click
    assert duck or model in EMPTY_ON_FIXTURES, f"{model} is empty on the fixtures"


def test_events_are_deduplicated_and_classified(built: dict[str, Warehouse]) -> None:
    for engine in ENGINES:
        rows = {row["event_id"]: row for row in rows_of(built[engine], "events")}
        assert sorted(rows) == [f"E-{i}" for i in range(1, 10)]
        assert {key: row["traffic_source"] for key, row in rows.items()} == {
            "E-1": "search",
            "E-2": "direct",
            "E-3": "direct",
            "E-4": "social",
            "E-5": "paid",
            "E-6": "paid",
            "E-7": "email",
            "E-8": "referral",
            "E-9": "direct",
        }
        assert rows["E-1"]["referrer_host"] == "google.com"
        assert rows["E-1"]["event_date"] == dt.date(2025, 5, 1)


def test_orders_take_the_latest_status_and_sum_their_lines(built: dict[str, Warehouse]) -> None:
    for engine in ENGINES:
        orders = {row["order_id"]: row for row in rows_of(built[engine], "orders")}
        assert orders["O-1"]["status"] == "delivered"
        assert orders["O-1"]["is_paid"] == 1
        assert (orders["O-1"]["line_count"], orders["O-1"]["units"]) == (2, 3)
        assert orders["O-1"]["items_total"] == 199.0
        assert (orders["O-2"]["status"], orders["O-2"]["items_total"]) == ("paid", 55.0)


def test_crm_contacts_parse_messy_text(built: dict[str, Warehouse]) -> None:
    for engine in ENGINES:
        contacts = {row["contact_id"]: row for row in rows_of(built[engine], "stg_crm__contacts")}
        assert sorted(contacts) == ["CRM-1", "CRM-2", "CRM-3"]
        ivan = contacts["CRM-1"]
        assert (ivan["email"], ivan["phone"], ivan["loyalty_points"]) == (
            "ivan.petrov@mail.ru",
            "+79161234567",
            1500,
        )
        assert ivan["birthday"] == dt.date(1990, 2, 1)
        assert ivan["gender"] == "m"
        sean = contacts["CRM-3"]
        assert (sean["email"], sean["birthday"], sean["gender"], sean["loyalty_points"]) == (
            None,
            None,
            None,
            None,
        )
        assert sean["first_name"] == "O'Brien, Jr"


def test_message_events_classify_bounces(built: dict[str, Warehouse]) -> None:
    for engine in ENGINES:
        events = {row["event_id"]: row for row in rows_of(built[engine], "message_events")}
        assert sorted(events) == ["M-1", "M-2", "M-3", "M-4", "M-5", "M-6"]
        assert (events["M-4"]["status_class"], events["M-4"]["recipient_domain"]) == (
            "permanent",
            "example.com",
        )
        assert events["M-5"]["recipient_domain"] is None
        assert events["M-3"]["link_position"] == 2


def test_incremental_models_merge_new_files_without_duplicates(
    built: dict[str, Warehouse],
) -> None:
    landing = Path(built["landing_root"]) / "landing"  # type: ignore[arg-type]
    late = WEB_EVENTS_2.slice(0, 2)  # E-3 again and E-7 again ...
    later = pa.concat_tables([late, WEB_EVENTS_2.slice(0, 1)])
    ids = pa.array(["E-3", "E-7", "E-10"])
    later = later.set_column(later.schema.get_field_index("message_id"), "message_id", ids)
    shifted = pa.array(
        [value.as_py() + dt.timedelta(days=40) for value in later.column("received_at")],
        pa.timestamp("ms"),
    )
    later = later.set_column(later.schema.get_field_index("received_at"), "received_at", shifted)
    pq.write_table(later, landing / "web_events" / "part-3.parquet")
    for engine in ENGINES:
        warehouse = built[engine]
        load_all_landing(warehouse, PROJECT, landing)
        build_models(warehouse, PROJECT, with_tests=False, names=MODELS)
        ids_now = [row["event_id"] for row in rows_of(warehouse, "events")]
        assert sorted(ids_now) == sorted([f"E-{i}" for i in range(1, 11)]), engine
