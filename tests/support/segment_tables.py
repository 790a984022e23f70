"""A computed segment written straight into a warehouse, for reports narrowed to a segment."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from herald.warehouse.base import Warehouse


def write_segment(warehouse: Warehouse, segment: str, profile_ids: list[str]) -> None:
    """`segment_members` and `segment_sizes` as a refresh leaves them (one segment)."""
    now = datetime(2026, 11, 1, tzinfo=UTC).replace(tzinfo=None)
    members = pa.table(
        {
            "segment_id": [segment] * len(profile_ids),
            "profile_id": profile_ids,
            "since": pa.array([now] * len(profile_ids), pa.timestamp("ms")),
        }
    )
    sizes = pa.table(
        {
            "segment_id": [segment],
            "computed_at": pa.array([now], pa.timestamp("ms")),
            "members": [len(profile_ids)],
        }
    )
    for name, table in (("segment_members", members), ("segment_sizes", sizes)):
        warehouse.drop(name)
        warehouse.create_table_from_arrow_schema(name, table.schema)
        warehouse.insert_arrow(name, table)
