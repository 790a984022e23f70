"""Landing files into raw tables: each file appended whole, once.

A file is loaded once: the raw table's `_file` column is the ledger of what is in it, so a
retried run never loads a file twice. A file the engine cannot read is moved to
landing/_rejected/<table>/ with a .reason.txt beside it, and the outcome says so.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from herald.errors import WarehouseError
from herald.models.project import SourceTable
from herald.warehouse import Warehouse


def landing_files(landing_dir: Path, table: SourceTable) -> list[Path]:
    folder = landing_dir / table.name
    suffix = ".csv" if table.format == "csv" else ".parquet"
    return sorted(path for path in folder.glob(f"*{suffix}") if path.is_file())


def loaded_file_names(warehouse: Warehouse, raw_table: str) -> set[str]:
    if not warehouse.exists(raw_table):
        return set()
    rows = warehouse.query_arrow(f"select distinct _file from {warehouse.qualify(raw_table)}")
    return {name for name in rows.column(0).to_pylist() if name}


def ensure_empty_raw_table(warehouse: Warehouse, table: SourceTable) -> None:
    """A source with no files yet still gets its (empty) raw table, so the models over it
    build; that needs its columns declared with types in sources.yml."""
    schema = table.arrow_schema()
    if schema is None:
        raise WarehouseError(
            f"no landing files for {table.name} yet: put some in landing/{table.name}/, or "
            "declare its columns with types in sql/sources.yml"
        )
    warehouse.create_table_from_arrow_schema(
        table.raw_table, schema.append(pa.field("_file", pa.string()))
    )


def rows_per_file(warehouse: Warehouse, raw_table: str, names: list[str]) -> dict[str, int]:
    if not names:
        return {}
    listed = ", ".join("'" + name.replace("'", "''") + "'" for name in names)
    result = warehouse.query_arrow(
        f"select _file, count(*) as n from {warehouse.qualify(raw_table)} "
        f"where _file in ({listed}) group by _file"
    )
    return {row["_file"]: int(row["n"]) for row in result.to_pylist()}


def reject_file(landing_dir: Path, table: SourceTable, path: Path, reason: str) -> Path:
    rejected_dir = landing_dir / "_rejected" / table.name
    rejected_dir.mkdir(parents=True, exist_ok=True)
    destination = rejected_dir / path.name
    shutil.move(str(path), destination)
    destination.with_name(destination.name + ".reason.txt").write_text(reason + "\n", "utf-8")
    return destination


@dataclass
class LandingLoad:
    table: str
    files_loaded: int = 0
    rows_loaded: int = 0
    rejected: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def load_landing(
    warehouse: Warehouse,
    landing_dir: Path,
    table: SourceTable,
    on_loaded: Callable[[Path, int], None] | None = None,
) -> LandingLoad:
    """Load the files not yet in the raw table; return what happened, for metadata."""
    started = time.perf_counter()
    already = loaded_file_names(warehouse, table.raw_table)
    new_files = [path for path in landing_files(landing_dir, table) if path.name not in already]
    rejected: dict[str, str] = {}
    loaded: list[Path] = []
    try:
        # The fast path: every new file in one load, which the engine does atomically.
        warehouse.load_files(table.raw_table, new_files, table.format)
        loaded = new_files
    except WarehouseError:
        # Some file is bad: load them one by one to find it, keeping the good ones.
        for path in new_files:
            try:
                warehouse.load_files(table.raw_table, [path], table.format)
            except WarehouseError as exc:
                rejected[path.name] = str(exc)
                reject_file(landing_dir, table, path, str(exc))
            else:
                loaded.append(path)
    if not warehouse.exists(table.raw_table):
        ensure_empty_raw_table(warehouse, table)
    rows_by_file = rows_per_file(warehouse, table.raw_table, [path.name for path in loaded])
    for path in loaded:
        if on_loaded is not None:
            on_loaded(path, rows_by_file.get(path.name, 0))
    rows_loaded = sum(rows_by_file.values())
    return LandingLoad(
        table=table.raw_table,
        files_loaded=len(loaded),
        rows_loaded=rows_loaded,
        rejected=rejected,
        seconds=time.perf_counter() - started,
    )
