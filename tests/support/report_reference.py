"""Funnels and cohorts computed with plain Python loops, independently of the SQL in
herald.reports, following the definitions in the docstrings of herald/reports/funnel.py and
herald/reports/cohort.py. Property tests compare the two.

Rows are the dicts given to tests.fixtures.segments.load_segment_inputs (events: profile_id,
event_id, event_name, occurred_at (aware UTC), columns, properties JSON text; orders:
profile_id, order_id, created_at, status).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

NUMBER_COLUMNS = {"price"}


# --- funnels ---------------------------------------------------------------------------------


def _value(event: dict[str, Any], name: str) -> Any:
    """The property as the SQL reads it: a column, or the JSON value as text (numbers as
    written, strings unquoted, an empty string or JSON null missing)."""
    if not name.startswith("properties."):
        return event.get(name)
    text = event.get("properties")
    if text is None:
        return None
    document = json.loads(text)
    key = name.removeprefix("properties.")
    if not isinstance(document, dict) or key not in document or document[key] is None:
        return None
    found = document[key]
    if isinstance(found, str):
        return found or None
    if isinstance(found, bool):
        return "true" if found else "false"
    return json.dumps(found)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def _holds(event: dict[str, Any], name: str, op: str, value: Any) -> bool:
    negations = {"not_equals": "equals", "not_in": "in", "not_contains": "contains"}
    if op in negations:
        return not _holds(event, name, negations[op], value)
    if op == "not_empty":
        return not _holds(event, name, "empty", None)
    raw = _value(event, name)
    numeric_column = name in NUMBER_COLUMNS
    if op == "empty":
        return raw is None or (not numeric_column and raw == "")
    if op in ("greater", "less", "at_least", "at_most"):
        number = raw if numeric_column else _number(raw)
        if number is None:
            return False
        return {
            "greater": number > value,
            "less": number < value,
            "at_least": number >= value,
            "at_most": number <= value,
        }[op]
    if raw is None:
        return False
    if op in ("equals", "in"):
        values = value if op == "in" else [value]
        if numeric_column:
            return any(float(raw) == float(item) for item in values)
        return any(raw == str(item) for item in values)
    if op == "contains":
        return str(value).lower() in str(raw).lower()
    if op == "starts_with":
        return str(raw).lower().startswith(str(value).lower())
    raise AssertionError(op)


def matches(event: dict[str, Any], step: Any) -> bool:
    return event["event_name"] == step.event and all(
        _holds(event, name, op, value) for name, op, value in step.filters
    )


def lower_median(values: list[int]) -> int:
    ordered = sorted(values)
    return ordered[(len(ordered) + 1) // 2 - 1]


def _attempt(
    stream: list[dict[str, Any]], start: int, steps: list[Any], window: timedelta, order: str
) -> list[datetime]:
    """Completion times of the steps the attempt from `start` reaches."""
    t0 = stream[start]["occurred_at"]
    deadline = t0 + window
    times = [t0]
    if order == "any":
        for step in steps[1:]:
            found = None
            for position in range(start + 1, len(stream)):
                if matches(stream[position], step):
                    found = stream[position]["occurred_at"]
                    break
            if found is None or found > deadline:
                break
            times.append(max(times[-1], found))
        return times
    position = start
    for step in steps[1:]:
        if order == "strict":
            candidates = [position + 1] if position + 1 < len(stream) else []
        else:
            candidates = list(range(position + 1, len(stream)))
        chosen = None
        for candidate in candidates:
            if matches(stream[candidate], step):
                chosen = candidate
                break
        if chosen is None or stream[chosen]["occurred_at"] > deadline:
            break
        position = chosen
        times.append(stream[chosen]["occurred_at"])
    return times


def funnel_reference(
    events: list[dict[str, Any]],
    steps: list[Any],
    window: timedelta,
    order: str,
    breakdown: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[tuple[Any, int], dict[str, Any]]:
    """(breakdown value, step number) -> entered, medians (microseconds, None if nobody)."""
    streams: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        if event.get("occurred_at") is not None:
            streams[event["profile_id"]].append(event)
    best: dict[str, tuple[list[datetime], Any]] = {}
    for profile, stream in streams.items():
        stream.sort(key=lambda event: (event["occurred_at"], event["event_id"]))
        chosen: tuple[list[datetime], Any] | None = None
        for start, event in enumerate(stream):
            if not matches(event, steps[0]):
                continue
            if since is not None and event["occurred_at"] < since:
                continue
            if until is not None and event["occurred_at"] >= until:
                continue
            times = _attempt(stream, start, steps, window, order)
            if chosen is None or len(times) > len(chosen[0]):
                value = _value(event, breakdown) if breakdown else None
                chosen = (times, value)
        if chosen is not None:
            best[profile] = chosen
    groups: dict[Any, list[list[datetime]]] = defaultdict(list)
    for times, value in best.values():
        groups[value].append(times)
    result: dict[tuple[Any, int], dict[str, Any]] = {}
    for value, attempts in groups.items():
        for k in range(1, len(steps) + 1):
            reached = [times for times in attempts if len(times) >= k]
            from_first = [_us(times[k - 1] - times[0]) for times in reached]
            from_previous = [_us(times[k - 1] - times[k - 2]) for times in reached] if k > 1 else []
            result[(value, k)] = {
                "entered": len(reached),
                "from_first": lower_median(from_first) if reached and k > 1 else None,
                "from_previous": lower_median(from_previous) if reached and k > 1 else None,
            }
    return result


def _us(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


# --- cohorts ---------------------------------------------------------------------------------


def period_start(moment: datetime, period: str) -> date:
    day = moment.date()
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def period_index(first: date, later: date, period: str) -> int:
    if period == "month":
        return (later.year * 12 + later.month) - (first.year * 12 + first.month)
    days = (later - first).days
    return days // 7 if period == "week" else days


def cohort_reference(
    events: list[dict[str, Any]],
    orders: list[dict[str, Any]],
    by: str = "first_order",
    period: str = "month",
    activity: str = "order",
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[tuple[date, int, int, int, float]]:
    """Rows (cohort, period_index, cohort_size, active, retention) ordered."""
    kept_orders = [
        order
        for order in orders
        if order.get("created_at") is not None and order.get("status") != "cancelled"
    ]
    timed_events = [event for event in events if event.get("occurred_at") is not None]
    first: dict[str, datetime] = {}

    def see(profile: str, moment: datetime) -> None:
        if profile not in first or moment < first[profile]:
            first[profile] = moment

    if by in ("first_order", "first_seen"):
        for order in kept_orders:
            see(order["profile_id"], order["created_at"])
    if by == "first_seen":
        for event in timed_events:
            see(event["profile_id"], event["occurred_at"])
    if by == "sign_up":
        for event in timed_events:
            if event["event_name"] == "Signed Up":
                see(event["profile_id"], event["occurred_at"])
    cohorts = {
        profile: period_start(moment, period)
        for profile, moment in first.items()
        if (since is None or moment >= since) and (until is None or moment < until)
    }
    sizes: dict[date, int] = defaultdict(int)
    for cohort in cohorts.values():
        sizes[cohort] += 1
    if activity == "order":
        moments = [(order["profile_id"], order["created_at"]) for order in kept_orders]
    else:
        moments = [
            (event["profile_id"], event["occurred_at"])
            for event in timed_events
            if event["event_name"] == activity
        ]
    active: dict[tuple[date, int], set[str]] = defaultdict(set)
    for profile, moment in moments:
        if profile not in cohorts:
            continue
        cohort = cohorts[profile]
        index = period_index(cohort, period_start(moment, period), period)
        if index >= 0:
            active[(cohort, index)].add(profile)
    return sorted(
        (cohort, index, sizes[cohort], len(profiles), len(profiles) / sizes[cohort])
        for (cohort, index), profiles in active.items()
    )
