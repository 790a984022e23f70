"""chdb: the ClickHouse engine in-process, on a persistent directory.

chdb keeps one data path per process, so sessions are shared per path; opening another path
closes the previous session first. Herald's tables live in one database (default `herald`);
tests give each case its own database on the shared path.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
from chdb import session as chdb_session

from herald.errors import WarehouseError
from herald.warehouse.base import FileFormat
from herald.warehouse.clickhouse_base import SESSION_SETTINGS, ClickHouseBase, _sql_string
from herald.warehouse.read_only import check_read_only

_FORMATS = {"parquet": "Parquet", "csv": "CSVWithNames"}
_lock = threading.RLock()
_open: dict[str, chdb_session.Session] = {}


def _session_for(path: Path) -> chdb_session.Session:
    key = str(path.resolve())
    with _lock:
        if key in _open:
            return _open[key]
        for other in list(_open):
            _open.pop(other).close()
        path.mkdir(parents=True, exist_ok=True)
        session = chdb_session.Session(key)
        for name, value in SESSION_SETTINGS.items():
            session.query(f"set {name} = {value!r}")
        _open[key] = session
        return session


class ChdbWarehouse(ClickHouseBase):
    engine = "chdb"

    def __init__(self, path: Path, database: str = "herald", *, read_only: bool = False):
        self.path = Path(path)
        self.database = database
        self.read_only = False
        self._session = _session_for(self.path)
        self.ensure_database()
        # Unqualified names in ad-hoc SQL (`herald sql "select ... from events"`) mean Herald's.
        self.command(f"use {self.quote(database)}")
        self.read_only = read_only

    def _run(self, sql: str, output_format: str = "CSV") -> object:
        if self.read_only:
            check_read_only(sql, self.dialect)
        with _lock:
            try:
                return self._session.query(sql, output_format)
            except Exception as exc:  # chdb raises plain RuntimeError/ChdbError
                raise WarehouseError(_short(str(exc))) from exc

    def command(self, sql: str) -> None:
        self._run(sql)

    def query_arrow(self, sql: str) -> pa.Table:
        result = self._run(sql, "ArrowTable")
        if not isinstance(result, pa.Table):
            return pa.table({})
        return result

    def insert_arrow(self, table: str, data: pa.Table) -> int:
        if data.num_rows == 0:
            return 0
        columns = ", ".join(self.quote(name) for name in data.column_names)
        with _lock:
            try:
                _insert_python(self._session, self.qualify(table), columns, data)
            except Exception as exc:
                raise WarehouseError(_short(str(exc))) from exc
        return data.num_rows

    def _create_raw_table(self, table: str, sample: Path, file_format: FileFormat) -> None:
        reader = f"file({_sql_string(str(sample.resolve()))}, {_FORMATS[file_format]})"
        self.command(
            f"create table {self.qualify(table)} engine = MergeTree order by tuple() "
            f"as select *, _file from {reader} limit 0"
        )

    def _insert_files(self, table: str, paths: Sequence[Path], file_format: FileFormat) -> None:
        """chdb reads the files itself, all of a folder in one parallel insert."""
        columns = ", ".join(self.quote(column.name) for column in self.columns(table))
        for pattern in _file_patterns(paths):
            reader = f"file({_sql_string(pattern)}, {_FORMATS[file_format]})"
            self.command(
                f"insert into {self.qualify(table)} ({columns}) select {columns} from {reader}"
            )

    def close(self) -> None:
        """Sessions stay open for the life of the process (chdb allows one path each)."""


def _file_patterns(paths: Sequence[Path]) -> list[str]:
    """file() paths covering `paths`: one `{a,b,c}` alternation per folder where the names
    allow it (ClickHouse then reads the files in parallel), else one path per file."""
    special = set("{},*?'\\")
    by_folder: dict[Path, list[str]] = {}
    patterns: list[str] = []
    for path in paths:
        resolved = path.resolve()
        if special & set(str(resolved)):
            patterns.append(str(resolved))
        else:
            by_folder.setdefault(resolved.parent, []).append(resolved.name)
    for folder, names in by_folder.items():
        patterns.append(
            str(folder / names[0]) if len(names) == 1 else f"{folder}/{{{','.join(names)}}}"
        )
    return patterns


def _insert_python(
    session: chdb_session.Session, target: str, columns: str, data: pa.Table
) -> None:
    # chdb's Python() table function finds the Arrow table by its variable name in this frame.
    _herald_rows = data
    session.query(f"insert into {target} ({columns}) select {columns} from Python(_herald_rows)")


def _short(message: str) -> str:
    """The first line of a ClickHouse error, without the stack trace it may carry."""
    first = message.strip().splitlines()[0] if message.strip() else "chdb error"
    for marker in (". Stack trace", ": In scope ", ": While processing "):
        first = first.split(marker)[0]
    return first


def close_all() -> None:
    with _lock:
        for key in list(_open):
            _open.pop(key).close()
