"""Scheduled SQL imports: one Dagster schedule per enabled SQL source in the operational store.

The schedules are read when the definitions load (a new or changed source appears after a
code-location reload). Each one runs the `herald_sql_source_import` job with the source's
name; the job's op reads the new rows into landing files (`run_sql_source`), which the
landing sensor then loads into the warehouse.
"""

from pathlib import Path
from typing import Any

import dagster as dg

from assets.resources import StoreResource, WarehouseResource
from assets.store_schedules import schedules_from_store
from herald.settings import Settings

SQL_SOURCE_JOB = "herald_sql_source_import"
SQL_SOURCE_OP = "sql_source_import"


class SqlSourceRunConfig(dg.Config):
    source: str


@dg.op(name=SQL_SOURCE_OP, tags={"kind": "sql"})
def sql_source_import(
    context: dg.OpExecutionContext,
    config: SqlSourceRunConfig,
    store: StoreResource,
    warehouse: WarehouseResource,
) -> dg.Output[None]:
    """Import the new rows of one SQL source into its profile database's landing files."""
    from herald.imports.sql_source import run_sql_source

    engine = store.engine()
    result = run_sql_source(engine, Path(warehouse.home), config.source)
    outcome = result.outcome
    context.log.info(
        f"SQL source {config.source}: {outcome.received} rows, {outcome.accepted} accepted, "
        f"{outcome.rejected} rejected (import {result.import_id})"
    )
    return dg.Output(
        None,
        metadata={
            "import_id": result.import_id,
            "received": outcome.received,
            "accepted": outcome.accepted,
            "rejected": outcome.rejected,
            "report": str(outcome.rejects_path) if outcome.rejects_path else "",
            "landing_files": len(result.landing_files),
        },
    )


@dg.job(name=SQL_SOURCE_JOB, description="Import the new rows of one SQL source.")
def sql_source_import_job() -> None:
    sql_source_import()


def schedule_name(source: str) -> str:
    return f"sql_source_{source}"


def build_sql_source_schedules(settings: Settings) -> list[dg.ScheduleDefinition]:
    """A running schedule per enabled SQL source; none (and a warning) if the store cannot be
    read, so the definitions still load."""
    from herald.imports.sql_source import list_sql_sources

    def schedule(source: Any) -> dg.ScheduleDefinition:
        return dg.ScheduleDefinition(
            name=schedule_name(source.name),
            cron_schedule=source.schedule,
            job=sql_source_import_job,
            run_config=dg.RunConfig(ops={SQL_SOURCE_OP: SqlSourceRunConfig(source=source.name)}),
            tags={"herald/sql_source": source.name},
            description=(
                f"Import SQL source {source.name} into {source.database} ({source.shown_url})"
            ),
            default_status=dg.DefaultScheduleStatus.RUNNING,
            execution_timezone="UTC",
        )

    return schedules_from_store(
        settings,
        "SQL source",
        lambda engine: list_sql_sources(engine, enabled_only=True),
        schedule,
        lambda source: source.name,
    )
