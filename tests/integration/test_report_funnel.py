"""Funnels give the same answer on DuckDB, on chdb and in a plain-Python reading of their
documented semantics (tests.support.report_reference), for every order, with breakdowns,
filters, windows and periods; long funnels (20 and 25 steps) work; bad input gets one line.

Hypothesis draws small event streams (timestamps that tie, events of other names between the
steps, JSON properties) and funnels over them; each stream is loaded once per example and
checked in all three orders.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from herald.reports.funnel import (
    FUNNEL_ORDERS,
    FunnelResult,
    FunnelStep,
    ReportError,
    funnel,
    parse_step,
    parse_window,
)
from herald.warehouse.base import Warehouse
from tests.fixtures.segments import SHOP_SCHEMA, load_segment_inputs
from tests.support.report_reference import funnel_reference
from tests.support.segment_tables import write_segment

BASE = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
NAMES = ("Product Viewed", "Product Added", "Order Completed", "Page Viewed")
CATEGORIES = (None, "Phones", "Shoes", "phones")
PRICES = (None, 5.0, 10.0, 99.5)
PROPERTIES = (None, "{}", '{"plan": "gold"}', '{"plan": "free", "qty": 2}', '{"qty": 10}')
MINUTES = (0, 0, 1, 5, 29, 30, 31, 59, 60, 61, 120, 600, 1440, 1441)
WINDOWS = ("30m", "1h", "2h", "1d")
FILTERS: tuple[tuple[str, str, Any], ...] = (
    ("category", "equals", "Phones"),
    ("category", "not_equals", "Phones"),
    ("category", "in", ["Phones", "Shoes"]),
    ("category", "contains", "PHO"),
    ("category", "empty", None),
    ("price", "at_least", 10),
    ("price", "equals", 5),
    ("price", "less", 50),
    ("properties.plan", "equals", "gold"),
    ("properties.plan", "not_in", ["gold"]),
    ("properties.qty", "greater", 5),
    ("properties.qty", "equals", "2"),
    ("utm_source", "not_empty", None),
)
BREAKDOWNS = (None, "category", "properties.plan", "price")


@st.composite
def streams(draw: st.DrawFn) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for profile in range(draw(st.integers(1, 6))):
        start = BASE + timedelta(days=draw(st.integers(0, 3)))
        minute = 0
        for _ in range(draw(st.integers(0, 10))):
            minute += draw(st.sampled_from(MINUTES))
            events.append(
                {
                    "profile_id": f"p{profile}",
                    "event_id": f"e{len(events):03d}",
                    "event_name": draw(st.sampled_from(NAMES)),
                    "occurred_at": start
                    + timedelta(minutes=minute, microseconds=draw(st.sampled_from((0, 1)))),
                    "category": draw(st.sampled_from(CATEGORIES)),
                    "price": draw(st.sampled_from(PRICES)),
                    "utm_source": draw(st.sampled_from((None, "google"))),
                    "properties": draw(st.sampled_from(PROPERTIES)),
                }
            )
    # Event ids are not in time order, so ties in time are broken by id, not by position.
    ids = [event["event_id"] for event in events]
    shuffled = draw(st.permutations(ids))
    for event, new_id in zip(events, shuffled, strict=True):
        event["event_id"] = new_id
    return events


@st.composite
def funnels(draw: st.DrawFn) -> dict[str, Any]:
    steps = [
        FunnelStep(
            draw(st.sampled_from(NAMES[:3])),
            draw(st.lists(st.sampled_from(FILTERS), max_size=2)),
        )
        for _ in range(draw(st.integers(1, 4)))
    ]
    since = until = None
    if draw(st.booleans()):
        since = BASE + timedelta(days=draw(st.integers(0, 2)))
        until = since + timedelta(days=draw(st.integers(1, 3)))
    return {
        "steps": steps,
        "window": parse_window(draw(st.sampled_from(WINDOWS))),
        "breakdown": draw(st.sampled_from(BREAKDOWNS)),
        "since": since,
        "until": until,
    }


def engine_answer(result: FunnelResult) -> dict[tuple[Any, int], dict[str, Any]]:
    return {
        (row.breakdown, row.step): {
            "entered": row.entered,
            "from_first": row.median_seconds_from_first if row.step > 1 else None,
            "from_previous": row.median_seconds_from_previous,
        }
        for row in result.rows
    }


def reference_answer(
    events: list[dict[str, Any]], order: str, case: dict[str, Any]
) -> dict[tuple[Any, int], dict[str, Any]]:
    found = funnel_reference(events, order=order, **case)
    return {
        key: {
            "entered": value["entered"],
            "from_first": None if value["from_first"] is None else value["from_first"] / 1e6,
            "from_previous": (
                None if value["from_previous"] is None else value["from_previous"] / 1e6
            ),
        }
        for key, value in found.items()
    }


def without_empty_groups(
    answer: dict[tuple[Any, int], dict[str, Any]],
) -> dict[tuple[Any, int], dict[str, Any]]:
    groups = {key[0] for key, value in answer.items() if key[1] == 1 and value["entered"]}
    return {key: value for key, value in answer.items() if key[0] in groups}


def load(warehouse: Warehouse, events: list[dict[str, Any]]) -> None:
    profiles = sorted({event["profile_id"] for event in events} | {"p0"})
    load_segment_inputs(
        warehouse, SHOP_SCHEMA, profiles=[{"profile_id": p} for p in profiles], events=events
    )


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(events=streams(), cases=st.lists(funnels(), min_size=1, max_size=3))
def test_funnels_match_the_reference_in_every_order(
    warehouse: Warehouse, events: list[dict[str, Any]], cases: list[dict[str, Any]]
) -> None:
    load(warehouse, events)
    for case in cases:
        for order in FUNNEL_ORDERS:
            result = funnel(warehouse, "shop", order=order, **case)
            found = without_empty_groups(engine_answer(result))
            expected = without_empty_groups(reference_answer(events, order, case))
            assert found == expected, f"{warehouse.engine} {order} {case}"


# --- examples -------------------------------------------------------------------------------


def event(profile: str, number: int, name: str, minutes: float, **columns: Any) -> dict:
    return {
        "profile_id": profile,
        "event_id": f"{profile}-{number:03d}",
        "event_name": name,
        "occurred_at": BASE + timedelta(minutes=minutes),
        **columns,
    }


def entered(result: FunnelResult) -> list[int]:
    return [row.entered for row in result.rows]


def test_orders_differ_on_one_stream(warehouse: Warehouse) -> None:
    # p1: A, X, B — ordered yes, strict no; p2: B then A — only any; p3: A, B too late.
    load(
        warehouse,
        [
            event("p1", 1, "A", 0),
            event("p1", 2, "X", 1),
            event("p1", 3, "B", 2),
            event("p2", 1, "B", 0),
            event("p2", 2, "A", 1),
            event("p2", 3, "B", 2),
            event("p3", 1, "A", 0),
            event("p3", 2, "B", 61),
        ],
    )
    steps = [FunnelStep("A"), FunnelStep("B")]
    assert entered(funnel(warehouse, None, steps, "1h", order="ordered")) == [3, 2]
    assert entered(funnel(warehouse, None, steps, "1h", order="strict")) == [3, 1]
    steps_any = [FunnelStep("A"), FunnelStep("X"), FunnelStep("B")]
    assert entered(funnel(warehouse, None, steps_any, "1h", order="any")) == [3, 1, 1]


def test_a_segment_narrows_the_funnel_to_its_members(warehouse: Warehouse) -> None:
    load(
        warehouse,
        [
            event("p1", 1, "A", 0),
            event("p1", 2, "B", 1),
            event("p2", 1, "A", 0),
            event("p3", 1, "A", 0),
            event("p3", 2, "B", 2),
        ],
    )
    write_segment(warehouse, "buyers", ["p1", "p2"])
    steps = [FunnelStep("A"), FunnelStep("B")]
    assert entered(funnel(warehouse, None, steps, "1h")) == [3, 2]
    assert entered(funnel(warehouse, None, steps, "1h", segment="buyers")) == [2, 1]
    with pytest.raises(ReportError, match="no computed segment 'nobody'"):
        funnel(warehouse, None, steps, "1h", segment="nobody")


def test_the_best_attempt_counts_and_ties_take_the_earliest_start(warehouse: Warehouse) -> None:
    # The first start misses the window; the second converts: one profile converted, with
    # the second attempt's times; its breakdown comes from the second start.
    load(
        warehouse,
        [
            event("p1", 1, "A", 0, category="first"),
            event("p1", 2, "A", 100, category="second"),
            event("p1", 3, "B", 130),
            event("p1", 4, "A", 200, category="third"),
        ],
    )
    result = funnel(warehouse, None, [FunnelStep("A"), FunnelStep("B")], "1h", breakdown="category")
    assert [(row.breakdown, row.entered) for row in result.rows] == [("second", 1)] * 2
    assert result.rows[1].median_seconds_from_first == 1800.0
    assert result.rows[1].conversion_from_previous == 1.0


def test_the_median_is_the_lower_median(warehouse: Warehouse) -> None:
    load(
        warehouse,
        [event(f"p{i}", 1, "A", 0) for i in range(4)]
        + [event(f"p{i}", 2, "B", minutes) for i, minutes in enumerate((1, 2, 3, 4))],
    )
    result = funnel(warehouse, None, [FunnelStep("A"), FunnelStep("B")], "1h")
    assert result.rows[1].median_seconds_from_first == 120.0
    assert result.rows[1].dropped_off == 0


@pytest.mark.parametrize("count", [20, 25])
def test_long_funnels_work(warehouse: Warehouse, count: int) -> None:
    names = [f"Step {index:02d}" for index in range(1, count + 1)]
    events: list[dict[str, Any]] = []
    for profile in range(count + 1):  # profile k walks the first k steps, with noise between
        for number, name in enumerate(names[:profile]):
            events.append(event(f"p{profile:02d}", 2 * number, name, 2 * number))
            events.append(event(f"p{profile:02d}", 2 * number + 1, "Noise", 2 * number + 1))
    load(warehouse, events)
    steps = [FunnelStep(name) for name in names]
    for order in FUNNEL_ORDERS:
        result = funnel(warehouse, None, steps, "1d", order=order)
        expected = (
            [count - k for k in range(count)] if order != "strict" else [count] + [0] * (count - 1)
        )
        assert entered(result) == expected, order
        reference = funnel_reference(events, steps, timedelta(days=1), order)
        assert [reference.get((None, k), {}).get("entered", 0) for k in range(1, count + 1)] == (
            expected
        )


@pytest.mark.parametrize(
    ("steps", "window", "options", "message"),
    [
        ([], "7d", {}, "at least one step"),
        ([FunnelStep("A")] * 31, "7d", {}, "at most 30 steps"),
        ([FunnelStep("A")], "7x", {}, "not a duration like 30m"),
        ([FunnelStep("A")], "0m", {}, "outside 1 minute to 365 days"),
        ([FunnelStep("A")], "366d", {}, "outside 1 minute to 365 days"),
        ([FunnelStep("A", [("colour", "equals", "red")])], "7d", {}, "not an event property"),
        ([FunnelStep("A", [("price", "greater", "lots")])], "7d", {}, "is not a number"),
        ([FunnelStep("A", [("category", "like", "x")])], "7d", {}, "unknown op"),
        ([FunnelStep("")], "7d", {}, "event name is empty"),
        ([FunnelStep("A")], "7d", {"order": "random"}, "not one of ordered, strict, any"),
        ([FunnelStep("A")], "7d", {"breakdown": "colour"}, "not an event property"),
        ([FunnelStep("A")], "7d", {"database": "nope"}, "no profile database 'nope'"),
    ],
)
def test_bad_input_gets_one_clear_line(
    warehouse: Warehouse, steps: list[FunnelStep], window: str, options: dict, message: str
) -> None:
    load(warehouse, [event("p1", 1, "A", 0)])
    options = dict(options)
    database = options.pop("database", "shop")
    with pytest.raises(ReportError) as raised:
        funnel(warehouse, database, steps, window, **options)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_step_syntax() -> None:
    assert parse_step("Product Viewed") == FunnelStep("Product Viewed")
    parsed = parse_step("Product Viewed[category=Phones|Shoes, price>=10, properties.plan!=free]")
    assert parsed.event == "Product Viewed"
    assert list(parsed.filters) == [
        ("category", "in", ["Phones", "Shoes"]),
        ("price", "at_least", "10"),
        ("properties.plan", "not_equals", "free"),
    ]
    with pytest.raises(ReportError, match="is not EVENT or EVENT"):
        parse_step("Product Viewed[category]")
