"""Refreshing segments by name, in dependency order (what the `segment_members` asset runs),
and deciding which scheduled segments are due."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from croniter import croniter
from sqlalchemy import Engine

from herald.models.project import SqlProject
from herald.profiles.databases import get_database
from herald.segments.catalog import (
    SegmentInfo,
    UnknownSegment,
    get_segment,
    list_entries,
    refresh_order,
)
from herald.segments.compiler import SEGMENT_MEMBERS, SegmentCompiler
from herald.segments.materialize import refresh_segment
from herald.warehouse.base import Warehouse


def refresh_segments(
    warehouse: Warehouse,
    store: Engine,
    names: Sequence[str],
    *,
    as_of: datetime,
    log: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Refresh the named segments (a segment after the segments it names); a name no
    longer in the store is skipped."""
    segments = []
    for name in dict.fromkeys(names):
        try:
            segments.append(get_segment(store, name))
        except UnknownSegment:
            continue
    schemas: dict[str, Any] = {}
    compilers: dict[str, SegmentCompiler] = {}
    project = SqlProject.load()
    reports = []
    for segment in refresh_order(segments):
        if segment.database not in schemas:
            schemas[segment.database] = get_database(store, segment.database).schema
            compilers[segment.database] = SegmentCompiler(
                warehouse, schemas[segment.database], as_of=as_of, project=project
            )
        entries = list_entries(store, segment.name) if segment.kind == "static" else []
        report = refresh_segment(
            warehouse,
            segment,
            schemas[segment.database],
            as_of=as_of,
            entries=entries,
            compiler=compilers[segment.database],
        )
        if log is not None:
            log(
                f"segment {segment.name}: {report['members']} members "
                f"(+{report['entered']} -{report['left']}) in {report['seconds']} s"
            )
        reports.append(report)
    return reports


def forget_deleted(warehouse: Warehouse, names: Sequence[str]) -> list[str]:
    """Empty `segment_members` of segments no longer in the store (their history in
    segment_membership_changes and segment_sizes stays); returns their names."""
    if not warehouse.exists(SEGMENT_MEMBERS):
        return []
    table = warehouse.qualify(SEGMENT_MEMBERS)
    present = warehouse.query_arrow(f"select distinct segment_id from {table}").column(0)
    gone = sorted(set(present.to_pylist()) - set(names))
    for name in gone:
        warehouse.replace_partition(
            SEGMENT_MEMBERS, "segment_id", name, f"select * from {table} where 1 = 0"
        )
    return gone


def due_segments(segments: Sequence[SegmentInfo], since: datetime, now: datetime) -> list[str]:
    """Segments to refresh between `since` and `now` (UTC): those saved or whose list changed
    in that time, and dynamic ones whose `refresh` cron fired in it."""
    due = []
    for segment in segments:
        if since < segment.updated_at <= now:
            due.append(segment.name)
            continue
        if segment.kind != "dynamic" or not segment.refresh:
            continue
        following = croniter(segment.refresh, since).get_next(datetime)
        if following <= now:
            due.append(segment.name)
    return due
