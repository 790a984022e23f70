"""The SQL-model factory: one Dagster asset per model, its yml tests as asset checks."""

import dagster as dg

from assets.resources import WAREHOUSE_POOL, WarehouseResource
from herald.models.materialize import materialize_model, run_data_tests
from herald.models.project import Model, SqlProject
from herald.models.render import RenderedModel, Renderer, Target


def _sql_markdown(sql: str) -> dg.MetadataValue:
    return dg.MetadataValue.md(f"```sql\n{sql}\n```")


def build_model_asset(
    project: SqlProject, model: Model, rendered: RenderedModel, kind: str
) -> dg.AssetsDefinition:
    """`rendered` is the model rendered for the configured engine, shown in the UI."""
    deps = (
        sorted(rendered.refs)
        + sorted(project.source(source, table).raw_table for source, table in rendered.sources)
        + sorted(rendered.assets)
    )
    # A relationships test reads its parent model, so the parent must be built first.
    deps += sorted({test.to for test in model.data_tests if test.to and test.to not in deps})
    check_specs = [
        dg.AssetCheckSpec(test.name, asset=model.name, description=f"{test.kind} test from yml")
        for test in model.data_tests
    ]
    columns = dg.TableSchema(
        columns=[
            dg.TableColumn(name=column.name, description=column.description or None)
            for column in model.doc.columns
        ]
    )

    @dg.asset(
        name=model.name,
        group_name=model.layer,
        deps=deps,
        kinds={kind, "sql"},
        pool=WAREHOUSE_POOL,
        description=model.doc.description or None,
        check_specs=check_specs,
        owners=list(rendered.config.owners) or None,
        automation_condition=dg.AutomationCondition.eager(),
        metadata={
            "sql": _sql_markdown(rendered.sql),
            "materialized": rendered.config.materialized,
            "path": str(model.path.relative_to(project.root.parent)),
            "dagster/column_schema": columns,
        },
    )
    def _build(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        renderer = Renderer(project, warehouse.target())
        with warehouse.open() as connection:
            run = materialize_model(connection, renderer, model)
            outcomes = run_data_tests(connection, renderer, model)
        metadata: dict[str, object] = {
            "duration_s": round(run.seconds, 3),
            "rendered_sql": _sql_markdown(run.sql),
        }
        if run.rows is not None:
            metadata["dagster/row_count"] = run.rows
        return dg.MaterializeResult(
            metadata=metadata,
            check_results=[
                dg.AssetCheckResult(
                    check_name=outcome.test.name,
                    passed=outcome.passed,
                    severity=dg.AssetCheckSeverity.WARN
                    if outcome.test.severity == "warn"
                    else dg.AssetCheckSeverity.ERROR,
                    metadata={"failing_rows": outcome.failures, "sql": _sql_markdown(outcome.sql)},
                )
                for outcome in outcomes
            ],
        )

    return _build


def build_model_assets(project: SqlProject, target: Target, kind: str) -> list[dg.AssetsDefinition]:
    renderer = Renderer(project, target)
    return [
        build_model_asset(project, model, renderer.render(model), kind)
        for model in project.models.values()
    ]
