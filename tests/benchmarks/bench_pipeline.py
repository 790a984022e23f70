"""Whole-pipeline and per-model benchmark on one engine, run in its own process.

    python -m tests.benchmarks.bench_pipeline --home DIR --engine duckdb|chdb

1. Materialises every asset through Dagster in-process (`herald materialize`), timing the
   whole run — landing loads, every model, every check — and reading each asset's own time.
2. Then, per table model, side by side and alternating: Herald rebuilding the model
   (render, build, atomic swap, row count) against the raw engine running the same rendered
   SQL as one CREATE TABLE ... AS statement on a connection it already holds. The ratio
   ours / raw is Herald's overhead. Each is timed `--repeat` times; medians are reported.
Prints one JSON document; peak RSS is this process's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time
from pathlib import Path
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--engine", choices=["duckdb", "chdb"], required=True)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    home = args.home.resolve()
    os.environ["HERALD_HOME"] = str(home)
    warehouse_url = (
        f"duckdb://{home / 'bench.duckdb'}"
        if args.engine == "duckdb"
        else f"chdb://{home / 'bench-chdb'}"
    )
    os.environ["HERALD_WAREHOUSE"] = warehouse_url

    from herald.models.build import model_order, target_of
    from herald.models.materialize import materialize_model
    from herald.models.project import SqlProject
    from herald.models.render import Renderer
    from herald.settings import load_settings
    from herald.warehouse import open_warehouse
    from pipelines.run import materialize

    settings = load_settings()
    started = time.perf_counter()
    outcome = materialize(settings)
    pipeline_seconds = time.perf_counter() - started
    if not outcome.success:
        raise SystemExit(f"pipeline failed: {[a.error for a in outcome.assets if a.error]}")

    project = SqlProject.load()
    warehouse = open_warehouse(settings)
    renderer = Renderer(project, target_of(warehouse))
    raw = RawEngine(args.engine, warehouse)
    models: list[dict[str, Any]] = []
    for name in model_order(project):
        model = project.models[name]
        if model.doc.config.materialized == "view":
            continue
        rendered = renderer.render(model)
        ours: list[float] = []
        theirs: list[float] = []
        for _ in range(args.repeat):
            begin = time.perf_counter()
            raw.create_table_as(f"{name}__raw", rendered.sql, rendered.config.order_by)
            theirs.append(time.perf_counter() - begin)
            begin = time.perf_counter()
            run = materialize_model(warehouse, renderer, model, full_refresh=True)
            ours.append(time.perf_counter() - begin)
        raw.drop(f"{name}__raw")
        models.append(
            {
                "model": name,
                "rows": run.rows,
                "herald_s": round(statistics.median(ours), 4),
                "raw_engine_s": round(statistics.median(theirs), 4),
                "ratio": round(statistics.median(ours) / statistics.median(theirs), 3),
            }
        )
    raw.close()
    assets = [
        {"asset": asset.name, "rows": asset.rows, "seconds": asset.seconds}
        for asset in outcome.assets
    ]
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "engine": args.engine,
                "pipeline_seconds": round(pipeline_seconds, 2),
                "assets": assets,
                "models": models,
                "peak_rss_mib": round(peak_kib / 1024, 1),
            }
        )
    )


class RawEngine:
    """The engine's own client, holding one connection, running one CREATE TABLE AS."""

    def __init__(self, engine: str, warehouse: Any) -> None:
        self.engine = engine
        if engine == "duckdb":
            import duckdb

            self.connection = duckdb.connect(str(warehouse.path))
        else:
            self.session = warehouse._session
            self.database = warehouse.database

    def create_table_as(self, table: str, sql: str, order_by: tuple[str, ...]) -> None:
        if self.engine == "duckdb":
            self.connection.execute(f'create or replace table "{table}" as\n{sql}')
        else:
            keys = ", ".join(order_by) or "tuple()"
            self.session.query(
                f"create or replace table `{self.database}`.`{table}` engine = MergeTree "
                f"order by ({keys}) settings allow_nullable_key = 1 as\n{sql}"
            )

    def drop(self, table: str) -> None:
        if self.engine == "duckdb":
            self.connection.execute(f'drop table if exists "{table}"')
        else:
            self.session.query(f"drop table if exists `{self.database}`.`{table}` sync")

    def close(self) -> None:
        if self.engine == "duckdb":
            self.connection.close()


if __name__ == "__main__":
    main()
