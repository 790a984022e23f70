"""Landing loaders: one asset per source table appends new landing files to raw_<table>."""

from pathlib import Path

import dagster as dg

from assets.resources import WAREHOUSE_POOL, StoreResource, WarehouseResource
from herald.landing import load_landing
from herald.models.project import SourceTable, SqlProject
from herald.store import LandingFileAlreadyLoaded, record_loaded_file


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
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, store: StoreResource
    ) -> dg.MaterializeResult:
        def remember(path: Path, rows: int) -> None:
            """Keep the import history in the operational store (the warehouse's `_file`
            column decides what is loaded; this is what people read)."""
            stat = path.stat()
            try:
                record_loaded_file(
                    store.engine(),
                    table.name,
                    path.name,
                    f"{stat.st_size}-{stat.st_mtime_ns}",
                    size_bytes=stat.st_size,
                    rows=rows,
                    run_id=context.run.run_id,
                )
            except LandingFileAlreadyLoaded:
                context.log.info(f"{path.name} was loaded before (the warehouse was rebuilt)")

        with warehouse.open() as connection:
            outcome = load_landing(connection, landing_dir, table, on_loaded=remember)
            if outcome.rejected:
                context.log.error(f"rejected landing files: {outcome.rejected}")
            rows = (
                connection.row_count(table.raw_table) if connection.exists(table.raw_table) else 0
            )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": rows,
                "rows_loaded": outcome.rows_loaded,
                "files_loaded": outcome.files_loaded,
                "files_rejected": len(outcome.rejected),
                "rejected": dg.MetadataValue.json(outcome.rejected),
                "duration_s": round(outcome.seconds, 3),
            }
        )

    return _load


def build_landing_assets(
    project: SqlProject, landing_dir: Path, kind: str
) -> list[dg.AssetsDefinition]:
    return [build_landing_asset(table, landing_dir, kind) for table in project.sources.values()]
