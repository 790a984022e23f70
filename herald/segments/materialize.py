"""Computing a segment's members into the public tables.

    report = refresh_segment(warehouse, segment, schema, as_of=now, entries=list_entries(...))

Public tables (partitioned by segment on ClickHouse; a refresh replaces one segment's part
atomically):

- `segment_membership_changes` (segment_id, profile_id, entered_at, left_at): one row per
  spell of membership; an open spell (`left_at` NULL) is a current member. Triggers read
  who entered or left since a time;
- `segment_members` (segment_id, profile_id, since): the open spells, `since` = entered_at;
- `segment_sizes` (segment_id, computed_at, version, members, entered, left, seconds):
  appended by every refresh;
- `segment_snapshots` (segment_id, profile_id): what a frozen segment froze.

A dynamic segment's members are its compiled query; a static segment's are its snapshot (a
frozen segment copies its source's members at its first refresh) plus the profiles added by
hand, less those removed, among the profiles that exist (an alias counts as its profile).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from herald.profiles.schema import ProfileSchema
from herald.segments.catalog import SegmentInfo
from herald.segments.compiler import SEGMENT_MEMBERS, SegmentCompiler
from herald.segments.inputs import PROFILE_ALIASES, segment_profiles_table
from herald.warehouse.base import TableOptions, Warehouse

MEMBERSHIP_CHANGES = "segment_membership_changes"
SEGMENT_SIZES = "segment_sizes"
SEGMENT_SNAPSHOTS = "segment_snapshots"

_PARTITIONED = TableOptions(order_by=("segment_id", "profile_id"), partition_by="segment_id")


def _types(dialect: str) -> dict[str, str]:
    if dialect == "clickhouse":
        return {
            "key": "String",
            "text": "Nullable(String)",
            "time": "DateTime64(6, 'UTC')",
            "maybe_time": "Nullable(DateTime64(6, 'UTC'))",
            "int": "Int64",
            "float": "Float64",
        }
    return {
        "key": "varchar",
        "text": "varchar",
        "time": "timestamp",
        "maybe_time": "timestamp",
        "int": "bigint",
        "float": "double",
    }


_TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    SEGMENT_MEMBERS: (("segment_id", "key"), ("profile_id", "key"), ("since", "time")),
    MEMBERSHIP_CHANGES: (
        ("segment_id", "key"),
        ("profile_id", "key"),
        ("entered_at", "time"),
        ("left_at", "maybe_time"),
    ),
    SEGMENT_SNAPSHOTS: (("segment_id", "key"), ("profile_id", "key")),
    SEGMENT_SIZES: (
        ("segment_id", "key"),
        ("computed_at", "time"),
        ("version", "int"),
        ("members", "int"),
        ("entered", "int"),
        ("left", "int"),
        ("seconds", "float"),
    ),
}


def ensure_tables(warehouse: Warehouse) -> None:
    """Create the public segment tables that do not exist yet (empty)."""
    existing = {info.name for info in warehouse.list_tables()}
    types = _types(warehouse.dialect)
    for table, columns in _TABLES.items():
        if table in existing:
            continue
        parts = ", ".join(
            f"cast({_zero(kind)} as {types[kind]}) as {warehouse.quote(name)}"
            for name, kind in columns
        )
        options = (
            TableOptions(order_by=("segment_id", "computed_at"))
            if table == SEGMENT_SIZES
            else _PARTITIONED
        )
        warehouse.create_table_as(table, f"select {parts} where 1 = 0", options)


def _zero(kind: str) -> str:
    return {
        "key": "''",
        "text": "null",
        "time": "'2000-01-01 00:00:00'",
        "maybe_time": "null",
        "int": "0",
        "float": "0",
    }[kind]


def _work_name(segment: str, what: str) -> str:
    return f"_segment_{what}_{re.sub(r'[^a-z0-9_]', '_', segment)}"


def refresh_segment(
    warehouse: Warehouse,
    segment: SegmentInfo,
    schema: ProfileSchema,
    *,
    as_of: datetime | None = None,
    entries: Sequence[tuple[str, bool]] = (),
    compiler: SegmentCompiler | None = None,
) -> dict[str, Any]:
    """Recompute one segment and replace its part of the public tables; returns counts."""
    with warehouse.held():
        return _refresh(warehouse, segment, schema, as_of, entries, compiler)


def _refresh(
    warehouse: Warehouse,
    segment: SegmentInfo,
    schema: ProfileSchema,
    as_of: datetime | None,
    entries: Sequence[tuple[str, bool]],
    compiler: SegmentCompiler | None,
) -> dict[str, Any]:
    started = time.perf_counter()
    as_of = (as_of or datetime.now(UTC)).astimezone(UTC)
    ensure_tables(warehouse)
    work = _work_name(segment.name, "members")
    if segment.kind == "dynamic":
        compiler = compiler or SegmentCompiler(warehouse, schema, as_of=as_of)
        members_sql = compiler.members_sql(segment.definition)
    else:
        members_sql = _static_members_sql(warehouse, segment, entries)
    warehouse.create_table_as(work, members_sql, TableOptions(order_by=("profile_id",)))
    try:
        counts = _apply(warehouse, segment.name, work, as_of)
    finally:
        warehouse.drop(work)
        warehouse.drop(_work_name(segment.name, "entries"))
    seconds = round(time.perf_counter() - started, 3)
    row = {
        "segment_id": segment.name,
        "computed_at": as_of,
        "version": segment.version,
        "members": counts["members"],
        "entered": counts["entered"],
        "left": counts["left"],
        "seconds": seconds,
    }
    warehouse.insert_arrow(SEGMENT_SIZES, _sizes_row(row))
    return {**row, "computed_at": as_of.isoformat()}


def _apply(warehouse: Warehouse, segment: str, work: str, as_of: datetime) -> dict[str, int]:
    q = warehouse.qualify
    key = warehouse.literal(segment)
    moment = _timestamp(warehouse, as_of)
    open_spells = (
        f"select profile_id, entered_at from {q(MEMBERSHIP_CHANGES)} "
        f"where segment_id = {key} and left_at is null"
    )
    counts = warehouse.query_arrow(
        f"""select
    (select count(*) from {q(work)}) as members,
    (select count(*) from {q(work)} where profile_id not in
        (select profile_id from ({open_spells}) as o)) as entered,
    (select count(*) from ({open_spells}) as o where profile_id not in
        (select profile_id from {q(work)})) as left_"""
    ).to_pylist()[0]
    types = _types(warehouse.dialect)
    no_time = f"cast(null as {types['maybe_time']})"
    changes = f"""select segment_id, profile_id, entered_at, left_at from {q(MEMBERSHIP_CHANGES)}
where segment_id = {key} and left_at is not null
union all
select segment_id, profile_id, entered_at,
    case when profile_id in (select profile_id from {q(work)}) then {no_time}
         else cast({moment} as {types["maybe_time"]}) end as left_at
from {q(MEMBERSHIP_CHANGES)} where segment_id = {key} and left_at is null
union all
select cast({key} as {types["key"]}) as segment_id,
    cast(profile_id as {types["key"]}) as profile_id,
    cast({moment} as {types["time"]}) as entered_at, {no_time} as left_at
from {q(work)} where profile_id not in (select profile_id from ({open_spells}) as o)"""
    # The changes are the truth; the members are their open spells.
    warehouse.replace_partition(MEMBERSHIP_CHANGES, "segment_id", segment, changes)
    warehouse.replace_partition(
        SEGMENT_MEMBERS,
        "segment_id",
        segment,
        f"select segment_id, profile_id, entered_at as since from {q(MEMBERSHIP_CHANGES)} "
        f"where segment_id = {key} and left_at is null",
    )
    return {
        "members": int(counts["members"]),
        "entered": int(counts["entered"]),
        "left": int(counts["left_"]),
    }


def _static_members_sql(
    warehouse: Warehouse, segment: SegmentInfo, entries: Sequence[tuple[str, bool]]
) -> str:
    q = warehouse.qualify
    key = warehouse.literal(segment.name)
    if segment.frozen_from is not None:
        _freeze_once(warehouse, segment)
    table = _work_name(segment.name, "entries")
    data = pa.table(
        {
            "profile_id": pa.array([entry[0] for entry in entries], pa.string()),
            "included": pa.array([1 if entry[1] else 0 for entry in entries], pa.int64()),
        }
    )
    types = _types(warehouse.dialect)
    warehouse.create_table_as(
        table,
        f"select cast('' as {types['key']}) as profile_id, cast(0 as {types['int']}) as included "
        "where 1 = 0",
        TableOptions(order_by=("profile_id",)),
    )
    if entries:
        warehouse.insert_arrow(table, data)
    base = q(segment_profiles_table(segment.database))
    live = _live_ids(
        warehouse, segment.database, f"select profile_id from {q(table)} where included = 1"
    )
    removed = _live_ids(
        warehouse, segment.database, f"select profile_id from {q(table)} where included = 0"
    )
    return f"""select p.profile_id as profile_id from {base} as p
where (p.profile_id in (select profile_id from {q(SEGMENT_SNAPSHOTS)} where segment_id = {key})
    or p.profile_id in ({live}))
  and p.profile_id not in ({removed})"""


def _live_ids(warehouse: Warehouse, database: str, ids_sql: str) -> str:
    """The live profile ids of the given ids (an alias becomes its profile)."""
    existing = {info.name for info in warehouse.list_tables()}
    if PROFILE_ALIASES not in existing:
        return ids_sql
    aliases = warehouse.qualify(PROFILE_ALIASES)
    return (
        f"select profile_id from ({ids_sql}) as given_ids union all "
        f"select a.profile_id from {aliases} as a where a.database = "
        f"{warehouse.literal(database)} and a.alias_id in ({ids_sql})"
    )


def _freeze_once(warehouse: Warehouse, segment: SegmentInfo) -> None:
    key = warehouse.literal(segment.name)
    q = warehouse.qualify
    taken = warehouse.scalar(f"select count(*) from {q(SEGMENT_SIZES)} where segment_id = {key}")
    if taken:
        return
    source = warehouse.literal(segment.frozen_from or "")
    types = _types(warehouse.dialect)
    warehouse.replace_partition(
        SEGMENT_SNAPSHOTS,
        "segment_id",
        segment.name,
        f"select cast({key} as {types['key']}) as segment_id, profile_id "
        f"from {q(SEGMENT_MEMBERS)} where segment_id = {source}",
    )


def _timestamp(warehouse: Warehouse, moment: datetime) -> str:
    text = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if warehouse.dialect == "clickhouse":
        return f"toDateTime64('{text}', 6, 'UTC')"
    return f"cast('{text}' as timestamp)"


def _sizes_row(row: dict[str, Any]) -> pa.Table:
    return pa.table(
        {
            "segment_id": pa.array([row["segment_id"]], pa.string()),
            "computed_at": pa.array([row["computed_at"]], pa.timestamp("us", tz="UTC")),
            "version": pa.array([row["version"]], pa.int64()),
            "members": pa.array([row["members"]], pa.int64()),
            "entered": pa.array([row["entered"]], pa.int64()),
            "left": pa.array([row["left"]], pa.int64()),
            "seconds": pa.array([row["seconds"]], pa.float64()),
        }
    )
