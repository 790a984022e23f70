"""A campaign's audience from the warehouse: segments less exclusions, and trigger entrants.

    table = campaign_audience(warehouse, "shop", ["vip", "news"], exclude=["churned"])
    entrants = segment_entrants(warehouse, "shop", "new_customers", after=cursor, until=now)
    zones = split_by_local_time(table, local=datetime(2026, 12, 1, 9), default_zone=zone)

Both read the published `segment_members` / `segment_membership_changes` and the profile
database's typed view read-only (rule 1); the caller freezes the result as the run's
snapshot (herald/sending/audience.py). One row per profile, `profile_id` first, then every
profile field.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa

from herald.profiles.build import view_name
from herald.segments.export import MEMBERS_TABLE, SegmentExportError, profile_fields
from herald.segments.materialize import MEMBERSHIP_CHANGES
from herald.warehouse import Warehouse

ENTERED_AT = "_entered_at"
TIMEZONE_FIELD = "timezone"


def campaign_audience(
    warehouse: Warehouse, database: str, segments: Sequence[str], exclude: Sequence[str] = ()
) -> pa.Table:
    fields = profile_fields(warehouse, database)
    if not warehouse.exists(MEMBERS_TABLE):
        raise SegmentExportError("no segment has been computed yet: no members in the warehouse")
    selected = "".join(f",\n    profiles.{warehouse.quote(field)}" for field in fields)
    members = warehouse.qualify(MEMBERS_TABLE)
    included = ", ".join(warehouse.literal(name) for name in segments)
    excluded = ""
    if exclude:
        names = ", ".join(warehouse.literal(name) for name in exclude)
        excluded = (
            f"\n    and members.profile_id not in "
            f"(select profile_id from {members} where segment_id in ({names}))"
        )
    sql = f"""with members as (
    select distinct profile_id
    from {members}
    where segment_id in ({included})
)
select
    members.profile_id as profile_id{selected}
from members
left join {warehouse.qualify(view_name(database))} as profiles
    on profiles.profile_id = members.profile_id
where members.profile_id is not null{excluded}
order by members.profile_id"""
    return warehouse.query_arrow(sql)


def segment_entrants(
    warehouse: Warehouse, database: str, segment: str, *, after: datetime, until: datetime
) -> pa.Table:
    """Profiles that entered `segment` in (after, until] and are still in it, with the
    moment they entered (`_entered_at`, UTC) and their fields."""
    fields = profile_fields(warehouse, database)
    if not warehouse.exists(MEMBERSHIP_CHANGES):
        return pa.table({"profile_id": pa.array([], pa.string())})
    selected = "".join(f",\n    profiles.{warehouse.quote(field)}" for field in fields)
    sql = f"""with entries as (
    select profile_id, max(entered_at) as entered_at
    from {warehouse.qualify(MEMBERSHIP_CHANGES)}
    where segment_id = {warehouse.literal(segment)}
        and left_at is null
        and entered_at > {_moment(warehouse, after)}
        and entered_at <= {_moment(warehouse, until)}
    group by profile_id
)
select
    entries.profile_id as profile_id{selected},
    entries.entered_at as {ENTERED_AT}
from entries
left join {warehouse.qualify(view_name(database))} as profiles
    on profiles.profile_id = entries.profile_id
order by entries.entered_at, entries.profile_id"""
    return warehouse.query_arrow(sql)


def _moment(warehouse: Warehouse, moment: datetime) -> str:
    text = moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    if warehouse.dialect == "clickhouse":
        return f"toDateTime64({warehouse.literal(text)}, 6, 'UTC')"
    return f"cast({warehouse.literal(text)} as timestamp)"


def split_by_local_time(
    table: pa.Table, local: datetime, default_zone: ZoneInfo
) -> dict[datetime, pa.Table]:
    """Recipients by the UTC moment at which it is `local` (a wall-clock time) in their own
    time zone (the `timezone` field: an IANA name); others use `default_zone`."""
    wall = local.replace(tzinfo=None)
    if TIMEZONE_FIELD not in table.column_names:
        return {wall.replace(tzinfo=default_zone).astimezone(UTC): table}
    zones = table.column(TIMEZONE_FIELD).cast(pa.string())
    groups: dict[datetime, list[int]] = {}
    moments: dict[str | None, datetime] = {}
    for index, name in enumerate(zones.to_pylist()):
        moment = moments.get(name)
        if moment is None:
            moment = wall.replace(tzinfo=_zone(name, default_zone)).astimezone(UTC)
            moments[name] = moment
        groups.setdefault(moment, []).append(index)
    return {
        moment: table.take(pa.array(indices, pa.int64()))
        for moment, indices in sorted(groups.items())
    }


def _zone(name: str | None, default: ZoneInfo) -> ZoneInfo:
    if not name:
        return default
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return default
