"""Cohort retention gives the same rows on DuckDB, on chdb and in a plain-Python reading of
its documented definitions (tests.support.report_reference), for every cohort kind, period
and activity; weeks start on Monday; cancelled orders count for nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from herald.reports.cohort import COHORT_BY, PERIODS, cohort_retention
from herald.reports.funnel import ReportError
from herald.warehouse.base import Warehouse
from tests.fixtures.segments import SHOP_SCHEMA, load_segment_inputs
from tests.support.report_reference import cohort_reference
from tests.support.segment_tables import write_segment

BASE = datetime(2026, 1, 25, 23, 30, tzinfo=UTC)  # a Sunday night, near a month's end
NAMES = ("Signed Up", "Product Viewed", "Order Completed")
STATUSES = ("paid", "created", "delivered", "cancelled", None)
HOURS = (0, 1, 23, 24, 25, 24 * 6, 24 * 7, 24 * 8, 24 * 30, 24 * 31, 24 * 60, 24 * 95)
ACTIVITIES = ("order", "Product Viewed", "Signed Up")


@st.composite
def shops(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    orders: list[dict[str, Any]] = []
    for profile in range(draw(st.integers(1, 8))):
        start = BASE + timedelta(hours=draw(st.sampled_from(HOURS)))
        for _ in range(draw(st.integers(0, 5))):
            events.append(
                {
                    "profile_id": f"p{profile}",
                    "event_id": f"e{len(events)}",
                    "event_name": draw(st.sampled_from(NAMES)),
                    "occurred_at": start + timedelta(hours=draw(st.sampled_from(HOURS))),
                }
            )
        for _ in range(draw(st.integers(0, 5))):
            orders.append(
                {
                    "profile_id": f"p{profile}",
                    "order_id": f"o{len(orders)}",
                    "created_at": start + timedelta(hours=draw(st.sampled_from(HOURS))),
                    "status": draw(st.sampled_from(STATUSES)),
                    "total": 10.0,
                }
            )
    return events, orders


def load(warehouse: Warehouse, events: list[dict], orders: list[dict]) -> None:
    profiles = sorted({row["profile_id"] for row in events + orders} | {"p0"})
    load_segment_inputs(
        warehouse,
        SHOP_SCHEMA,
        profiles=[{"profile_id": profile} for profile in profiles],
        events=events,
        orders=orders,
    )


def rows(warehouse: Warehouse, **options: Any) -> list[tuple[date, int, int, int, float]]:
    return [
        (row.cohort, row.period_index, row.cohort_size, row.active, row.retention)
        for row in cohort_retention(warehouse, "shop", **options)
    ]


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    shop=shops(),
    activity=st.sampled_from(ACTIVITIES),
    cut=st.sampled_from([(None, None), (BASE, None), (None, BASE + timedelta(days=20))]),
)
def test_cohorts_match_the_reference(
    warehouse: Warehouse,
    shop: tuple[list[dict], list[dict]],
    activity: str,
    cut: tuple[datetime | None, datetime | None],
) -> None:
    events, orders = shop
    load(warehouse, events, orders)
    since, until = cut
    for by in COHORT_BY:
        for period in PERIODS:
            options = {"by": by, "period": period, "activity": activity}
            found = rows(warehouse, since=since, until=until, **options)
            expected = cohort_reference(events, orders, since=since, until=until, **options)
            assert found == expected, f"{warehouse.engine} {options}"


def test_the_default_is_monthly_first_order_cohorts_with_orders(warehouse: Warehouse) -> None:
    orders = [
        {"profile_id": "p1", "order_id": "o1", "created_at": BASE, "status": "paid"},
        {"profile_id": "p1", "order_id": "o2", "created_at": BASE + timedelta(days=40)},
        {"profile_id": "p2", "order_id": "o3", "created_at": BASE, "status": "cancelled"},
        {"profile_id": "p2", "order_id": "o4", "created_at": BASE + timedelta(days=10)},
    ]
    load(warehouse, [], orders)
    assert rows(warehouse) == [
        (date(2026, 1, 1), 0, 1, 1, 1.0),
        (date(2026, 1, 1), 2, 1, 1, 1.0),
        (date(2026, 2, 1), 0, 1, 1, 1.0),
    ]


def test_a_segment_keeps_only_its_members_in_the_cohorts(warehouse: Warehouse) -> None:
    orders = [
        {"profile_id": "p1", "order_id": "o1", "created_at": BASE},
        {"profile_id": "p2", "order_id": "o2", "created_at": BASE},
        {"profile_id": "p2", "order_id": "o3", "created_at": BASE + timedelta(days=40)},
    ]
    load(warehouse, [], orders)
    write_segment(warehouse, "loyal", ["p2"])
    assert rows(warehouse)[0] == (date(2026, 1, 1), 0, 2, 2, 1.0)
    assert rows(warehouse, segment="loyal") == [
        (date(2026, 1, 1), 0, 1, 1, 1.0),
        (date(2026, 1, 1), 2, 1, 1, 1.0),
    ]
    with pytest.raises(ReportError, match="no computed segment"):
        rows(warehouse, segment="nobody")


def test_weeks_start_on_monday(warehouse: Warehouse) -> None:
    sunday, monday = BASE, BASE + timedelta(hours=1)
    orders = [
        {"profile_id": "p1", "order_id": "o1", "created_at": sunday},
        {"profile_id": "p1", "order_id": "o2", "created_at": monday},
    ]
    load(warehouse, [], orders)
    assert rows(warehouse, period="week") == [
        (date(2026, 1, 19), 0, 1, 1, 1.0),
        (date(2026, 1, 19), 1, 1, 1, 1.0),
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"by": "last_order"}, "cohort by 'last_order' is not one of"),
        ({"period": "year"}, "period 'year' is not one of day, week, month"),
        ({"activity": " "}, "the activity is empty"),
        ({"database": "nope"}, "no profile database 'nope'"),
    ],
)
def test_bad_input_gets_one_clear_line(
    warehouse: Warehouse, options: dict[str, Any], message: str
) -> None:
    load(warehouse, [], [])
    with pytest.raises(ReportError) as raised:
        cohort_retention(warehouse, **options)
    assert message in str(raised.value)
