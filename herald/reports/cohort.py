"""Cohort retention computed on demand over the segment inputs.

    rows = cohort_retention(warehouse, "customers", by="first_order", period="month",
                            activity="order")

Definitions (the mart `report_cohort_retention` holds exactly the default: by=first_order,
period=month, activity=order, no since/until; tests/support/report_reference.py computes
the same with plain loops):

- Everything is per profile database (`database` column) and in UTC.
- An *order* is a row of `profile_orders` with a `created_at`, whose `status` is not
  `cancelled` (a NULL status counts; paid or not does not matter): a cancelled order is
  no purchase and no return visit.
- A profile's *cohort event time*:
  - `first_order`: the earliest `created_at` of its orders;
  - `first_seen`: the earlier of its earliest event `occurred_at` (any event of
    `profile_events` with a time) and its earliest order `created_at`;
  - `sign_up`: the earliest `occurred_at` of its events named exactly "Signed Up".
  A profile without that event time is in no cohort.
- The *period start* of a time: its date (`day`), the Monday of its week (`week`, ISO weeks)
  or the first day of its month (`month`). A profile's `cohort` is the period start of its
  cohort event time. `since` / `until` (optional) keep the profiles whose cohort event time
  is ≥ since and < until; activity is never cut.
- *Activity*: `order` = its orders (as above); any other value = its events of exactly that
  `event_name` with a time. A profile is *active* in a period when it has activity whose time
  has that period start.
- `period_index` = whole periods from the cohort to the activity's period start (days; days
  div 7 for weeks; calendar months: (year * 12 + month) difference). Activity before the
  cohort (negative index) is ignored; index 0 is the cohort's own period (so with the
  default every profile is active at index 0).
- One row per cohort and period_index where at least one profile of the cohort is active
  (a missing cell means 0 active): `cohort` (date), `period_index`, `cohort_size` (profiles
  in the cohort), `active` (distinct profiles of the cohort active in that period),
  `retention` = active / cohort_size (a double, not rounded). Rows ordered by cohort, then
  period_index.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from herald.i18n import N_
from herald.reports.funnel import ReportError, ReportSql, resolve_database, segment_scope, utc
from herald.segments.inputs import EVENTS, ORDERS
from herald.warehouse.base import Warehouse

COHORT_BY: tuple[str, ...] = ("first_order", "first_seen", "sign_up")
PERIODS: tuple[str, ...] = ("day", "week", "month")
ORDER_ACTIVITY = "order"
SIGN_UP_EVENT = "Signed Up"
CANCELLED = "cancelled"


@dataclass(frozen=True)
class CohortRow:
    cohort: date
    period_index: int
    cohort_size: int
    active: int
    retention: float

    def to_dict(self) -> dict[str, Any]:
        row = asdict(self)
        row["cohort"] = self.cohort.isoformat()
        return row


def cohort_sql(
    sql: ReportSql,
    database: str,
    by: str,
    period: str,
    activity: str,
    since: datetime | None = None,
    until: datetime | None = None,
    members: str = "",
) -> str:
    """The cohort query: columns cohort, period_index, cohort_size, active, retention;
    `members` narrows the cohorts (segment_scope)."""
    db = sql.literal(database)
    orders = (
        f"select profile_id, created_at as happened_at from {sql.table(ORDERS.table)} "
        f"where database = {db} and created_at is not null "
        f"and coalesce(status, '') <> {sql.literal(CANCELLED)}"
    )
    events = (
        f"select profile_id, occurred_at as happened_at, event_name from {sql.table(EVENTS.table)} "
        f"where database = {db} and occurred_at is not null"
    )
    earliest = "select profile_id, min(happened_at) as happened_at from"
    if by == "first_order":
        first = f"{earliest} ({orders}) as o group by profile_id"
    elif by == "first_seen":
        first = (
            f"{earliest} (select profile_id, happened_at from ({orders}) as o "
            f"union all select profile_id, happened_at from ({events}) as e) as seen "
            "group by profile_id"
        )
    else:
        first = (
            f"{earliest} ({events}) as e "
            f"where event_name = {sql.literal(SIGN_UP_EVENT)} group by profile_id"
        )
    if activity == ORDER_ACTIVITY:
        acts = f"select profile_id, happened_at from ({orders}) as o"
    else:
        acts = (
            f"select profile_id, happened_at from ({events}) as e "
            f"where event_name = {sql.literal(activity)}"
        )
    window = []
    if since is not None:
        window.append(f"happened_at >= {sql.timestamp(since)}")
    if until is not None:
        window.append(f"happened_at < {sql.timestamp(until)}")
    kept = " where " + " and ".join(window or ["1 = 1"]) + members
    cohort_start = sql.macro("rep_period_start", "happened_at", period)
    active_start = sql.macro("rep_period_start", "happened_at", period)
    index = sql.macro("rep_period_index", period, "c.cohort", "a.period")
    return f"""with
firsts as ({first}),
cohorts as (
    select profile_id, {cohort_start} as cohort from firsts{kept}
),
sizes as (
    select cohort, count(*) as cohort_size from cohorts group by cohort
),
activity as (
    select distinct profile_id, {active_start} as period from ({acts}) as acts
),
actives as (
    select c.cohort as cohort, {index} as period_index, count(*) as active
    from cohorts as c
    join activity as a on a.profile_id = c.profile_id
    where a.period >= c.cohort
    group by c.cohort, {index}
)
select actives.cohort as cohort, actives.period_index as period_index,
    sizes.cohort_size as cohort_size, actives.active as active,
    actives.active / sizes.cohort_size as retention
from actives
join sizes on sizes.cohort = actives.cohort
order by cohort, period_index"""


def cohort_retention(
    warehouse: Warehouse,
    database: str | None = None,
    by: str = "first_order",
    period: str = "month",
    activity: str = ORDER_ACTIVITY,
    since: datetime | None = None,
    until: datetime | None = None,
    segment: str | None = None,
) -> list[CohortRow]:
    """Retention of cohorts (see the module's definitions); with a `segment`, of its current
    members only."""
    if by not in COHORT_BY:
        raise ReportError(
            N_("cohort by {by} is not one of {choices}").format(
                by=repr(by), choices=", ".join(COHORT_BY)
            )
        )
    if period not in PERIODS:
        raise ReportError(
            N_("period {period} is not one of {choices}").format(
                period=repr(period), choices=", ".join(PERIODS)
            )
        )
    if not isinstance(activity, str) or not activity.strip():
        raise ReportError(N_("the activity is empty: say order or an event name"))
    since, until = utc(since), utc(until)
    if since is not None and until is not None and until <= since:
        raise ReportError(N_("until must be after since"))
    name = resolve_database(warehouse, database)
    sql = ReportSql(warehouse)
    members = segment_scope(warehouse, segment)
    rows = warehouse.query_arrow(
        cohort_sql(sql, name, by, period, activity, since, until, members)
    ).to_pylist()
    return [
        CohortRow(
            cohort=_date(row["cohort"]),
            period_index=int(row["period_index"]),
            cohort_size=int(row["cohort_size"]),
            active=int(row["active"]),
            retention=float(row["retention"]),
        )
        for row in rows
    ]


def _date(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value


def timed_cohort_retention(warehouse: Warehouse, **options: Any) -> dict[str, Any]:
    """cohort_retention as a document (the CLI's json and the API's answer)."""
    started = time.perf_counter()
    rows = cohort_retention(warehouse, **options)
    return {
        "rows": [row.to_dict() for row in rows],
        "seconds": round(time.perf_counter() - started, 3),
    }
