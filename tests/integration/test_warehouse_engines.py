"""The warehouse interface behaves the same on DuckDB and chdb."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from herald.errors import WarehouseBusy, WarehouseError
from herald.warehouse.base import TableOptions, Warehouse
from herald.warehouse.chdb_engine import ChdbWarehouse
from herald.warehouse.duckdb_engine import DuckDBWarehouse
from herald.warehouse.read_only import check_read_only


def values(warehouse: Warehouse, sql: str) -> list[tuple]:
    return [tuple(row.values()) for row in warehouse.query_arrow(sql).to_pylist()]


def test_create_table_as_replaces_the_table_in_place(warehouse: Warehouse) -> None:
    warehouse.create_table_as("numbers", "select 1 as n", TableOptions(order_by=("n",)))
    warehouse.create_table_as(
        "numbers", "select 2 as n union all select 3", TableOptions(order_by=("n",))
    )
    assert values(warehouse, f"select n from {warehouse.qualify('numbers')} order by n") == [
        (2,),
        (3,),
    ]
    assert [info.name for info in warehouse.list_tables()] == ["numbers"]


def test_views_follow_their_tables(warehouse: Warehouse) -> None:
    warehouse.create_table_as("base", "select 1 as n")
    warehouse.create_view_as("doubled", f"select n * 2 as n2 from {warehouse.qualify('base')}")
    warehouse.create_view_as("doubled", f"select n * 3 as n3 from {warehouse.qualify('base')}")
    assert values(warehouse, f"select * from {warehouse.qualify('doubled')}") == [(3,)]
    kinds = {info.name: info.kind for info in warehouse.list_tables()}
    assert kinds == {"base": "table", "doubled": "view"}
    assert [column.name for column in warehouse.columns("doubled")] == ["n3"]


def test_swap_exchanges_two_tables(warehouse: Warehouse) -> None:
    warehouse.create_table_as("left_side", "select 'a' as side")
    warehouse.create_table_as("right_side", "select 'b' as side")
    warehouse.swap("left_side", "right_side")
    assert values(warehouse, f"select side from {warehouse.qualify('left_side')}") == [("b",)]
    assert values(warehouse, f"select side from {warehouse.qualify('right_side')}") == [("a",)]


def test_insert_arrow_matches_columns_by_name(warehouse: Warehouse) -> None:
    schema = pa.schema([("id", pa.string()), ("amount", pa.float64())])
    warehouse.create_table_from_arrow_schema("payments", schema)
    inserted = warehouse.insert_arrow("payments", pa.table({"amount": [9.5], "id": ["p-1"]}))
    assert inserted == 1
    assert values(warehouse, f"select id, amount from {warehouse.qualify('payments')}") == [
        ("p-1", 9.5)
    ]
    assert warehouse.row_count("payments") == 1


def test_upsert_replaces_rows_by_key_and_adds_new_ones(warehouse: Warehouse) -> None:
    warehouse.create_table_as("accounts", "select 'a' as id, 1 as version union all select 'b', 1")
    warehouse.upsert_select(
        "accounts", "select 'b' as id, 2 as version union all select 'c', 1", ["id"]
    )
    assert values(
        warehouse, f"select id, version from {warehouse.qualify('accounts')} order by id"
    ) == [
        ("a", 1),
        ("b", 2),
        ("c", 1),
    ]


def test_insert_select_appends_by_column_name(warehouse: Warehouse) -> None:
    warehouse.create_table_as("log", "select 1 as n, 'x' as tag")
    warehouse.insert_select("log", "select 'y' as tag, 2 as n")
    assert values(warehouse, f"select n, tag from {warehouse.qualify('log')} order by n") == [
        (1, "x"),
        (2, "y"),
    ]


def test_load_files_appends_parquet_and_csv_with_their_file_name(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    pq.write_table(pa.table({"id": ["a", None], "n": [1, 2]}), tmp_path / "one.parquet")
    (tmp_path / "two.csv").write_text('id,n\n"x, y",007\n', encoding="utf-8")
    assert warehouse.load_files("raw_one", [tmp_path / "one.parquet"], "parquet") == 2
    assert warehouse.load_files("raw_two", [tmp_path / "two.csv"], "csv") == 1
    assert values(warehouse, f"select id, n, _file from {warehouse.qualify('raw_two')}") == [
        ("x, y", "007", "two.csv")  # CSV is text until staging casts it
    ]
    assert values(
        warehouse, f"select _file, count(*) from {warehouse.qualify('raw_one')} group by _file"
    ) == [("one.parquet", 2)]


def test_a_broken_file_is_an_error_not_a_partial_load(warehouse: Warehouse, tmp_path: Path) -> None:
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(WarehouseError):
        warehouse.load_files("raw_broken", [tmp_path / "broken.parquet"], "parquet")
    assert not warehouse.exists("raw_broken") or warehouse.row_count("raw_broken") == 0


def test_a_bad_query_raises_a_warehouse_error(warehouse: Warehouse) -> None:
    with pytest.raises(WarehouseError) as caught:
        warehouse.query_arrow("select * from no_such_table")
    assert "no_such_table" in str(caught.value)
    assert "Stack trace" not in str(caught.value)


def test_left_join_non_matches_are_null_on_both_engines(warehouse: Warehouse) -> None:
    warehouse.create_table_as("l", "select 1 as id")
    warehouse.create_table_as("r", "select 2 as id, 5 as score")
    rows = values(
        warehouse,
        f"select l.id, r.score from {warehouse.qualify('l')} as l "
        f"left join {warehouse.qualify('r')} as r on l.id = r.id",
    )
    assert rows == [(1, None)]


HOLD_WRITE_LOCK = """
import sys, time, duckdb
connection = duckdb.connect(sys.argv[1])
connection.execute("create table if not exists t as select 1 as n")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_a_reader_waits_for_the_writer_then_says_the_warehouse_is_busy(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    DuckDBWarehouse(path).create_table_as("t", "select 1 as n")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_WRITE_LOCK, str(path), "30"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        reader = DuckDBWarehouse(path, read_only=True, busy_timeout=1.0)
        started = time.monotonic()
        with pytest.raises(WarehouseBusy, match="is busy: another process"):
            reader.query_arrow("select * from t")
        assert time.monotonic() - started >= 0.9
    finally:
        holder.kill()
        holder.wait()


def test_a_reader_gets_through_once_the_writer_finishes(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    DuckDBWarehouse(path).create_table_as("t", "select 1 as n")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_WRITE_LOCK, str(path), "1.5"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        reader = DuckDBWarehouse(path, read_only=True, busy_timeout=20.0)
        assert values(reader, "select n from t") == [(1,)]
    finally:
        holder.kill()
        holder.wait()


def test_reading_a_warehouse_that_does_not_exist_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match="run `herald materialize` first"):
        DuckDBWarehouse(tmp_path / "missing.duckdb", read_only=True)


def test_a_read_only_connection_runs_one_query_and_never_writes(
    warehouse: Warehouse, chdb_path: Path
) -> None:
    warehouse.create_table_as("kept", "select 1 as n")
    if isinstance(warehouse, DuckDBWarehouse):
        reader: Warehouse = DuckDBWarehouse(warehouse.path, read_only=True)
    else:
        reader = ChdbWarehouse(chdb_path, database=warehouse.database, read_only=True)
    assert values(reader, f"select n from {reader.qualify('kept')}") == [(1,)]
    for statement in (
        f"drop table {reader.qualify('kept')}",
        f"select 1; drop table {reader.qualify('kept')}",
        f"insert into {reader.qualify('kept')} select 2",
    ):
        with pytest.raises(WarehouseError):
            reader.query_arrow(statement)
    assert values(warehouse, f"select n from {warehouse.qualify('kept')}") == [(1,)]
    # The writer's own connection is unaffected by the reader's limits.
    warehouse.insert_select("kept", "select 2 as n")
    assert warehouse.row_count("kept") == 2


def test_the_read_only_check_reads_sql_not_text() -> None:
    check_read_only("select ';' as s -- ; drop table x", "duckdb")
    check_read_only("with a as (select 1) select * from a;", "clickhouse")
    with pytest.raises(WarehouseError, match="DROP is not allowed"):
        check_read_only("drop table x", "duckdb")
    with pytest.raises(WarehouseError, match="several"):
        check_read_only("select 1; select 2", "clickhouse")
