"""The ClickHouse engine over HTTP (clickhouse-connect), against the test server whose
queries run in chdb, compared with the same operations on chdb in this process."""

from __future__ import annotations

import csv
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import clickhouse_connect
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from herald.errors import SettingsError, WarehouseError
from herald.settings import WarehouseURL
from herald.warehouse import open_warehouse
from herald.warehouse.base import Warehouse
from herald.warehouse.chdb_engine import ChdbWarehouse
from herald.warehouse.clickhouse_engine import ClickHouseWarehouse
from tests.support.clickhouse_server import clickhouse_http_server

TYPES_SQL = """
select
    'text' as name,
    cast(null as Nullable(String)) as missing,
    toInt64(-42) as amount,
    toFloat64(2.5) as ratio,
    toDate('2024-02-29') as day,
    toDateTime64('2024-02-29 12:34:56.789', 3) as happened_at,
    true as active
"""


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """The test server (queries run in chdb), or a real server named by
    HERALD_TEST_CLICKHOUSE_URL (clickhouse://user:password@host:8123/herald)."""
    real_server = os.environ.get("HERALD_TEST_CLICKHOUSE_URL")
    if real_server:
        yield real_server
        return
    with clickhouse_http_server() as url:
        yield url


@pytest.fixture
def database() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def http(server_url: str, database: str, tmp_path: Path) -> Iterator[Warehouse]:
    warehouse = open_warehouse(WarehouseURL.parse(server_url, tmp_path), database=database)
    yield warehouse
    warehouse.execute(f"drop database if exists {warehouse.quote(database)} sync")
    warehouse.close()


@pytest.fixture
def local(chdb_path: Path, database: str) -> Iterator[Warehouse]:
    # chdb_path: tests/conftest.py's one session-scoped path (chdb holds one path per process)
    warehouse = ChdbWarehouse(chdb_path, database=database)
    yield warehouse
    warehouse.execute(f"drop database if exists {warehouse.quote(database)} sync")


def both(http: Warehouse, local: Warehouse) -> list[Warehouse]:
    return [http, local]


def rows(warehouse: Warehouse, sql: str) -> list[dict[str, object]]:
    return warehouse.query_arrow(sql).to_pylist()


# --- connecting -----------------------------------------------------------------------------


def test_opening_creates_the_database(http: Warehouse, database: str) -> None:
    assert isinstance(http, ClickHouseWarehouse)
    assert http.engine == "clickhouse"
    assert http.scalar(f"select count() from system.databases where name = '{database}'") == 1
    assert http.list_tables() == []


def test_an_unreachable_port_is_a_settings_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    url = WarehouseURL(engine="clickhouse", host="127.0.0.1", port=port)
    with pytest.raises(SettingsError) as caught:
        ClickHouseWarehouse(url)
    assert caught.value.setting == "HERALD_WAREHOUSE"
    assert str(caught.value) == (
        f"HERALD_WAREHOUSE: cannot reach ClickHouse at 127.0.0.1:{port}: connection refused"
    )


def test_a_wrong_password_is_a_settings_error(tmp_path: Path) -> None:
    with clickhouse_http_server(password="right") as url:
        good = WarehouseURL.parse(url, tmp_path)
        assert ClickHouseWarehouse(good).list_tables() == []
        bad = WarehouseURL.parse(url.replace(":right@", ":wrong@"), tmp_path)
        with pytest.raises(SettingsError) as caught:
            ClickHouseWarehouse(bad)
    assert caught.value.setting == "HERALD_WAREHOUSE"
    assert "AUTHENTICATION_FAILED" in str(caught.value)
    assert "\n" not in str(caught.value)


# --- statements and errors ------------------------------------------------------------------


def test_a_bad_query_raises_clickhouses_message(http: Warehouse, local: Warehouse) -> None:
    messages = []
    for warehouse in both(http, local):
        with pytest.raises(WarehouseError) as caught:
            warehouse.query_arrow(f"select * from {warehouse.qualify('no_such_table')}")
        messages.append(str(caught.value))
    assert messages[0].startswith("Code: 60. DB::Exception:")
    assert "(UNKNOWN_TABLE)" in messages[0]
    assert "\n" not in messages[0]
    assert messages[0] == messages[1]


def test_every_request_runs_with_join_use_nulls(http: Warehouse, local: Warehouse) -> None:
    sql = """
        select l.id, r.label
        from (select 1 as id union all select 2 as id) as l
        left join (select 1 as id, 'one' as label) as r on l.id = r.id
        order by l.id
    """
    expected = [{"id": 1, "label": "one"}, {"id": 2, "label": None}]
    assert rows(http, sql) == expected
    assert rows(http, sql) == rows(local, sql)
    assert http.scalar("select getSetting('join_use_nulls')") in (1, True)


def test_query_arrow_types_match_chdb(http: Warehouse, local: Warehouse) -> None:
    over_http, in_process = http.query_arrow(TYPES_SQL), local.query_arrow(TYPES_SQL)
    assert over_http.schema == in_process.schema
    assert over_http.equals(in_process)
    types = {field.name: field.type for field in over_http.schema}
    assert types["name"] == pa.string()
    assert types["missing"] == pa.string() and over_http.schema.field("missing").nullable
    assert types["amount"] == pa.int64()
    assert types["ratio"] == pa.float64()
    assert types["day"] == pa.date32()
    assert types["happened_at"] == pa.timestamp("ms", tz="Etc/UTC")
    assert types["active"] == pa.bool_()
    row = over_http.to_pylist()[0]
    assert (row["missing"], row["amount"], row["ratio"]) == (None, -42, 2.5)
    assert row["happened_at"].isoformat() == "2024-02-29T12:34:56.789000+00:00"


# --- models -----------------------------------------------------------------------------------


def test_create_table_as_twice_exchanges_the_table(http: Warehouse, local: Warehouse) -> None:
    for warehouse in both(http, local):
        warehouse.create_table_as("orders", "select 1 as id, 'first' as note")
        warehouse.create_table_as(
            "orders", "select number + 10 as id, 'second' as note from numbers(3)"
        )
    sql = f"select * from {http.qualify('orders')} order by id"
    assert rows(http, sql) == [
        {"id": 10, "note": "second"},
        {"id": 11, "note": "second"},
        {"id": 12, "note": "second"},
    ]
    assert rows(http, sql) == rows(local, sql)
    assert [info.name for info in http.list_tables()] == ["orders"]  # no staging left


def test_create_view_as_replaces_the_view(http: Warehouse, local: Warehouse) -> None:
    for warehouse in both(http, local):
        warehouse.create_table_as("orders", "select number as id from numbers(5)")
        warehouse.create_view_as(
            "big_orders", f"select id from {warehouse.qualify('orders')} where id > 1"
        )
        warehouse.create_view_as(
            "big_orders", f"select id from {warehouse.qualify('orders')} where id > 2"
        )
    sql = f"select * from {http.qualify('big_orders')} order by id"
    assert rows(http, sql) == [{"id": 3}, {"id": 4}]
    assert rows(http, sql) == rows(local, sql)
    assert http.list_tables() == local.list_tables()
    assert {info.name: info.kind for info in http.list_tables()} == {
        "big_orders": "view",
        "orders": "table",
    }


def test_insert_arrow_matches_columns_by_name(http: Warehouse, local: Warehouse) -> None:
    schema = pa.schema([("id", pa.int64()), ("email", pa.string()), ("score", pa.float64())])
    shuffled = pa.table(
        {"score": [0.5, None], "id": [1, 2], "email": ["a@example.com", None]},
        schema=pa.schema([("score", pa.float64()), ("id", pa.int64()), ("email", pa.string())]),
    )
    for warehouse in both(http, local):
        warehouse.create_table_from_arrow_schema("profiles", schema)
        assert warehouse.insert_arrow("profiles", shuffled) == 2
        assert warehouse.insert_arrow("profiles", shuffled.slice(0, 0)) == 0
    sql = f"select * from {http.qualify('profiles')} order by id"
    assert rows(http, sql) == [
        {"id": 1, "email": "a@example.com", "score": 0.5},
        {"id": 2, "email": None, "score": None},
    ]
    assert http.query_arrow(sql).equals(local.query_arrow(sql))


def test_catalogue_matches_chdb(http: Warehouse, local: Warehouse) -> None:
    for warehouse in both(http, local):
        warehouse.create_table_as("events", TYPES_SQL)
        warehouse.create_view_as("event_names", f"select name from {warehouse.qualify('events')}")
    assert http.list_tables() == local.list_tables()
    assert http.columns("events") == local.columns("events")
    assert [column.name for column in http.columns("events")] == [
        "name",
        "missing",
        "amount",
        "ratio",
        "day",
        "happened_at",
        "active",
    ]
    assert http.columns("event_names") == local.columns("event_names")
    assert http.row_count("events") == local.row_count("events") == 1
    assert http.exists("events") and not http.exists("nothing")


def test_swap_and_drop(http: Warehouse, local: Warehouse) -> None:
    for warehouse in both(http, local):
        warehouse.create_table_as("current", "select 'old' as version")
        warehouse.create_table_as("next", "select 'new' as version")
        warehouse.create_view_as("shown", f"select * from {warehouse.qualify('current')}")
        warehouse.swap("current", "next")
    sql = f"select version from {http.qualify('shown')}"
    assert rows(http, sql) == [{"version": "new"}] == rows(local, sql)
    for warehouse in both(http, local):
        warehouse.drop("shown")
        warehouse.drop("next")
        warehouse.drop("never_existed")
    assert [info.name for info in http.list_tables()] == ["current"]
    assert http.list_tables() == local.list_tables()


def test_load_files_reads_parquet_and_csv_locally(
    http: Warehouse, local: Warehouse, tmp_path: Path
) -> None:
    parquet_file = tmp_path / "orders_1.parquet"
    pq.write_table(pa.table({"id": [1, 2], "total": [9.5, None]}), parquet_file)
    csv_file = tmp_path / "contacts_1.csv"
    with csv_file.open("w", newline="") as handle:
        csv.writer(handle).writerows([["id", "phone"], ["1", "007"], ["2", ""]])

    # The server cannot see local files: the HTTP engine reads them with pyarrow and sends
    # them; chdb reads them in SQL. Both must give the same table.
    for warehouse in both(http, local):
        assert warehouse.load_files("raw_orders", [parquet_file], "parquet") == 2
        assert warehouse.load_files("raw_contacts", [csv_file], "csv") == 2
        assert warehouse.load_files("raw_contacts", [csv_file], "csv") == 2
    orders = f"select * from {http.qualify('raw_orders')} order by id"
    assert rows(http, orders) == [
        {"id": 1, "total": 9.5, "_file": "orders_1.parquet"},
        {"id": 2, "total": None, "_file": "orders_1.parquet"},
    ]
    contacts = f"select * from {http.qualify('raw_contacts')} order by id, _file"
    assert rows(http, contacts)[0] == {"id": "1", "phone": "007", "_file": "contacts_1.csv"}
    assert http.row_count("raw_contacts") == 4
    for sql in (orders, contacts):
        assert http.query_arrow(sql).equals(local.query_arrow(sql))
    assert http.columns("raw_contacts") == local.columns("raw_contacts")


# --- the test server itself -----------------------------------------------------------------


def test_server_takes_compressed_native_inserts(http: Warehouse, server_url: str) -> None:
    """clickhouse-connect's own insert path: Native blocks, lz4 body, chunked transfer."""
    url = WarehouseURL.parse(server_url, Path("."))
    http.create_table_from_arrow_schema("pairs", pa.schema([("k", pa.string()), ("v", pa.int64())]))
    client = clickhouse_connect.get_client(
        host=url.host,
        port=url.port,
        username=url.user,
        password=url.password,
        database=http.database,
        compress="lz4",
    )
    try:
        client.insert("pairs", [[7, "seven"], [8, None]], column_names=["v", "k"])
        result = client.query("select k, v from pairs order by v")
    finally:
        client.close()
    assert result.result_rows == [("seven", 7), (None, 8)]
    assert http.row_count("pairs") == 2


def test_a_read_only_connection_cannot_write_even_past_the_check(
    http: Warehouse, server_url: str, database: str, tmp_path: Path
) -> None:
    http.create_table_as("kept", "select 1 as n")
    reader = open_warehouse(
        WarehouseURL.parse(server_url, tmp_path), database=database, read_only=True
    )
    assert rows(reader, f"select n from {reader.qualify('kept')}") == [{"n": 1}]
    with pytest.raises(WarehouseError, match="read-only"):
        reader.query_arrow(f"drop table {reader.qualify('kept')}")
    # The server's own readonly setting, not only Herald's check, stops a write.
    reader.read_only = False
    with pytest.raises(WarehouseError, match="readonly"):
        reader.execute(f"insert into {reader.qualify('kept')} select 2")
    reader.close()
    http.insert_select("kept", "select 2 as n")
    assert http.row_count("kept") == 2
