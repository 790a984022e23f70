"""Dagster resources: the warehouse chosen by HERALD_WAREHOUSE."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from sqlalchemy import Engine

from herald.models.render import Target
from herald.settings import Settings, WarehouseURL
from herald.store import create_store_engine, migrate
from herald.warehouse import Warehouse, open_warehouse

# Every warehouse write runs in this Dagster concurrency pool. Its limit (1 on DuckDB, which
# allows one writing process) is set in the instance's dagster.yaml by `herald`.
WAREHOUSE_POOL = "herald_warehouse"


class StoreResource(dg.ConfigurableResource):  # type: ignore[misc]
    """The operational store (HERALD_DATABASE), migrated on first use."""

    url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> StoreResource:
        return cls(url=settings.database_url)

    def engine(self) -> Engine:
        engine = _store_engines.get(self.url)
        if engine is None:
            engine = create_store_engine(self.url)
            migrate(engine)
            _store_engines[self.url] = engine
        return engine


_store_engines: dict[str, Engine] = {}


class WarehouseResource(dg.ConfigurableResource):  # type: ignore[misc]
    """Opens the configured warehouse for one unit of work."""

    url: str
    home: str

    @classmethod
    def from_settings(cls, settings: Settings) -> WarehouseResource:
        url = settings.warehouse or f"duckdb://{settings.home / 'warehouse.duckdb'}"
        return cls(url=url, home=str(settings.home))

    @property
    def parsed(self) -> WarehouseURL:
        return WarehouseURL.parse(self.url, Path(self.home))

    def open(self) -> Warehouse:
        return open_warehouse(self.parsed)

    def target(self) -> Target:
        url = self.parsed
        return Target("duckdb" if url.engine == "duckdb" else "clickhouse", url.database)

    @property
    def kind(self) -> str:
        return "duckdb" if self.parsed.engine == "duckdb" else "clickhouse"
