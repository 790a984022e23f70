"""DuckDB file warehouse: the embedded default.

DuckDB lets one process write a file at a time. A connection is opened for one statement
or one transaction and closed straight after, so a Dagster run never holds the file between
models; opening retries briefly while another process holds the lock, then raises
WarehouseBusy with a message a person can act on.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from herald.errors import WarehouseBusy, WarehouseError
from herald.warehouse.base import ColumnInfo, FileFormat, TableInfo, TableOptions, Warehouse
from herald.warehouse.read_only import check_read_only

_LOCK_MARKERS = ("Could not set lock", "Conflicting lock", "database is locked")


class DuckDBWarehouse(Warehouse):
    engine = "duckdb"
    dialect = "duckdb"

    def __init__(self, path: Path, *, read_only: bool = False, busy_timeout: float = 10.0):
        self.path = Path(path)
        self.read_only = read_only
        self.busy_timeout = busy_timeout
        self.database = "main"
        self._held: duckdb.DuckDBPyConnection | None = None
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise WarehouseError(
                f"the warehouse {self.path} does not exist yet: run `herald materialize` first"
            )

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """One connection for a short unit of work of many statements (a segment's
        refresh), instead of opening the file for each; closed when the unit ends."""
        if self._held is not None:
            yield
            return
        with self._open() as connection:
            self._held = connection
            try:
                yield
            finally:
                self._held = None

    @contextlib.contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The file opened for one unit of work (or the held connection)."""
        if self._held is None:
            with self._open() as connection:
                yield connection
            return
        try:
            yield self._held
        except duckdb.Error as exc:
            raise WarehouseError(str(exc).strip()) from exc

    @contextlib.contextmanager
    def _open(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the file, waiting while another process holds it."""
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.05
        while True:
            try:
                connection = duckdb.connect(str(self.path), read_only=self.read_only)
                break
            except duckdb.IOException as exc:
                if not any(marker in str(exc) for marker in _LOCK_MARKERS):
                    raise WarehouseError(f"cannot open the warehouse {self.path}: {exc}") from exc
                if time.monotonic() >= deadline:
                    raise WarehouseBusy(
                        f"the warehouse {self.path} is busy: another process (usually a Dagster "
                        f"run) is writing to it. Waited {self.busy_timeout:.0f} s; try again "
                        "when the run finishes."
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
        try:
            yield connection
        except duckdb.Error as exc:
            raise WarehouseError(str(exc).strip()) from exc
        finally:
            connection.close()

    def execute(self, sql: str) -> None:
        with self.connect() as connection:
            connection.execute(sql)

    def execute_all(self, statements: Sequence[str]) -> None:
        with self.connect() as connection:
            connection.execute("begin transaction")
            try:
                for statement in statements:
                    connection.execute(statement)
            except BaseException:
                connection.execute("rollback")
                raise
            connection.execute("commit")

    def query_arrow(self, sql: str) -> pa.Table:
        if self.read_only:
            check_read_only(sql, self.dialect)
        with self.connect() as connection:
            relation = connection.sql(sql)
            if relation is None:
                return pa.table({})
            return _to_arrow(relation)

    def insert_arrow(self, table: str, data: pa.Table) -> int:
        with self.connect() as connection:
            connection.register("_herald_insert", data)
            connection.execute(
                f"insert into {self.qualify(table)} by name select * from _herald_insert"
            )
        return data.num_rows

    def create_table_from_arrow_schema(self, table: str, schema: pa.Schema) -> None:
        empty = schema.empty_table()
        with self.connect() as connection:
            connection.register("_herald_schema", empty)
            connection.execute(
                f"create table if not exists {self.qualify(table)} as "
                "select * from _herald_schema limit 0"
            )

    def load_files(self, table: str, paths: Sequence[Path], file_format: FileFormat) -> int:
        if not paths:
            return 0
        files = ", ".join(_sql_string(str(path)) for path in paths)
        if file_format == "parquet":
            reader = f"read_parquet([{files}], filename = true)"
        else:
            reader = (
                f"read_csv([{files}], header = true, all_varchar = true, filename = true, "
                "union_by_name = true)"
            )
        select = f"select * exclude (filename), parse_filename(filename) as _file from {reader}"
        target = self.qualify(table)
        with self.connect() as connection:
            connection.execute("begin transaction")
            connection.execute(f"create table if not exists {target} as {select} limit 0")
            before = connection.execute(f"select count(*) from {target}").fetchone()
            connection.execute(f"insert into {target} by name {select}")
            after = connection.execute(f"select count(*) from {target}").fetchone()
            connection.execute("commit")
        return int(after[0] if after else 0) - int(before[0] if before else 0)

    def create_table_as(
        self, table: str, select_sql: str, options: TableOptions | None = None
    ) -> None:
        self.execute(f"create or replace table {self.qualify(table)} as\n{select_sql}")

    def insert_select(self, table: str, select_sql: str) -> None:
        self.execute(f"insert into {self.qualify(table)} by name\n{select_sql}")

    def upsert_select(self, table: str, select_sql: str, keys: Sequence[str]) -> None:
        key_list = ", ".join(self.quote(key) for key in keys)
        target = self.qualify(table)
        self.execute_all(
            [
                f"create or replace temp table _herald_delta as\n{select_sql}",
                f"delete from {target} "
                f"where ({key_list}) in (select ({key_list}) from _herald_delta)",
                f"insert into {target} by name select * from _herald_delta",
                "drop table _herald_delta",
            ]
        )

    def replace_partition(self, table: str, column: str, value: str, select_sql: str) -> None:
        target = self.qualify(table)
        # The select may read the table itself: it is computed before the delete.
        self.execute_all(
            [
                f"create or replace temp table _herald_partition as\n{select_sql}",
                f"delete from {target} where {self.quote(column)} = {self.literal(value)}",
                f"insert into {target} by name select * from _herald_partition",
                "drop table _herald_partition",
            ]
        )

    def create_view_as(self, view: str, select_sql: str) -> None:
        self.execute(f"create or replace view {self.qualify(view)} as\n{select_sql}")

    def swap(self, first: str, second: str) -> None:
        spare = f"{first}__swap"
        self.execute_all(
            [
                f"alter table {self.qualify(first)} rename to {self.quote(spare)}",
                f"alter table {self.qualify(second)} rename to {self.quote(first)}",
                f"alter table {self.qualify(spare)} rename to {self.quote(second)}",
            ]
        )

    def drop(self, name: str) -> None:
        kinds = {info.name: info.kind for info in self.list_tables()}
        if name in kinds:
            self.execute(f"drop {kinds[name]} if exists {self.qualify(name)}")

    def list_tables(self) -> list[TableInfo]:
        rows = self.query_arrow(
            "select table_name, table_type from information_schema.tables "
            "where table_schema = 'main' order by table_name"
        ).to_pylist()
        return [
            TableInfo(row["table_name"], "view" if row["table_type"] == "VIEW" else "table")
            for row in rows
        ]

    def columns(self, table: str) -> list[ColumnInfo]:
        rows = self.query_arrow(
            "select column_name, data_type from information_schema.columns "
            f"where table_schema = 'main' and table_name = {_sql_string(table)} "
            "order by ordinal_position"
        ).to_pylist()
        return [ColumnInfo(row["column_name"], row["data_type"]) for row in rows]

    def quote(self, identifier: str) -> str:
        return '"' + identifier.replace('"', '""') + '"'

    def qualify(self, name: str) -> str:
        return self.quote(name)


def _to_arrow(relation: duckdb.DuckDBPyRelation) -> pa.Table:
    """DuckDB 2 names it to_arrow_table; 1.x arrow."""
    fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
    table: pa.Table = fetch()
    return table


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
