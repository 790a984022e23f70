"""The `profile_ltv_predicted` table: every buying profile's predicted value over the next
twelve months (BG/NBD with Gamma-Gamma, herald.reports.ltv), per profile database.

    report = build_predicted_ltv(warehouse)   # {"databases": {name: {...}}, "rows": N}

Input: paid orders (status paid, shipped or delivered) linked to profiles (`profile_orders`,
built by the `segment_inputs` asset). Each database gets its own models, fitted as of its
latest paid order (the end of what the data has seen, so a rebuild of old data predicts from
the same point); a database whose orders cannot carry a fit (too few customers, no repeat
buyers) gets no rows, and the reason is in the report. When the unpenalised fit runs off to a
degenerate corner (a and b of the dropout Beta in the thousands, which happens when dropout
hardly varies between customers) its predictions overflow; the fit is then repeated with the
smallest L2 penalizer of PENALIZERS that gives finite values, and the one used is reported. The
table is built under a temporary
name and put in place in one swap, so readers never see half of it.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from herald.reports.ltv import (
    LTV_SCHEMA,
    CustomerSummary,
    LtvError,
    LtvPrediction,
    predict_ltv,
    summarize,
)
from herald.warehouse.base import Warehouse

TABLE = "profile_ltv_predicted"
PAID_STATUSES = ("paid", "shipped", "delivered")
PENALIZERS = (0.0, 0.0001, 0.001, 0.01)
SCHEMA = pa.schema(
    [
        pa.field("database", pa.string()),
        *LTV_SCHEMA,
        pa.field("as_of", pa.timestamp("ms")),
    ]
)


def build_predicted_ltv(warehouse: Warehouse, horizon_days: float = 365.0) -> dict[str, Any]:
    started = time.perf_counter()
    statuses = ", ".join(warehouse.literal(status) for status in PAID_STATUSES)
    orders = warehouse.query_arrow(
        "select database, profile_id, created_at, total "
        f"from {warehouse.qualify('profile_orders')} "
        f"where status in ({statuses}) and total is not null and created_at is not null"
    )
    databases: dict[str, dict[str, Any]] = {}
    parts: list[pa.Table] = []
    for database in sorted(set(orders.column("database").to_pylist())):
        mine = orders.filter(pc.equal(orders.column("database"), database))
        purchased_at = _naive_utc(mine.column("created_at"))
        as_of = purchased_at.max()
        ids, summary = summarize(
            mine.column("profile_id"), purchased_at, mine.column("total").to_numpy(), as_of
        )
        try:
            prediction, penalizer = _predict(ids, summary, horizon_days)
        except LtvError as exc:
            databases[database] = {"customers": len(summary), "error": str(exc)}
            continue
        table = prediction.table
        table = table.add_column(0, "database", pa.array([database] * table.num_rows, pa.string()))
        table = table.append_column(
            "as_of", pa.array(np.full(table.num_rows, as_of, dtype="datetime64[ms]"))
        )
        parts.append(table.cast(SCHEMA))
        databases[database] = {
            "customers": table.num_rows,
            "as_of": str(as_of.astype("datetime64[s]")),
            "penalizer": penalizer,
            **prediction.metadata(),
        }
    data = pa.concat_tables(parts) if parts else SCHEMA.empty_table()
    _publish(warehouse, data)
    return {
        "rows": data.num_rows,
        "databases": databases,
        "seconds": round(time.perf_counter() - started, 3),
    }


def _predict(
    ids: pa.Array, summary: CustomerSummary, horizon_days: float
) -> tuple[LtvPrediction, float]:
    for penalizer in PENALIZERS:
        try:
            with np.errstate(all="ignore"):
                prediction = predict_ltv(
                    ids, summary, horizon_days=horizon_days, penalizer=penalizer
                )
            return prediction, penalizer
        except LtvError as exc:
            if "non-finite" not in str(exc) or penalizer == PENALIZERS[-1]:
                raise
    raise AssertionError("unreachable")


def _naive_utc(column: pa.ChunkedArray) -> np.ndarray:
    """Timestamps as numpy datetime64[ms], UTC without a zone (ClickHouse gives them a zone)."""
    values = column.combine_chunks()
    if pa.types.is_timestamp(values.type) and values.type.tz is not None:
        values = values.cast(pa.timestamp(values.type.unit))
    return values.cast(pa.timestamp("ms")).to_numpy(zero_copy_only=False)


def _publish(warehouse: Warehouse, data: pa.Table) -> None:
    staging = f"{TABLE}__new"
    warehouse.drop(staging)
    warehouse.create_table_from_arrow_schema(staging, SCHEMA)
    if data.num_rows:
        warehouse.insert_arrow(staging, data)
    if warehouse.exists(TABLE):
        warehouse.swap(staging, TABLE)
        warehouse.drop(staging)
    else:
        warehouse.rename(staging, TABLE)
