"""Refreshing segments by name, in dependency order (what the `segment_members` asset runs),
and deciding which scheduled segments are due."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from croniter import croniter
from sqlalchemy import Engine

from herald.profiles.databases import get_database
from herald.segments.catalog import (
    SegmentInfo,
    UnknownSegment,
    get_segment,
    list_entries,
    refresh_order,
)
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
    reports = []
    for segment in refresh_order(segments):
        if segment.database not in schemas:
            schemas[segment.database] = get_database(store, segment.database).schema
        entries = list_entries(store, segment.name) if segment.kind == "static" else []
        report = refresh_segment(
            warehouse, segment, schemas[segment.database], as_of=as_of, entries=entries
        )
        if log is not None:
            log(
                f"segment {segment.name}: {report['members']} members "
                f"(+{report['entered']} -{report['left']}) in {report['seconds']} s"
            )
        reports.append(report)
    return reports


def due_segments(segments: Sequence[SegmentInfo], since: datetime, now: datetime) -> list[str]:
    """Dynamic segments whose `refresh` cron fired after `since` and by `now` (UTC)."""
    due = []
    for segment in segments:
        if segment.kind != "dynamic" or not segment.refresh:
            continue
        following = croniter(segment.refresh, since).get_next(datetime)
        if following <= now:
            due.append(segment.name)
    return due
