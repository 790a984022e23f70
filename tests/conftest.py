"""Shared fixtures: warehouses on both embedded engines.

chdb holds one data path per process, so every test shares one session-scoped chdb path and
gets its own database on it; DuckDB gets a temporary file per test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import URL, make_url

from herald.warehouse.base import Warehouse
from herald.warehouse.chdb_engine import ChdbWarehouse
from herald.warehouse.duckdb_engine import DuckDBWarehouse
from tests.support.report_home import ReportHome, shared_report_home

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


@pytest.fixture(scope="session")
def report_home(tmp_path_factory: pytest.TempPathFactory) -> ReportHome:
    """The generated home of the report tests, materialised on DuckDB and chdb once per run
    for every xdist worker (tests.support.report_home); tests only read it."""
    return shared_report_home(tmp_path_factory)


# --- PostgreSQL -------------------------------------------------------------------------------
POSTGRES_SERVER_URL = os.environ.get(
    "HERALD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def libpq_url(url: URL) -> str:
    """The URL as psycopg (libpq) takes it, password included."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[URL]:
    """A throwaway database on the test server, dropped when the session ends."""
    server = make_url(POSTGRES_SERVER_URL)
    try:
        admin = psycopg.connect(libpq_url(server), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        first_line = str(exc).strip().splitlines()[0]
        pytest.skip(
            f"PostgreSQL is not reachable at {server.render_as_string()} ({first_line}); "
            "start it with `deploy/services.sh ensure postgres` or set HERALD_TEST_POSTGRES_URL"
        )
    name = f"herald_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'create database "{name}"')
        try:
            yield server.set(drivername="postgresql+psycopg", database=name)
        finally:
            admin.execute(f'drop database if exists "{name}" with (force)')


def emptied(url: URL) -> str:
    """The session's PostgreSQL database with its public schema dropped and made again."""
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        connection.execute("drop schema public cascade")
        connection.execute("create schema public")
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def sink() -> Iterator[Any]:
    """A receiving SMTP server (aiosmtpd) for one test module: tests/support/sending.py."""
    from tests.support.sending import MailSink

    server = MailSink.start()
    yield server
    server.stop()
