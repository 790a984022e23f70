"""Report assets built in Python (the report marts are SQL models in sql/reports/).

- `profile_ltv_predicted`: every buying profile's predicted 12-month value (BG/NBD with
  Gamma-Gamma), per profile database; eager, so it follows new orders.
"""

import dagster as dg

from assets.resources import WAREHOUSE_POOL, WarehouseResource

LTV_COLUMNS = {
    "database": "The profile database.",
    "profile_id": "The profile.",
    "orders": "Purchase days so far (orders of one day are one purchase).",
    "frequency": "Repeat purchase days (orders - 1).",
    "recency_days": "Days from the first to the last purchase day.",
    "age_days": "Days from the first purchase day to as_of.",
    "monetary_value": "Mean value of the repeat purchase days (0 without repeat purchases).",
    "probability_alive": "Probability that the customer still buys (BG/NBD).",
    "expected_purchases_12m": "Expected purchase days in the next 12 months (BG/NBD).",
    "expected_order_value": "Expected value of a purchase (Gamma-Gamma).",
    "predicted_ltv_12m": "expected_purchases_12m x expected_order_value.",
    "as_of": "The latest paid order of the database: predictions start there.",
}


def build_report_assets(kind: str = "duckdb") -> list[dg.AssetsDefinition]:
    @dg.asset(
        name="profile_ltv_predicted",
        group_name="reports",
        deps=["segment_inputs"],
        kinds={kind, "python"},
        pool=WAREHOUSE_POOL,
        automation_condition=dg.AutomationCondition.eager(),
        description=(
            "Predicted 12-month lifetime value per profile (BG/NBD purchases x Gamma-Gamma "
            "order value), fitted per profile database on its paid orders."
        ),
        metadata={
            "dagster/column_schema": dg.TableSchema(
                columns=[
                    dg.TableColumn(name=name, description=text)
                    for name, text in LTV_COLUMNS.items()
                ]
            )
        },
    )
    def profile_ltv_predicted(warehouse: WarehouseResource) -> dg.MaterializeResult:
        from herald.reports.predicted import build_predicted_ltv

        with warehouse.open() as connection:
            report = build_predicted_ltv(connection)
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": report["rows"],
                "databases": dg.MetadataValue.json(report["databases"]),
                "duration_s": report["seconds"],
            }
        )

    return [profile_ltv_predicted]
