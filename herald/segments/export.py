"""Exporting a segment: its members with chosen profile fields, as CSV, XLSX or Parquet.

    summary = export_segment(warehouse, "vip", "shop", ["email", "level"], "csv", out)
    # {"segment": "vip", "database": "shop", "format": "csv", "rows": 120, ...}

One row per member (the distinct `profile_id`s of `segment_members` for the segment), joined
with the typed profile view `profiles__<database>`; `profile_id` comes first, then the fields
in the order asked (all fields when none are asked). A member whose profile is gone from the
view keeps its row, with empty fields. The file is written by `herald.profiles.export`, so
it is safe to open in a spreadsheet.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from herald.errors import HeraldError
from herald.i18n import N_
from herald.profiles.build import view_name
from herald.profiles.export import ExportFormat, export_profiles
from herald.segments.catalog import get_segment
from herald.warehouse import Warehouse

if TYPE_CHECKING:
    from sqlalchemy import Engine

MEMBERS_TABLE = "segment_members"
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("csv", "xlsx", "parquet")
# Columns of the profile view that are not fields one exports.
_NOT_FIELDS = frozenset({"profile_id", "database"})


class SegmentExportError(HeraldError):
    """A segment's members cannot be read or written; the message says why."""


class UnknownSegmentField(SegmentExportError):
    """A field asked for is not a column of the profile database."""

    def __init__(self, field: str, database: str, known: list[str]) -> None:
        self.field = field
        self.known = known
        super().__init__(
            N_("unknown field {name} in profile database {database}").format(
                name=repr(field), database=database
            )
            + "; "
            + N_("known fields: {known}").format(known=", ".join(known))
        )


def segment_database(store: Engine, segment: str) -> str:
    """The name of the profile database a segment belongs to (UnknownSegment if none)."""
    return get_segment(store, segment).database


def profile_fields(warehouse: Warehouse, database: str) -> list[str]:
    """The fields of a profile database's typed view, in order (profile_id excluded)."""
    view = view_name(database)
    if not warehouse.exists(view):
        raise SegmentExportError(
            N_(
                "no profiles of {database} in the warehouse yet: import into it and build it"
            ).format(database=database)
        )
    return [column.name for column in warehouse.columns(view) if column.name not in _NOT_FIELDS]


def chosen_fields(known: list[str], fields: list[str] | None, database: str) -> list[str]:
    """The fields to write: all known ones when `fields` is None or empty, else the ones asked,
    in their order, without repeats; UnknownSegmentField for the first that is not known."""
    if not fields:
        return list(known)
    chosen: list[str] = []
    for field in fields:
        if field == "profile_id" or field in chosen:
            continue
        if field not in known:
            raise UnknownSegmentField(field, database, known)
        chosen.append(field)
    return chosen


def members_sql(warehouse: Warehouse, segment: str, database: str, fields: list[str]) -> str:
    """The select of a segment's members, one row each, with `fields` of their profiles."""
    selected = "".join(f",\n    profiles.{warehouse.quote(field)}" for field in fields)
    return f"""with members as (
    select distinct profile_id
    from {warehouse.qualify(MEMBERS_TABLE)}
    where segment_id = {warehouse.literal(segment)}
)
select
    members.profile_id as profile_id{selected}
from members
left join {warehouse.qualify(view_name(database))} as profiles
    on profiles.profile_id = members.profile_id
order by members.profile_id"""


def read_segment_members(
    warehouse: Warehouse, segment: str, database: str, fields: list[str] | None = None
) -> pa.Table:
    """A segment's members with the chosen profile fields, ordered by profile_id."""
    chosen = chosen_fields(profile_fields(warehouse, database), fields, database)
    if not warehouse.exists(MEMBERS_TABLE):
        raise SegmentExportError(
            N_("segment {segment} has not been computed yet: no members in the warehouse").format(
                segment=segment
            )
        )
    return warehouse.query_arrow(members_sql(warehouse, segment, database, chosen))


def export_segment(
    warehouse: Warehouse,
    segment: str,
    database: str,
    fields: list[str] | None,
    fmt: ExportFormat,
    out: Path,
) -> dict[str, Any]:
    """Write a segment's members with the chosen fields to `out`; returns what was written."""
    if fmt not in EXPORT_FORMATS:
        raise SegmentExportError(
            N_("unknown export format {format}: use csv, xlsx or parquet").format(format=repr(fmt))
        )
    members = read_segment_members(warehouse, segment, database, fields)
    rows = export_profiles(members, fmt, out)
    return {
        "segment": segment,
        "database": database,
        "format": fmt,
        "fields": members.column_names[1:],
        "rows": rows,
        "out": str(out),
    }
