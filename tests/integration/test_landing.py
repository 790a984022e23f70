"""Landing files into raw tables: whole, once, and a bad file kept aside with its reason."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from herald.landing import load_landing
from herald.models.project import SourceTable
from herald.warehouse.base import Warehouse

ORDERS = SourceTable(source="shop", name="orders", format="parquet", description="", columns=())


def write_orders(folder: Path, name: str, ids: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"order_id": ids, "total": [1.0] * len(ids)}), folder / name)


def test_files_load_once_even_when_offered_again(warehouse: Warehouse, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    write_orders(landing / "orders", "a.parquet", ["o1", "o2"])
    write_orders(landing / "orders", "b.parquet", ["o3"])
    first = load_landing(warehouse, landing, ORDERS)
    again = load_landing(warehouse, landing, ORDERS)
    assert (first.files_loaded, first.rows_loaded) == (2, 3)
    assert (again.files_loaded, again.rows_loaded) == (0, 0)
    assert warehouse.row_count("raw_orders") == 3


def test_a_bad_file_is_rejected_with_its_reason_and_the_rest_load(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    write_orders(landing / "orders", "a.parquet", ["o1", "o2"])
    (landing / "orders" / "b.parquet").write_bytes(b"PAR1 truncated")
    write_orders(landing / "orders", "c.parquet", ["o3"])
    recorded: list[tuple[str, int]] = []

    outcome = load_landing(
        warehouse, landing, ORDERS, on_loaded=lambda path, rows: recorded.append((path.name, rows))
    )

    assert (outcome.files_loaded, outcome.rows_loaded) == (2, 3)
    assert list(outcome.rejected) == ["b.parquet"]
    assert sorted(recorded) == [("a.parquet", 2), ("c.parquet", 1)]
    # received = accepted + rejected: every file is either in the raw table or kept aside.
    rejected = landing / "_rejected" / "orders"
    assert (rejected / "b.parquet").read_bytes() == b"PAR1 truncated"
    assert (rejected / "b.parquet.reason.txt").read_text().strip() == outcome.rejected["b.parquet"]
    assert not (landing / "orders" / "b.parquet").exists()
    ids = warehouse.query_arrow(f"select order_id from {warehouse.qualify('raw_orders')}")
    assert sorted(ids.column(0).to_pylist()) == ["o1", "o2", "o3"]


def test_a_source_without_files_or_declared_columns_says_what_to_do(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    import pytest

    from herald.errors import WarehouseError

    with pytest.raises(WarehouseError, match="no landing files for orders yet"):
        load_landing(warehouse, tmp_path / "landing", ORDERS)
