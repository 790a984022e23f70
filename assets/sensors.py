"""The landing sensor: requests a load of each raw table whose landing folder has new files.

"New" means neither in the operational store's import history (what loads recorded) nor
already requested by this sensor (its cursor), so a file is requested once, and files that
`herald materialize` loaded before the daemon started are not requested again.
"""

import json
from pathlib import Path

import dagster as dg

from assets.resources import StoreResource
from herald.landing import landing_files
from herald.models.project import SqlProject
from herald.store import loaded_files


def build_landing_sensor(
    project: SqlProject, landing_dir: Path, store: StoreResource
) -> dg.SensorDefinition:
    tables = list(project.sources.values())

    @dg.sensor(
        name="landing_sensor",
        minimum_interval_seconds=30,
        asset_selection=[table.raw_table for table in tables],
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Loads new files dropped under landing/<table>/ into raw_<table>.",
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        requested: dict[str, list[str]] = json.loads(context.cursor) if context.cursor else {}
        engine = store.engine()
        changed: list[str] = []
        pruned = False
        for table in tables:
            loaded = {name for name, _ in loaded_files(engine, table.name)}
            present = {path.name for path in landing_files(landing_dir, table)}
            requested_before = set(requested.get(table.name, []))
            # The cursor keeps only requests still waiting: not loaded, still in the folder
            # (a tracker drops a file every few seconds; the cursor must not grow forever).
            pending = (requested_before - loaded) & present
            if pending != requested_before:
                requested[table.name] = sorted(pending)
                pruned = True
            new = sorted(present - loaded - pending)
            if new:
                changed.append(table.raw_table)
                requested[table.name] = sorted(pending | set(new))
        if not changed:
            if pruned:
                return dg.SensorResult(cursor=json.dumps(requested))
            return dg.SkipReason("no new landing files")
        return dg.SensorResult(
            run_requests=[dg.RunRequest(asset_selection=[dg.AssetKey(key) for key in changed])],
            cursor=json.dumps(requested),
        )

    return _sensor
