"""The `profiles` asset: one profile per customer per profile database (herald.profiles.build)."""

from __future__ import annotations

import time

import dagster as dg

from assets.resources import WAREHOUSE_POOL, StoreResource, WarehouseResource


def build_profiles_asset(kind: str = "duckdb") -> dg.AssetsDefinition:
    """The asset that unifies every profile database's records into profiles; `kind` is the
    warehouse engine (WarehouseResource.kind)."""

    @dg.asset(
        name="profiles",
        group_name="profiles",
        deps=["stg_profiles__records"],
        kinds={kind},
        pool=WAREHOUSE_POOL,
        description=(
            "One profile per customer per profile database: profile_records, "
            "profile_identifiers, profiles and a typed view profiles__<database> each."
        ),
    )
    def profiles(warehouse: WarehouseResource, store: StoreResource) -> dg.MaterializeResult:
        from herald.profiles.build import build_profiles
        from herald.profiles.databases import list_databases
        from herald.profiles.rules import load_rules

        started = time.perf_counter()
        schemas = [database.schema for database in list_databases(store.engine())]
        rules = load_rules(store.engine())
        with warehouse.open() as connection:
            report = build_profiles(connection, schemas, rules=rules)
        databases = report["databases"]
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": report["profiles"],
                "records": report["records"],
                "skipped_records": report["skipped"],
                "profiles_per_database": dg.MetadataValue.json(
                    {name: entry["profiles"] for name, entry in databases.items()}
                ),
                "databases": dg.MetadataValue.json(databases),
                "duration_s": round(time.perf_counter() - started, 3),
            }
        )

    return profiles
