"""Warehouse engines behind one interface; `open_warehouse` picks one from the settings."""

from __future__ import annotations

from herald.errors import SettingsError
from herald.settings import Settings, WarehouseURL
from herald.warehouse.base import ColumnInfo, TableInfo, TableOptions, Warehouse

__all__ = ["ColumnInfo", "TableInfo", "TableOptions", "Warehouse", "open_warehouse"]


def open_warehouse(
    target: Settings | WarehouseURL, *, read_only: bool = False, database: str | None = None
) -> Warehouse:
    """Open the configured warehouse; `read_only` accepts one query at a time, no writes."""
    url = target.warehouse_url if isinstance(target, Settings) else target
    if url.engine == "duckdb":
        from herald.warehouse.duckdb_engine import DuckDBWarehouse

        assert url.path is not None
        return DuckDBWarehouse(url.path, read_only=read_only)
    if url.engine == "chdb":
        from herald.warehouse.chdb_engine import ChdbWarehouse

        assert url.path is not None
        return ChdbWarehouse(url.path, database=database or url.database, read_only=read_only)
    if url.engine == "clickhouse":
        from herald.warehouse.clickhouse_engine import ClickHouseWarehouse

        return ClickHouseWarehouse(url, database=database or url.database, read_only=read_only)
    raise SettingsError("HERALD_WAREHOUSE", f"unknown engine {url.engine!r}")
