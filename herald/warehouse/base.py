"""The warehouse interface every engine implements.

Names passed to these methods are bare table names ("events"); the engine qualifies and
quotes them. SQL passed in is already in the engine's dialect (rendered through macros).
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

FileFormat = Literal["parquet", "csv"]


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: str


@dataclass(frozen=True)
class TableInfo:
    name: str
    kind: Literal["table", "view"]


@dataclass(frozen=True)
class TableOptions:
    """Engine settings a model may declare; DuckDB ignores the ClickHouse ones."""

    order_by: tuple[str, ...] = ()
    engine: str = "MergeTree"
    partition_by: str | None = None


class Warehouse(abc.ABC):
    """One analytical database: DuckDB file, chdb directory or ClickHouse server."""

    engine: str  # "duckdb" | "chdb" | "clickhouse"
    dialect: str  # the sqlglot / macro dialect: "duckdb" | "clickhouse"
    database: str

    # --- statements -------------------------------------------------------------------
    @abc.abstractmethod
    def execute(self, sql: str) -> None:
        """Run one statement that returns nothing."""

    def execute_all(self, statements: Sequence[str]) -> None:
        """Run statements in order; engines with transactions run them in one."""
        for statement in statements:
            self.execute(statement)

    @abc.abstractmethod
    def query_arrow(self, sql: str) -> pa.Table:
        """Run a query and return its result as an Arrow table."""

    def scalar(self, sql: str) -> Any:
        table = self.query_arrow(sql)
        if table.num_rows == 0:
            return None
        return table.column(0)[0].as_py()

    # --- data in --------------------------------------------------------------------------
    @abc.abstractmethod
    def insert_arrow(self, table: str, data: pa.Table) -> int:
        """Append rows to an existing table, matching columns by name; returns rows inserted."""

    @abc.abstractmethod
    def create_table_from_arrow_schema(self, table: str, schema: pa.Schema) -> None:
        """Create an empty append-only table whose columns follow an Arrow schema."""

    @abc.abstractmethod
    def load_files(self, table: str, paths: Sequence[Path], file_format: FileFormat) -> int:
        """Append whole files to `table` (created on first use), adding a `_file` column with
        each row's file name. All or nothing: if any file fails, no row is added."""

    # --- models ---------------------------------------------------------------------------
    @abc.abstractmethod
    def create_table_as(
        self, table: str, select_sql: str, options: TableOptions | None = None
    ) -> None:
        """Build `table` from a select and put it in place atomically (replacing any old one)."""

    def insert_select(self, table: str, select_sql: str) -> None:
        """Append a select's rows to an existing table, matching columns by name."""
        columns = ", ".join(self.quote(column.name) for column in self.columns(table))
        self.execute(
            f"insert into {self.qualify(table)} ({columns})\n"
            f"select {columns} from (\n{select_sql}\n) as _herald_new"
        )

    @abc.abstractmethod
    def upsert_select(self, table: str, select_sql: str, keys: Sequence[str]) -> None:
        """Replace the rows of `table` whose keys appear in the select, and add the rest."""

    @abc.abstractmethod
    def replace_partition(self, table: str, column: str, value: str, select_sql: str) -> None:
        """Replace, atomically, the rows of `table` whose `column` equals `value` (the table's
        partition key on ClickHouse) with a select's rows, which must all have that value."""

    @abc.abstractmethod
    def create_view_as(self, view: str, select_sql: str) -> None:
        """Create or replace a view."""

    @abc.abstractmethod
    def swap(self, first: str, second: str) -> None:
        """Exchange two tables' names atomically."""

    @abc.abstractmethod
    def drop(self, name: str) -> None:
        """Drop a table or view if it exists."""

    def rename(self, old: str, new: str) -> None:
        self.execute(f"alter table {self.qualify(old)} rename to {self.quote(new)}")

    # --- catalogue -------------------------------------------------------------------------
    @abc.abstractmethod
    def list_tables(self) -> list[TableInfo]:
        """Tables and views in Herald's database."""

    @abc.abstractmethod
    def columns(self, table: str) -> list[ColumnInfo]:
        """Columns of a table or view, in order."""

    def exists(self, name: str) -> bool:
        return any(info.name == name for info in self.list_tables())

    def row_count(self, table: str) -> int:
        value = self.scalar(f"select count(*) from {self.qualify(table)}")
        return int(value or 0)

    # --- naming ----------------------------------------------------------------------------
    @abc.abstractmethod
    def quote(self, identifier: str) -> str:
        """Quote one identifier."""

    def literal(self, text: str) -> str:
        """Any text as a string literal of the engine's dialect."""
        return string_literal(self.dialect, text)

    @abc.abstractmethod
    def qualify(self, name: str) -> str:
        """The quoted, database-qualified name of a table or view."""

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Keep one connection for a short unit of work where the engine opens one per
        statement (DuckDB); a no-op elsewhere."""
        yield

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default holds none."""

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def string_literal(dialect: str, text: str) -> str:
    """Any text as a string literal: ClickHouse escapes backslashes and quotes with a
    backslash; DuckDB (standard SQL) doubles the quote and takes backslashes as they are."""
    if dialect == "clickhouse":
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return "'" + text.replace("'", "''") + "'"
