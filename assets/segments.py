"""Segments in Dagster: the inputs they read, their members (one partition per segment), and
the sensor that keeps the partitions in step with the store and runs scheduled refreshes.

- `segment_inputs`: profiles and activity linked once (herald.segments.inputs); eager, so
  it follows new profiles and new activity.
- `segment_members`: partitioned by segment (dynamic partitions named after segments); a
  run refreshes the partitions it is given, a segment after those it names. Eager: a change
  of the inputs refreshes every segment.
- `segment_sensor`: adds a partition for every new segment (and requests its first
  refresh), removes those of deleted segments, and requests the refresh of segments saved
  or changed since its last tick and of those whose `refresh` cron is due.
"""

import time
import warnings
from datetime import UTC, datetime

import dagster as dg

from assets.resources import WAREHOUSE_POOL, StoreResource, WarehouseResource

SEGMENT_PARTITIONS = dg.DynamicPartitionsDefinition(name="segments")
SEGMENT_JOB = "herald_segment_refresh"
INPUT_DEPS = (
    "profiles",
    "events",
    "orders",
    "order_items",
    "message_events",
    "stg_web__devices",
    "stg_crm__subscriptions",
)


def build_segment_assets(kind: str = "duckdb") -> list[dg.AssetsDefinition]:
    @dg.asset(
        name="segment_inputs",
        group_name="segments",
        deps=list(INPUT_DEPS),
        kinds={kind},
        pool=WAREHOUSE_POOL,
        automation_condition=dg.AutomationCondition.eager(),
        description=(
            "Profiles and their events, orders, message events, devices, subscriptions and "
            "relations linked once, for segments to read."
        ),
    )
    def segment_inputs(warehouse: WarehouseResource, store: StoreResource) -> dg.MaterializeResult:
        from herald.profiles.databases import list_databases
        from herald.segments.inputs import build_inputs
        from herald.segments.store_inputs import relation_rows, subscription_rows

        engine = store.engine()
        databases = [database.name for database in list_databases(engine)]
        with warehouse.open() as connection:
            report = build_inputs(
                connection,
                databases,
                subscriptions=subscription_rows(engine),
                relations=relation_rows(engine),
            )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": sum(report["rows"].values()),
                "rows": dg.MetadataValue.json(report["rows"]),
                "databases": dg.MetadataValue.json(report["databases"]),
                "duration_s": report["seconds"],
            }
        )

    with warnings.catch_warnings():  # backfill_policy is beta in Dagster 1.13
        warnings.simplefilter("ignore", category=dg.BetaWarning)
        segment_members = _segment_members_asset(kind, segment_inputs)
    return [segment_inputs, segment_members]


def _segment_members_asset(kind: str, segment_inputs: dg.AssetsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        name="segment_members",
        group_name="segments",
        deps=[segment_inputs],
        kinds={kind},
        pool=WAREHOUSE_POOL,
        partitions_def=SEGMENT_PARTITIONS,
        backfill_policy=dg.BackfillPolicy.single_run(),
        automation_condition=dg.AutomationCondition.eager(),
        description=(
            "Members of each segment (segment_members), their entries and exits "
            "(segment_membership_changes) and sizes over time (segment_sizes)."
        ),
    )
    def segment_members(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, store: StoreResource
    ) -> dg.MaterializeResult:
        from herald.segments.catalog import list_segments
        from herald.segments.refresh import forget_deleted, refresh_segments

        started = time.perf_counter()
        keys = list(context.partition_keys)
        engine = store.engine()
        with warehouse.open() as connection:
            reports = refresh_segments(
                connection, engine, keys, as_of=datetime.now(UTC), log=context.log.info
            )
            forget_deleted(connection, [segment.name for segment in list_segments(engine)])
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": sum(report["members"] for report in reports),
                "segments": dg.MetadataValue.json(reports),
                "duration_s": round(time.perf_counter() - started, 3),
            }
        )

    return segment_members


segment_refresh_job = dg.define_asset_job(
    SEGMENT_JOB,
    selection=dg.AssetSelection.assets("segment_members"),
    description="Refresh the segments given as partitions.",
)


def build_segment_sensor(store: StoreResource) -> dg.SensorDefinition:
    @dg.sensor(
        name="segment_sensor",
        job=segment_refresh_job,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Keeps one partition per segment; refreshes new segments and those whose "
            "refresh schedule is due."
        ),
    )
    def segment_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        from herald.segments.catalog import list_segments
        from herald.segments.refresh import due_segments

        segments = list_segments(store.engine())
        names = [segment.name for segment in segments]
        known = set(context.instance.get_dynamic_partitions(SEGMENT_PARTITIONS.name or ""))
        new = [name for name in names if name not in known]
        gone = sorted(known - set(names))
        now = datetime.now(UTC)
        since = datetime.fromtimestamp(float(context.cursor), UTC) if context.cursor else now
        due = [name for name in due_segments(segments, since, now) if name not in new]
        requests = [
            dg.RunRequest(run_key=f"{name}:{now.isoformat()}", partition_key=name)
            for name in [*new, *due]
        ]
        partition_requests: list[
            dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest
        ] = []
        if new:
            partition_requests.append(SEGMENT_PARTITIONS.build_add_request(new))
        if gone:
            partition_requests.append(SEGMENT_PARTITIONS.build_delete_request(gone))
        return dg.SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=partition_requests,
            cursor=str(now.timestamp()),
        )

    return segment_sensor
