"""Shared fixtures: warehouses on both embedded engines.

chdb holds one data path per process, so every test shares one session-scoped chdb path and
gets its own database on it; DuckDB gets a temporary file per test.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from herald.warehouse.base import Warehouse
from herald.warehouse.chdb_engine import ChdbWarehouse
from herald.warehouse.duckdb_engine import DuckDBWarehouse

ENGINES = ["duckdb", "chdb"]


_session_chdb: list[Path] = []


def session_chdb_path(factory: pytest.TempPathFactory) -> Path:
    """The one chdb data path of this test process (chdb allows one path per process)."""
    if not _session_chdb:
        _session_chdb.append(factory.mktemp("chdb"))
    return _session_chdb[0]


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return session_chdb_path(tmp_path_factory)


def new_chdb_warehouse(chdb_path: Path) -> ChdbWarehouse:
    return ChdbWarehouse(chdb_path, database=f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def duckdb_warehouse(tmp_path: Path) -> DuckDBWarehouse:
    return DuckDBWarehouse(tmp_path / "warehouse.duckdb")


@pytest.fixture
def chdb_warehouse(chdb_path: Path) -> Iterator[ChdbWarehouse]:
    warehouse = new_chdb_warehouse(chdb_path)
    yield warehouse
    warehouse.command(f"drop database if exists {warehouse.quote(warehouse.database)}")


@pytest.fixture(params=ENGINES)
def warehouse(
    request: pytest.FixtureRequest, tmp_path: Path, chdb_path: Path
) -> Iterator[Warehouse]:
    if request.param == "duckdb":
        yield DuckDBWarehouse(tmp_path / "warehouse.duckdb")
        return
    chdb = new_chdb_warehouse(chdb_path)
    yield chdb
    chdb.command(f"drop database if exists {chdb.quote(chdb.database)}")
