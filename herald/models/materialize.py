"""Running one model on a warehouse: view, table or incremental, then its data tests."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from herald.models.data_tests import TestOutcome, failing_rows_sql
from herald.models.project import Model
from herald.models.render import Renderer
from herald.warehouse.base import TableOptions, Warehouse


@dataclass
class ModelRun:
    name: str
    materialized: str
    sql: str
    seconds: float
    rows: int | None
    tests: list[TestOutcome] = field(default_factory=list)


def materialize_model(
    warehouse: Warehouse, renderer: Renderer, model: Model, *, full_refresh: bool = False
) -> ModelRun:
    """Build one model in place. Views get no row count (counting would run the view)."""
    started = time.perf_counter()
    config = model.doc.config
    incremental = (
        config.materialized == "incremental" and not full_refresh and warehouse.exists(model.name)
    )
    rendered = renderer.render(model, is_incremental=incremental)
    config = rendered.config
    options = TableOptions(
        order_by=config.order_by, engine=config.engine, partition_by=config.partition_by
    )
    if config.materialized == "view":
        warehouse.create_view_as(model.name, rendered.sql)
    elif not incremental:
        warehouse.create_table_as(model.name, rendered.sql, options)
    elif config.incremental_strategy == "merge":
        warehouse.upsert_select(model.name, rendered.sql, config.unique_key)
    else:
        warehouse.insert_select(model.name, rendered.sql)
    rows = None if config.materialized == "view" else warehouse.row_count(model.name)
    return ModelRun(
        name=model.name,
        materialized=config.materialized,
        sql=rendered.sql,
        seconds=time.perf_counter() - started,
        rows=rows,
    )


def run_data_tests(warehouse: Warehouse, renderer: Renderer, model: Model) -> list[TestOutcome]:
    outcomes = []
    for test in model.data_tests:
        sql = failing_rows_sql(test, model.name, renderer.target)
        failures = int(warehouse.scalar(sql) or 0)
        outcomes.append(TestOutcome(test, failures, sql))
    return outcomes
