"""The landing sensor: requests a load of each raw table whose landing folder has new files."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg

from herald.landing import landing_files
from herald.models.project import SqlProject


def build_landing_sensor(project: SqlProject, landing_dir: Path) -> dg.SensorDefinition:
    tables = list(project.sources.values())

    @dg.sensor(
        name="landing_sensor",
        minimum_interval_seconds=30,
        asset_selection=[table.raw_table for table in tables],
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Loads new files dropped under landing/<table>/ into raw_<table>.",
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        seen: dict[str, list[str]] = json.loads(context.cursor) if context.cursor else {}
        changed: list[str] = []
        current: dict[str, list[str]] = {}
        for table in tables:
            names = [path.name for path in landing_files(landing_dir, table)]
            current[table.name] = names
            if set(names) - set(seen.get(table.name, [])):
                changed.append(table.raw_table)
        if not changed:
            return dg.SkipReason("no new landing files")
        return dg.SensorResult(
            run_requests=[dg.RunRequest(asset_selection=[dg.AssetKey(key) for key in changed])],
            cursor=json.dumps(current),
        )

    return _sensor
