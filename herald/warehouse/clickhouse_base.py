"""What the two ClickHouse engines share: the SQL of tables, swaps and the catalogue.

chdb (in-process) and the ClickHouse server (HTTP) differ only in transport; each subclass
implements `command`, `query_arrow` and `insert_arrow`. Every session runs with
`join_use_nulls=1` so LEFT JOIN non-matches are NULL as on DuckDB.
"""

from __future__ import annotations

import abc
import uuid
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from herald.warehouse.base import (
    ColumnInfo,
    FileFormat,
    TableInfo,
    TableOptions,
    Warehouse,
    string_literal,
)
from herald.warehouse.files import read_landing_file

SESSION_SETTINGS: dict[str, int | str] = {
    "join_use_nulls": 1,
    # A column of the input wins over a same-named alias of the SELECT, as in standard SQL.
    "prefer_column_name_to_alias": 1,
    "data_type_default_nullable": 0,
    "input_format_csv_use_best_effort_in_schema_inference": 0,
    "input_format_tsv_use_best_effort_in_schema_inference": 0,
    "output_format_arrow_string_as_string": 1,
    "output_format_arrow_low_cardinality_as_dictionary": 0,
    "mutations_sync": 2,
}


def clickhouse_type(arrow_type: pa.DataType) -> str:
    """The Nullable ClickHouse column type that holds an Arrow type."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        inner = "String"
    elif pa.types.is_boolean(arrow_type):
        inner = "Bool"
    elif pa.types.is_integer(arrow_type):
        bits = arrow_type.bit_width
        inner = f"{'UInt' if pa.types.is_unsigned_integer(arrow_type) else 'Int'}{bits}"
    elif pa.types.is_floating(arrow_type):
        inner = "Float32" if arrow_type.bit_width == 32 else "Float64"
    elif pa.types.is_decimal(arrow_type):
        inner = f"Decimal({arrow_type.precision}, {arrow_type.scale})"
    elif pa.types.is_timestamp(arrow_type):
        precision = {"s": 0, "ms": 3, "us": 6, "ns": 9}[arrow_type.unit]
        zone = f", '{arrow_type.tz}'" if arrow_type.tz else ""
        inner = f"DateTime64({precision}{zone})"
    elif pa.types.is_date(arrow_type):
        inner = "Date32"
    elif pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return f"Array({clickhouse_type(arrow_type.value_type)})"
    else:
        inner = "String"
    return f"Nullable({inner})"


class ClickHouseBase(Warehouse):
    dialect = "clickhouse"

    @abc.abstractmethod
    def command(self, sql: str) -> None:
        """Run one statement that returns nothing."""

    def execute(self, sql: str) -> None:
        self.command(sql)

    def ensure_database(self) -> None:
        self.command(f"create database if not exists {self.quote(self.database)}")

    def create_table_from_arrow_schema(self, table: str, schema: pa.Schema) -> None:
        columns = ", ".join(
            f"{self.quote(field.name)} {clickhouse_type(field.type)}" for field in schema
        )
        self.command(
            f"create table if not exists {self.qualify(table)} ({columns}) "
            "engine = MergeTree order by tuple()"
        )

    def load_files(self, table: str, paths: Sequence[Path], file_format: FileFormat) -> int:
        """Load every file into a staging table, then move its parts into the raw table with
        one ATTACH PARTITION: a failure part-way leaves the raw table untouched."""
        if not paths:
            return 0
        target = self.qualify(table)
        if not self.exists(table):
            self._create_raw_table(table, paths[0], file_format)
        staging = f"{table}__load_{uuid.uuid4().hex[:8]}"
        self.command(f"create table {self.qualify(staging)} as {target}")
        try:
            self._insert_files(staging, paths, file_format)
            loaded = self.scalar(f"select count() from {self.qualify(staging)}")
            self.command(
                f"alter table {target} attach partition tuple() from {self.qualify(staging)}"
            )
        finally:
            self.command(f"drop table if exists {self.qualify(staging)} sync")
        return int(loaded or 0)

    def _create_raw_table(self, table: str, sample: Path, file_format: FileFormat) -> None:
        """Create the raw table from the first file's columns, plus `_file`."""
        schema = read_landing_file(sample, file_format).schema
        columns = [f"{self.quote(field.name)} {clickhouse_type(field.type)}" for field in schema]
        columns.append(f"{self.quote('_file')} LowCardinality(String)")
        self.command(
            f"create table {self.qualify(table)} ({', '.join(columns)}) "
            "engine = MergeTree order by tuple()"
        )

    def _insert_files(self, table: str, paths: Sequence[Path], file_format: FileFormat) -> None:
        """Read each file here and send it over (a server cannot see local files)."""
        for path in paths:
            data = read_landing_file(path, file_format)
            name = pa.array([path.name] * data.num_rows, pa.string())
            self.insert_arrow(table, data.append_column("_file", name))

    def create_table_as(
        self, table: str, select_sql: str, options: TableOptions | None = None
    ) -> None:
        options = options or TableOptions()
        staging = f"{table}__new_{uuid.uuid4().hex[:8]}"
        order_by = ", ".join(options.order_by) if options.order_by else "tuple()"
        partition = f" partition by {options.partition_by}" if options.partition_by else ""
        self.command(
            f"create table {self.qualify(staging)} engine = {options.engine}"
            f"{partition} order by ({order_by}) settings allow_nullable_key = 1 as\n{select_sql}"
        )
        try:
            existing = {info.name: info.kind for info in self.list_tables()}
            if existing.get(table) == "table":
                self.swap(staging, table)
                self.command(f"drop table if exists {self.qualify(staging)}")
            else:
                if table in existing:
                    self.drop(table)
                self.rename(staging, table)
        except BaseException:
            self.command(f"drop table if exists {self.qualify(staging)}")
            raise

    def upsert_select(self, table: str, select_sql: str, keys: Sequence[str]) -> None:
        """Rebuild the table as (old rows whose key is not new) + new rows, then exchange."""
        suffix = uuid.uuid4().hex[:8]
        delta, rebuilt = f"{table}__delta_{suffix}", f"{table}__new_{suffix}"
        key_list = ", ".join(self.quote(key) for key in keys)
        columns = ", ".join(self.quote(column.name) for column in self.columns(table))
        self.command(
            f"create table {self.qualify(delta)} engine = MergeTree order by tuple() as\n"
            f"{select_sql}"
        )
        try:
            self.command(f"create table {self.qualify(rebuilt)} as {self.qualify(table)}")
            self.command(
                f"insert into {self.qualify(rebuilt)} ({columns}) select {columns} "
                f"from {self.qualify(table)} where ({key_list}) not in "
                f"(select {key_list} from {self.qualify(delta)})"
            )
            self.command(
                f"insert into {self.qualify(rebuilt)} ({columns}) select {columns} "
                f"from {self.qualify(delta)}"
            )
            self.swap(rebuilt, table)
        finally:
            self.command(f"drop table if exists {self.qualify(delta)} sync")
            self.command(f"drop table if exists {self.qualify(rebuilt)} sync")

    def replace_partition(self, table: str, column: str, value: str, select_sql: str) -> None:
        """Build the partition in a copy of the table, then REPLACE PARTITION (atomic); an
        empty select drops the partition."""
        staging = f"{table}__part_{uuid.uuid4().hex[:8]}"
        columns = ", ".join(self.quote(info.name) for info in self.columns(table))
        self.command(f"create table {self.qualify(staging)} as {self.qualify(table)}")
        try:
            self.command(
                f"insert into {self.qualify(staging)} ({columns}) select {columns} "
                f"from (\n{select_sql}\n) as _herald_part"
            )
            if self.row_count(staging):
                self.command(
                    f"alter table {self.qualify(table)} replace partition {self.literal(value)} "
                    f"from {self.qualify(staging)}"
                )
            else:
                self.command(
                    f"alter table {self.qualify(table)} drop partition {self.literal(value)}"
                )
        finally:
            self.command(f"drop table if exists {self.qualify(staging)} sync")

    def create_view_as(self, view: str, select_sql: str) -> None:
        existing = {info.name: info.kind for info in self.list_tables()}
        if existing.get(view) == "table":
            self.drop(view)
        self.command(f"create or replace view {self.qualify(view)} as\n{select_sql}")

    def swap(self, first: str, second: str) -> None:
        self.command(f"exchange tables {self.qualify(first)} and {self.qualify(second)}")

    def rename(self, old: str, new: str) -> None:
        self.command(f"rename table {self.qualify(old)} to {self.qualify(new)}")

    def drop(self, name: str) -> None:
        kinds = {info.name: info.kind for info in self.list_tables()}
        if kinds.get(name) == "view":
            self.command(f"drop view if exists {self.qualify(name)}")
        elif name in kinds:
            self.command(f"drop table if exists {self.qualify(name)} sync")

    def list_tables(self) -> list[TableInfo]:
        rows = self.query_arrow(
            "select name, engine from system.tables "
            f"where database = {_sql_string(self.database)} order by name"
        ).to_pylist()
        return [
            TableInfo(row["name"], "view" if row["engine"] == "View" else "table") for row in rows
        ]

    def columns(self, table: str) -> list[ColumnInfo]:
        rows = self.query_arrow(
            "select name, type from system.columns "
            f"where database = {_sql_string(self.database)} and table = {_sql_string(table)} "
            "order by position"
        ).to_pylist()
        return [ColumnInfo(row["name"], row["type"]) for row in rows]

    def row_count(self, table: str) -> int:
        value = self.scalar(f"select count() from {self.qualify(table)}")
        return int(value or 0)

    def quote(self, identifier: str) -> str:
        return "`" + identifier.replace("`", "\\`") + "`"

    def qualify(self, name: str) -> str:
        return f"{self.quote(self.database)}.{self.quote(name)}"


def _sql_string(value: str) -> str:
    return string_literal("clickhouse", value)
