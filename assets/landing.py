"""Landing loaders: one asset per source table appends new landing files to raw_<table>.

A file is loaded once, whole: the raw table's `_file` column is the ledger of what is in it,
so a retried run never loads a file twice. A file the engine cannot read is moved to
landing/_rejected/<table>/ with a .reason.txt beside it, and the run says so.
"""

import shutil
import time
from pathlib import Path

import dagster as dg

from assets.resources import WAREHOUSE_POOL, WarehouseResource
from herald.errors import WarehouseError
from herald.models.project import SourceTable, SqlProject
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


def reject_file(landing_dir: Path, table: SourceTable, path: Path, reason: str) -> Path:
    rejected_dir = landing_dir / "_rejected" / table.name
    rejected_dir.mkdir(parents=True, exist_ok=True)
    destination = rejected_dir / path.name
    shutil.move(str(path), destination)
    destination.with_name(destination.name + ".reason.txt").write_text(reason + "\n", "utf-8")
    return destination


def load_landing(warehouse: Warehouse, landing_dir: Path, table: SourceTable) -> dict[str, object]:
    """Load the files not yet in the raw table; return what happened, for metadata."""
    started = time.perf_counter()
    already = loaded_file_names(warehouse, table.raw_table)
    new_files = [path for path in landing_files(landing_dir, table) if path.name not in already]
    rows_loaded = 0
    rejected: dict[str, str] = {}
    for path in new_files:
        try:
            rows_loaded += warehouse.load_files(table.raw_table, [path], table.format)
        except WarehouseError as exc:
            rejected[path.name] = str(exc)
            reject_file(landing_dir, table, path, str(exc))
    return {
        "files_loaded": len(new_files) - len(rejected),
        "files_rejected": len(rejected),
        "rejected": rejected,
        "rows_loaded": rows_loaded,
        "seconds": round(time.perf_counter() - started, 3),
    }


def build_landing_asset(table: SourceTable, landing_dir: Path, kind: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=table.raw_table,
        group_name="landing",
        kinds={kind, "parquet" if table.format == "parquet" else "csv"},
        pool=WAREHOUSE_POOL,
        description=f"{table.description}\n\nAppends new files from `landing/{table.name}/`.",
        metadata={"landing_dir": str(landing_dir / table.name), "format": table.format},
    )
    def _load(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        with warehouse.open() as connection:
            outcome = load_landing(connection, landing_dir, table)
            if outcome["rejected"]:
                context.log.error(f"rejected landing files: {outcome['rejected']}")
            rows = (
                connection.row_count(table.raw_table) if connection.exists(table.raw_table) else 0
            )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": rows,
                "rows_loaded": outcome["rows_loaded"],
                "files_loaded": outcome["files_loaded"],
                "files_rejected": outcome["files_rejected"],
                "rejected": dg.MetadataValue.json(outcome["rejected"]),
                "duration_s": outcome["seconds"],
            }
        )

    return _load


def build_landing_assets(
    project: SqlProject, landing_dir: Path, kind: str
) -> list[dg.AssetsDefinition]:
    return [build_landing_asset(table, landing_dir, kind) for table in project.sources.values()]
