"""The one Dagster Definitions object: every asset, check, resource, sensor and job."""

from __future__ import annotations

import dagster as dg

from assets.landing import build_landing_assets
from assets.profiles import build_profiles_asset
from assets.reports import build_report_assets
from assets.resources import StoreResource, WarehouseResource
from assets.segment_syncs import build_segment_sync_schedules, segment_sync_job
from assets.segments import build_segment_assets, build_segment_sensor, segment_refresh_job
from assets.sensors import build_landing_sensor
from assets.sql_models import build_model_assets
from assets.sql_sources import build_sql_source_schedules, sql_source_import_job
from herald.models.project import SqlProject
from herald.settings import Settings, load_settings

ALL_ASSETS_JOB = "herald_all"


def build_definitions(
    settings: Settings | None = None, project: SqlProject | None = None
) -> dg.Definitions:
    settings = settings or load_settings()
    project = project or SqlProject.load()
    warehouse = WarehouseResource.from_settings(settings)
    store = StoreResource.from_settings(settings)
    landing_assets = build_landing_assets(project, settings.landing_dir, warehouse.kind)
    model_assets = build_model_assets(project, warehouse.target(), warehouse.kind)
    return dg.Definitions(
        assets=[
            *landing_assets,
            *model_assets,
            build_profiles_asset(warehouse.kind),
            *build_segment_assets(warehouse.kind),
            *build_report_assets(warehouse.kind),
        ],
        schedules=[*build_sql_source_schedules(settings), *build_segment_sync_schedules(settings)],
        jobs=[
            sql_source_import_job,
            segment_refresh_job,
            segment_sync_job,
            dg.define_asset_job(
                ALL_ASSETS_JOB,
                selection=dg.AssetSelection.all() - dg.AssetSelection.assets("segment_members"),
                description="Load new landing files and rebuild every model; segments: "
                "herald_segment_refresh.",
            ),
        ],
        sensors=[
            build_landing_sensor(project, settings.landing_dir, store),
            build_segment_sensor(store),
            dg.AutomationConditionSensorDefinition(
                "herald_automation",
                target=dg.AssetSelection.all(),
                default_status=dg.DefaultSensorStatus.RUNNING,
                minimum_interval_seconds=30,
                description="Rebuilds models eagerly when their inputs change.",
            ),
        ],
        resources={"warehouse": warehouse, "store": store},
    )
