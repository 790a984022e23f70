"""Funnels computed on demand over the segment inputs (`profile_events`).

    steps = [FunnelStep("Product Viewed", [("category", "equals", "Phones")]),
             FunnelStep("Product Added"), FunnelStep("Order Completed")]
    result = funnel(warehouse, "customers", steps, timedelta(days=7), order="ordered")
    result.rows   # per step (and breakdown value): entered, conversions, drop-off, medians

Semantics, the same on every engine (tests/support/report_reference.py computes them with
plain loops, and property tests compare):

- The unit is the profile. A profile's *stream* is its events of the database with a time,
  in stream order: by `occurred_at`, then `event_id`. "After" means later in stream order.
- An event *matches* a step when its `event_name` is the step's event and every filter of the
  step holds. A filter is (property, op, value): the property is an event column
  (`category`, `brand`, `price`, `path`, `utm_source`, ... see EVENT_PROPERTIES) or
  `properties.<key>` (the JSON text value, numbers as written). Ops: equals, not_equals, in,
  not_in, contains, not_contains, starts_with (text tests case-insensitive), greater, less,
  at_least, at_most (numbers), empty, not_empty. Truth is two-valued: a test on a missing
  value is false and every `not_…` (and `empty`) is the exact negation of its positive.
- An *attempt* starts at an event matching step 1 (inside `since` ≤ occurred_at < `until`
  when given; later steps may fall after `until`). Every next step must match an event after
  the start whose time is at most `window` after the start's time (inclusive):
  - `ordered`: step k is the first event after step k-1's event that matches step k (other
    events may happen in between);
  - `strict`: step k is the very next event of the stream after step k-1's event (whatever
    its name) and it must match step k;
  - `any`: step k (k ≥ 2) is the first event after the start that matches step k, in any
    order relative to the other steps; one event may serve several steps.
  An attempt *reaches* step k when steps 1..k all succeed; its completion time of step k is
  that step's event time (`any`: the latest of the times of steps 1..k).
- A profile counts once, at its best attempt: the one reaching the furthest step; of those,
  the earliest start. Its breakdown value is the property's value on that attempt's step-1
  event (NULL is a value of its own).
- Per step (and breakdown value): `entered` = profiles whose best attempt reaches the step;
  `conversion_from_first` = entered / entered at step 1; `conversion_from_previous` =
  entered / entered at the previous step; `dropped_off` = entered at the previous step minus
  entered here (0 at step 1); `median_seconds_from_first` / `_from_previous` = the lower
  median (of n sorted values the ((n + 1) div 2)-th) over those profiles of the time from
  the start (from the previous step's completion) to this step's completion, in seconds
  (microsecond precision); None where nobody entered.

The SQL is one read-only query whose size and cost grow linearly with the steps (no
self-joins): one pass numbers each profile's events matching any step (every event for
`strict`) in stream order; one group-by keeps per profile the sorted times and, per step,
the sorted positions of its matching events; each attempt (a step-1 event joined to its
profile's lists) then follows the steps with list lookups, one projection per step. The work
per attempt and step is at most the number of the profile's events matching that step.
"""

from __future__ import annotations

import functools
import math
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from herald.errors import HeraldError
from herald.i18n import N_
from herald.models.build import target_of
from herald.models.project import SqlProject
from herald.models.render import Renderer, Target
from herald.segments.inputs import EVENTS
from herald.warehouse.base import Warehouse, string_literal

FunnelOrder = Literal["ordered", "strict", "any"]
FUNNEL_ORDERS: tuple[str, ...] = ("ordered", "strict", "any")
MAX_STEPS = 30
MIN_WINDOW = timedelta(minutes=1)
MAX_WINDOW = timedelta(days=365)
# Event columns a filter or a breakdown may name, with their type; anything else is read from
# the event's JSON `properties` as `properties.<key>`.
EVENT_PROPERTIES: dict[str, str] = {
    name: ("number" if kind == "double" else "text")
    for name, kind in EVENTS.columns
    if name not in ("event_name", "occurred_at", "properties")
}
TEXT_OPS = ("contains", "not_contains", "starts_with")
NUMBER_OPS = ("greater", "less", "at_least", "at_most")
OPS = ("equals", "not_equals", "in", "not_in", *TEXT_OPS, *NUMBER_OPS, "empty", "not_empty")
# Short forms of the ops (the CLI's step syntax; the API takes both).
OP_SYMBOLS = {
    "=": "equals",
    "!=": "not_equals",
    ">": "greater",
    "<": "less",
    ">=": "at_least",
    "<=": "at_most",
    "~": "contains",
    "!~": "not_contains",
}
_NEGATIONS = {"not_equals": "equals", "not_in": "in", "not_contains": "contains"}
_WINDOW = re.compile(r"^\s*(\d{1,6})\s*([mhdw])\s*$")
_WINDOW_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_FAR_FUTURE_US = 4_000_000_000_000_000_000  # after every event: a failed step's time
_JSON_KEY = re.compile(r"^[A-Za-z0-9_]+$")


class ReportError(HeraldError):
    """A report cannot be computed as asked (bad input); the message says why."""


class ReportInputsMissing(ReportError):
    """The warehouse has no report inputs (segment inputs) yet."""


@dataclass(frozen=True)
class FunnelStep:
    """One step: an event name and filters (property, op, value) its event must pass."""

    event: str
    filters: Sequence[tuple[str, str, Any]] = ()


@dataclass(frozen=True)
class FunnelStepResult:
    step: int  # 1-based
    event: str
    breakdown: Any
    entered: int
    conversion_from_first: float | None
    conversion_from_previous: float | None
    dropped_off: int
    median_seconds_from_first: float | None
    median_seconds_from_previous: float | None


@dataclass(frozen=True)
class FunnelResult:
    database: str
    order: str
    window_seconds: int
    breakdown: str | None
    since: datetime | None
    until: datetime | None
    steps: list[FunnelStep]
    rows: list[FunnelStepResult] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "order": self.order,
            "window_seconds": self.window_seconds,
            "breakdown": self.breakdown,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "steps": [
                {"event": step.event, "filters": [list(entry) for entry in step.filters]}
                for step in self.steps
            ],
            "rows": [asdict(row) for row in self.rows],
            "seconds": self.seconds,
        }


# --- input ---------------------------------------------------------------------------------


def parse_window(text: str | timedelta) -> timedelta:
    """ "30m", "12h", "7d" or "2w" as a timedelta, checked to be 1 minute to 365 days."""
    if isinstance(text, timedelta):
        window = text
    else:
        match = _WINDOW.match(str(text))
        if match is None:
            raise ReportError(
                N_("window {window} is not a duration like 30m, 12h, 7d or 2w").format(
                    window=repr(text)
                )
            )
        window = timedelta(**{_WINDOW_UNITS[match[2]]: int(match[1])})
    if not MIN_WINDOW <= window <= MAX_WINDOW:
        raise ReportError(
            N_("window {window} is outside 1 minute to 365 days").format(window=str(window))
        )
    return window


def parse_step(text: str) -> FunnelStep:
    """The CLI's step syntax: `EVENT` or `EVENT[prop OP value, ...]`, OP one of = != > >= < <=
    ~ (contains) !~ (not contains); `prop=a|b` is `in`, `prop!=a|b` is `not_in`."""
    text = text.strip()
    if not text.endswith("]") or "[" not in text:
        if not text or "[" in text or "]" in text:
            raise ReportError(_step_syntax(text))
        return FunnelStep(text)
    event, _, rest = text[:-1].partition("[")
    event = event.strip()
    if not event:
        raise ReportError(_step_syntax(text))
    filters: list[tuple[str, str, Any]] = []
    for part in rest.split(","):
        if not part.strip():
            continue
        match = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(!=|>=|<=|!~|=|>|<|~)\s*(.*?)\s*$", part)
        if match is None:
            raise ReportError(_step_syntax(text))
        name, symbol, value = match.groups()
        op = OP_SYMBOLS[symbol]
        if op in ("equals", "not_equals") and "|" in value:
            filters.append((name, "in" if op == "equals" else "not_in", value.split("|")))
        else:
            filters.append((name, op, value))
    return FunnelStep(event, filters)


def _step_syntax(text: str) -> str:
    return N_("step {step} is not EVENT or EVENT[property=value, ...]").format(step=repr(text))


def _check_steps(steps: Sequence[FunnelStep]) -> list[FunnelStep]:
    if not steps:
        raise ReportError(N_("a funnel needs at least one step"))
    if len(steps) > MAX_STEPS:
        raise ReportError(
            N_("a funnel has at most {limit} steps, not {count}").format(
                limit=MAX_STEPS, count=len(steps)
            )
        )
    checked = []
    for index, step in enumerate(steps, start=1):
        if not isinstance(step.event, str) or not step.event.strip():
            raise ReportError(N_("step {index}: the event name is empty").format(index=index))
        checked.append(FunnelStep(step.event, [_check_filter(index, f) for f in step.filters]))
    return checked


def _check_filter(index: int, entry: Any) -> tuple[str, str, Any]:
    try:
        name, op, value = entry
    except (TypeError, ValueError):
        raise ReportError(
            N_("step {index}: a filter is (property, op, value)").format(index=index)
        ) from None
    op = OP_SYMBOLS.get(op, op)
    if op not in OPS:
        raise ReportError(
            N_("step {index}: unknown op {op} (ops: {ops})").format(
                index=index, op=repr(op), ops=", ".join(OPS)
            )
        )
    kind = property_type(name, f"step {index}")
    if op in ("in", "not_in"):
        values = value if isinstance(value, list | tuple) else [value]
        if not values:
            raise ReportError(N_("step {index}: {op} needs values").format(index=index, op=op))
        value = [_filter_value(index, kind, op, item) for item in values]
    elif op not in ("empty", "not_empty"):
        value = _filter_value(index, kind, op, value)
    else:
        value = None
    return (name, op, value)


def _filter_value(index: int, kind: str, op: str, value: Any) -> Any:
    numeric = op in NUMBER_OPS or (kind == "number" and op not in TEXT_OPS)
    if isinstance(value, bool) or value is None or isinstance(value, list | dict):
        raise ReportError(
            N_("step {index}: {value} is not a value for {op}").format(
                index=index, value=repr(value), op=op
            )
        )
    if numeric:
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            raise ReportError(
                N_("step {index}: {value} is not a number").format(index=index, value=repr(value))
            )
        return number
    if kind == "number":
        raise ReportError(
            N_("step {index}: {op} is for text properties").format(index=index, op=op)
        )
    return str(value)


def property_type(name: str, where: str) -> str:
    """'text' or 'number' of an event property; ReportError for an unknown one."""
    if name in EVENT_PROPERTIES:
        return EVENT_PROPERTIES[name]
    key = name.removeprefix("properties.") if isinstance(name, str) else ""
    if not isinstance(name, str) or key == name or not _JSON_KEY.match(key):
        raise ReportError(
            f"{where}: "
            + N_("{name} is not an event property ({known}, or properties.<key>)").format(
                name=repr(name), known=", ".join(EVENT_PROPERTIES)
            )
        )
    return "text"


def resolve_database(warehouse: Warehouse, database: str | None) -> str:
    """The profile database a report reads: the one named, or the first (by name) the
    warehouse has segment inputs for."""
    tables = {info.name for info in warehouse.list_tables()}
    if EVENTS.table not in tables:
        raise ReportInputsMissing(
            N_("the warehouse has no report inputs yet")
            + "; "
            + N_("run `herald materialize` first")
        )
    prefix = "segment_profiles__"
    known = sorted(name.removeprefix(prefix) for name in tables if name.startswith(prefix))
    if database is None:
        if not known:
            raise ReportInputsMissing(
                N_("the warehouse has no profile database yet")
                + "; "
                + N_("run `herald materialize` first")
            )
        return known[0]
    if database not in known:
        raise ReportError(
            N_("no profile database {database} in the warehouse (databases: {known})").format(
                database=repr(database), known=", ".join(known) or "none"
            )
        )
    return database


def parse_moment(text: str | None, option: str, *, end: bool) -> datetime | None:
    """A day (YYYY-MM-DD, a whole day: `--until` includes it) or an ISO time (UTC unless it
    says otherwise; `--until` excludes it)."""
    if text is None:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        day = None
    if day is not None:
        moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return moment + timedelta(days=1) if end else moment
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ReportError(
            N_(
                "{option} {value} is not a date like 2026-10-01 or a time like 2026-10-01T12:00"
            ).format(option=option, value=repr(text))
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- SQL -------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _renderer(dialect: str, database: str) -> Renderer:
    """The project's macros for one engine, loaded once per process (reports run often)."""
    return Renderer(SqlProject.load(), Target(dialect, database))


def segment_scope(warehouse: Warehouse, segment: str | None) -> str:
    """`and profile_id in (<the segment's current members>)`, or '' without a segment; a
    segment that was never computed is a clear error."""
    if segment is None:
        return ""
    known = warehouse.exists("segment_members") and warehouse.scalar(
        f"select count(*) from {warehouse.qualify('segment_sizes')} "
        f"where segment_id = {warehouse.literal(segment)}"
    )
    if not known:
        raise ReportError(
            N_("no computed segment {segment} (herald segment list shows them)").format(
                segment=repr(segment)
            )
        )
    return (
        f" and profile_id in (select profile_id from {warehouse.qualify('segment_members')} "
        f"where segment_id = {warehouse.literal(segment)})"
    )


class ReportSql:
    """Dialect pieces of a report query: macros of sql/macros rendered for the warehouse."""

    def __init__(self, warehouse: Warehouse, project: SqlProject | None = None) -> None:
        self.warehouse = warehouse
        self.dialect = warehouse.dialect
        target = target_of(warehouse)
        self.renderer = (
            Renderer(project, target) if project else _renderer(target.dialect, target.database)
        )

    def macro(self, name: str, *arguments: str) -> str:
        names = [f"a{index}" for index in range(len(arguments))]
        template = f"{{{{ {name}({', '.join(names)}) }}}}"
        return self.renderer.render_text(template, **dict(zip(names, arguments, strict=True)))

    def literal(self, text: str) -> str:
        return string_literal(self.dialect, text)

    def timestamp(self, moment: datetime) -> str:
        text = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return self.macro("seg_timestamp", text)

    def table(self, name: str) -> str:
        return self.warehouse.qualify(name)

    def property(self, name: str, numeric: bool) -> str:
        """SQL of an event property (text, or a number where `numeric`)."""
        if name in EVENT_PROPERTIES:
            return self.warehouse.quote(name)
        text = self.macro("seg_json_text", "properties", name.removeprefix("properties."))
        return self.macro("safe_float", text) if numeric else text

    def number(self, value: float) -> str:
        return repr(float(value))

    def filter(self, entry: tuple[str, str, Any]) -> str:
        """A filter as a predicate that is never NULL."""
        name, op, value = entry
        if op in _NEGATIONS:
            return f"(not {self.filter((name, _NEGATIONS[op], value))})"
        if op == "not_empty":
            return f"(not {self.filter((name, 'empty', None))})"
        kind = EVENT_PROPERTIES.get(name, "text")
        numeric = op in NUMBER_OPS or (kind == "number" and op in ("equals", "in"))
        expression = self.property(name, numeric)
        if op == "empty":
            if kind == "number":
                return f"({expression} is null)"
            return f"coalesce({expression} = '', true)"
        if op in ("equals", "in"):
            values = value if op == "in" else [value]
            listed = ", ".join(
                self.number(item) if numeric else self.literal(item) for item in values
            )
            return f"coalesce({expression} in ({listed}), false)"
        if op == "contains":
            return f"coalesce({self.macro('seg_contains', expression, self.literal(value))}, false)"
        if op == "starts_with":
            test = self.macro("seg_starts_with", expression, self.literal(value))
            return f"coalesce({test}, false)"
        symbol = {"greater": ">", "less": "<", "at_least": ">=", "at_most": "<="}[op]
        return f"coalesce({expression} {symbol} {self.number(value)}, false)"

    def step(self, step: FunnelStep) -> str:
        parts = [f"event_name = {self.literal(step.event)}"]
        parts += [self.filter(entry) for entry in step.filters]
        return "(" + " and ".join(parts) + ")"


def funnel_sql(
    sql: ReportSql,
    database: str,
    steps: Sequence[FunnelStep],
    window: timedelta,
    order: str,
    breakdown: str | None,
    since: datetime | None,
    until: datetime | None,
    members: str = "",
) -> str:
    """One query: a row per breakdown value with e1..eN (entered), f2..fN and p2..pN (lower
    medians of microseconds from the start and from the previous step)."""
    count = len(steps)
    later = range(2, count + 1)
    events = sql.table(EVENTS.table)
    matches = ",\n    ".join(
        f"case when {sql.step(step)} then 1 else 0 end as m{index}"
        for index, step in enumerate(steps, start=1)
    )
    if breakdown is None:
        breakdown_sql = (
            "cast(null as varchar)"
            if sql.dialect != "clickhouse"
            else ("cast(null as Nullable(String))")
        )
    else:
        breakdown_sql = sql.property(breakdown, EVENT_PROPERTIES.get(breakdown) == "number")
    period = []
    if since is not None:
        period.append(f"occurred_at >= {sql.timestamp(since)}")
    if until is not None:
        period.append(f"occurred_at < {sql.timestamp(until)}")
    start_period = "".join(f" and {part}" for part in period)
    scope = f"database = {sql.literal(database)} and occurred_at is not null{members}"
    if order == "strict":
        first = sql.step(steps[0])
        keep = (
            f"profile_id in (select profile_id from {events} where {scope} "
            f"and {first}{start_period})"
        )
    else:
        keep = "(" + " + ".join(f"m{index}" for index in range(1, count + 1)) + ") > 0"
    rn = sql.macro(
        "rep_int", "row_number() over (partition by profile_id order by occurred_at, event_id)"
    )
    times = sql.macro(
        "rep_append", sql.macro("rep_sorted_list", "t"), sql.macro("rep_int", str(_FAR_FUTURE_US))
    )
    positions = "".join(
        f",\n        {sql.macro('rep_sorted_list_if', 'rn', f'm{k} = 1')} as a{k}" for k in later
    )
    carried = "".join(f", ar.a{k} as a{k}" for k in later)
    chain: list[str] = []
    for k in later:
        if order == "strict":
            follows = sql.macro("seg_list_has", f"a{k}", f"p{k - 1} + 1")
            position = f"case when {follows} then p{k - 1} + 1 else n + 1 end"
        else:
            after = "s" if order == "any" else f"p{k - 1}"
            position = f"coalesce({sql.macro('rep_first_after', f'a{k}', after)}, n + 1)"
        chain.append(f"j{k} as (select *, {position} as p{k} from j{k - 1})")
    chain_sql = "".join(f",\n{part}" for part in chain)
    if order == "any":
        completions = [
            "greatest(t0, " + ", ".join(f"ts[p{j}]" for j in range(2, k + 1)) + f") as c{k}"
            for k in later
        ]
    else:
        completions = [f"ts[p{k}] as c{k}" for k in later]
    completion_sql = "".join(f", {part}" for part in completions)
    window_us = int(window.total_seconds()) * 1_000_000
    level = " + ".join(
        ["1"] + [f"case when c{k} <= t0 + {window_us} then 1 else 0 end" for k in later]
    )
    kept = ", ".join(f"c{k}" for k in range(1, count + 1))
    measures = [
        f"{sql.macro('rep_count_if', f'level >= {k}')} as e{k}" for k in range(1, count + 1)
    ]
    for k in later:
        reached = f"level >= {k}"
        measures.append(f"{sql.macro('rep_lower_median', f'c{k} - t0', reached)} as f{k}")
        measures.append(f"{sql.macro('rep_lower_median', f'c{k} - c{k - 1}', reached)} as p{k}")
    measured = ",\n    ".join(measures)
    return f"""with
ev as (
    select * from (
        select profile_id, occurred_at, event_id, {breakdown_sql} as bd,
            {sql.macro("rep_epoch_us", "occurred_at")} as t,
            {matches}
        from {events}
        where {scope}
    ) as matched
    where {keep}
),
numbered as (
    select *, {rn} as rn from ev
),
profile_lists as (
    select profile_id, {sql.macro("rep_int", "count(*)")} as n, {times} as ts{positions}
    from numbered
    group by profile_id
),
starts as (
    select profile_id, rn as s, t as t0, bd from numbered where m1 = 1{start_period}
),
j1 as (
    select st.profile_id as profile_id, st.s as s, st.t0 as t0, st.bd as bd, ar.n as n,
        ar.ts as ts{carried}, st.s as p1
    from starts as st
    join profile_lists as ar on ar.profile_id = st.profile_id
){chain_sql},
timed as (
    select profile_id, s, t0, bd, t0 as c1{completion_sql} from j{count}
),
attempts as (
    select profile_id, s, t0, bd, {kept}, {level} as level from timed
),
best as (
    select * from (
        select *, row_number() over (partition by profile_id order by level desc, s) as rank_
        from attempts
    ) as ranked
    where rank_ = 1
)
select bd as breakdown,
    {measured}
from best
group by bd"""


def funnel(
    warehouse: Warehouse,
    database: str | None,
    steps: Sequence[FunnelStep],
    window: timedelta | str,
    order: str = "ordered",
    breakdown: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    segment: str | None = None,
) -> FunnelResult:
    """The funnel of `steps` over one profile database (see the module's semantics); with a
    `segment`, over its current members only."""
    started = time.perf_counter()
    checked = _check_steps(steps)
    span = parse_window(window)
    if order not in FUNNEL_ORDERS:
        raise ReportError(
            N_("order {order} is not one of {orders}").format(
                order=repr(order), orders=", ".join(FUNNEL_ORDERS)
            )
        )
    if breakdown is not None:
        property_type(breakdown, "breakdown")
    since, until = utc(since), utc(until)
    if since is not None and until is not None and until <= since:
        raise ReportError(N_("until must be after since"))
    name = resolve_database(warehouse, database)
    sql = ReportSql(warehouse)
    members = segment_scope(warehouse, segment)
    query = funnel_sql(sql, name, checked, span, order, breakdown, since, until, members)
    rows = warehouse.query_arrow(query).to_pylist()
    if not rows and breakdown is None:
        rows = [{"breakdown": None}]
    groups = sorted(rows, key=lambda row: (-int(row.get("e1") or 0), _sort_key(row["breakdown"])))
    results: list[FunnelStepResult] = []
    for row in groups:
        results += _step_results(checked, row)
    return FunnelResult(
        database=name,
        order=order,
        window_seconds=int(span.total_seconds()),
        breakdown=breakdown,
        since=since,
        until=until,
        steps=checked,
        rows=results,
        seconds=round(time.perf_counter() - started, 3),
    )


def _sort_key(value: Any) -> tuple[int, str]:
    return (1, "") if value is None else (0, str(value))


def _step_results(steps: Sequence[FunnelStep], row: dict[str, Any]) -> list[FunnelStepResult]:
    entered = [int(row.get(f"e{k}") or 0) for k in range(1, len(steps) + 1)]
    results = []
    for index, step in enumerate(steps):
        k = index + 1
        here = entered[index]
        previous = entered[index - 1] if index else here
        if index == 0:
            from_first: float | None = 0.0 if here else None
            from_previous: float | None = None
        else:
            from_first = _seconds(row.get(f"f{k}")) if here else None
            from_previous = _seconds(row.get(f"p{k}")) if here else None
        results.append(
            FunnelStepResult(
                step=k,
                event=step.event,
                breakdown=row["breakdown"],
                entered=here,
                conversion_from_first=(here / entered[0]) if entered[0] else None,
                conversion_from_previous=(here / previous) if previous else None,
                dropped_off=previous - here,
                median_seconds_from_first=from_first,
                median_seconds_from_previous=from_previous,
            )
        )
    return results


def _seconds(microseconds: Any) -> float | None:
    return None if microseconds is None else int(microseconds) / 1_000_000
