"""Scheduled segment syncs: one Dagster schedule per enabled segment sync in the store.

The schedules are read when the definitions load (a new or changed sync appears after a
code-location reload). Each one runs the `herald_segment_sync` job with the sync's name; the
job's op reads the segment's members from the warehouse (read-only) and writes the target
table (`run_sync`), which records the outcome on the sync.
"""

from typing import Any

import dagster as dg

from assets.resources import StoreResource, WarehouseResource
from assets.store_schedules import schedules_from_store
from herald.settings import Settings

SEGMENT_SYNC_JOB = "herald_segment_sync"
SEGMENT_SYNC_OP = "segment_sync"


class SegmentSyncRunConfig(dg.Config):
    sync: str


@dg.op(name=SEGMENT_SYNC_OP, tags={"kind": "sql"})
def segment_sync(
    context: dg.OpExecutionContext,
    config: SegmentSyncRunConfig,
    store: StoreResource,
    warehouse: WarehouseResource,
) -> dg.Output[None]:
    """Write one segment sync's members to its target table."""
    from herald.segments.sync import SegmentSyncError, run_sync
    from herald.warehouse import open_warehouse

    try:
        with open_warehouse(warehouse.parsed, read_only=True) as reader:
            result = run_sync(store.engine(), reader, config.sync)
    except SegmentSyncError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    counts = result.counts
    context.log.info(
        f"segment sync {config.sync}: {counts.inserted} inserted, {counts.updated} updated, "
        f"{counts.deleted} deleted, {counts.total} rows in {result.table}"
    )
    return dg.Output(None, metadata=result.public())


@dg.job(name=SEGMENT_SYNC_JOB, description="Write one segment's members to its sync target.")
def segment_sync_job() -> None:
    segment_sync()


def schedule_name(sync: str) -> str:
    return f"segment_sync_{sync}"


def build_segment_sync_schedules(settings: Settings) -> list[dg.ScheduleDefinition]:
    """A running schedule per enabled segment sync; none (and a warning) if the store cannot
    be read, so the definitions still load."""
    from herald.segments.sync import list_segment_syncs

    def schedule(sync: Any) -> dg.ScheduleDefinition:
        return dg.ScheduleDefinition(
            name=schedule_name(sync.name),
            cron_schedule=sync.schedule,
            job=segment_sync_job,
            run_config=dg.RunConfig(ops={SEGMENT_SYNC_OP: SegmentSyncRunConfig(sync=sync.name)}),
            tags={"herald/segment_sync": sync.name, "herald/segment": sync.segment},
            description=(
                f"Write segment {sync.segment} to {sync.table} of {sync.shown_url} ({sync.mode})"
            ),
            default_status=dg.DefaultScheduleStatus.RUNNING,
            execution_timezone="UTC",
        )

    return schedules_from_store(
        settings,
        "segment sync",
        lambda engine: list_segment_syncs(engine, enabled_only=True),
        schedule,
        lambda sync: sync.name,
    )
