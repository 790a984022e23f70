"""`profile_ltv_predicted` on both engines: one row per buying profile of each database,
fitted per database; a database that cannot carry a fit gets no rows and a reason."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from herald.reports.predicted import SCHEMA, TABLE, build_predicted_ltv
from herald.warehouse.base import Warehouse

ORDERS = pa.schema(
    [
        ("database", pa.string()),
        ("profile_id", pa.string()),
        ("order_id", pa.string()),
        ("created_at", pa.timestamp("ms")),
        ("status", pa.string()),
        ("total", pa.float64()),
        ("promo_code", pa.string()),
        ("channel", pa.string()),
    ]
)


def simulated_orders(database: str, customers: int, seed: int) -> list[dict[str, object]]:
    """Customers buying as Poisson processes with random rates, some stopping early."""
    rng = np.random.default_rng(seed)
    start = dt.datetime(2025, 1, 1)
    rows: list[dict[str, object]] = []
    for customer in range(customers):
        rate = rng.gamma(0.8, 1 / 40)  # purchases per day
        lifetime = rng.exponential(300)
        day = rng.uniform(0, 200)
        while day < min(lifetime, 600):
            rows.append(
                {
                    "database": database,
                    "profile_id": f"{database}-{customer}",
                    "order_id": f"{database}-{customer}-{len(rows)}",
                    "created_at": start + dt.timedelta(days=float(day)),
                    "status": "cancelled" if rng.random() < 0.05 else "delivered",
                    "total": float(rng.gamma(4, 500)),
                    "promo_code": None,
                    "channel": "web",
                }
            )
            day += rng.exponential(1 / rate)
    return rows


def test_each_database_gets_its_own_fit_and_one_row_per_buyer(warehouse: Warehouse) -> None:
    rows = simulated_orders("shop", 600, seed=3) + simulated_orders("tiny", 5, seed=4)
    warehouse.create_table_from_arrow_schema("profile_orders", ORDERS)
    warehouse.insert_arrow("profile_orders", pa.Table.from_pylist(rows, ORDERS))

    report = build_predicted_ltv(warehouse)

    table = warehouse.query_arrow(f"select * from {warehouse.qualify(TABLE)}")
    assert table.schema.names == SCHEMA.names
    paid = {row["profile_id"] for row in rows if row["status"] != "cancelled"}
    shop = [row for row in table.to_pylist() if row["database"] == "shop"]
    assert {row["profile_id"] for row in shop} == {p for p in paid if p.startswith("shop-")}
    assert all(
        np.isfinite(row["predicted_ltv_12m"]) and row["predicted_ltv_12m"] > 0 for row in shop
    )
    assert all(0 < row["probability_alive"] <= 1 for row in shop)
    assert report["databases"]["shop"]["customers"] == len(shop)
    assert "tiny" in report["databases"] and "error" in report["databases"]["tiny"]
    assert not [row for row in table.to_pylist() if row["database"] == "tiny"]


def test_a_rebuild_replaces_the_table(warehouse: Warehouse) -> None:
    warehouse.create_table_from_arrow_schema("profile_orders", ORDERS)
    warehouse.insert_arrow(
        "profile_orders", pa.Table.from_pylist(simulated_orders("shop", 300, seed=5), ORDERS)
    )
    first = build_predicted_ltv(warehouse)["rows"]
    second = build_predicted_ltv(warehouse)["rows"]
    assert first == second == warehouse.row_count(TABLE) > 0
