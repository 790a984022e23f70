"""Segment definitions select the same members on DuckDB, on chdb and in a plain-Python
reading of their documented semantics (tests.support.segment_reference).

Hypothesis draws small shops (profiles with a value of every field type, missing values,
Cyrillic text, times on both sides of `as_of` and of midnight) and definitions of every
condition kind nested up to three levels, written as documents and parsed; each dataset is
loaded once per engine and several definitions are checked against it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from herald.models.project import SqlProject
from herald.segments.compiler import SegmentCompiler
from herald.segments.definition import SegmentDefinition, parse_definition
from herald.warehouse.base import Warehouse
from herald.warehouse.duckdb_engine import DuckDBWarehouse
from tests.fixtures.segments import SHOP_SCHEMA, load_segment_inputs
from tests.support.segment_reference import bucket, members

AS_OF_CHOICES = (
    datetime(2026, 11, 26, 12, 0, tzinfo=UTC),
    datetime(2027, 2, 27, 23, 30, 15, 250_000, tzinfo=UTC),
    datetime(2028, 2, 28, 6, 0, tzinfo=UTC),
    datetime(2026, 12, 31, 0, 0, tzinfo=UTC),
)
PROFILE_IDS = [f"p{index:02d}" for index in range(1, 29)] + ["пётр", "Ann", "ann", "ёж"]
GHOST_ID = "ghost"
# Shops drawn per run: 40 keeps `make test` within its 15 minutes (each is loaded into two
# engines); HERALD_PROPERTY_EXAMPLES=500 for a longer search.
PROPERTY_EXAMPLES = int(os.environ.get("HERALD_PROPERTY_EXAMPLES", "40"))
DAYS = (0, 1, 7, 30, 365)
DAY_OFFSETS = (-400, -366, -365, -31, -30, -8, -7, -1, 0, 1, 6, 7, 8, 30, 31, 365)
MOMENT_SHIFTS = (
    timedelta(0),
    timedelta(microseconds=-1),
    timedelta(microseconds=1),
    timedelta(hours=-12),
    timedelta(hours=6),
)

CITIES = (None, "Москва", "москва", "МОСКВА-2", "Tver", "", "St. Petersburg", "Санкт-Петербург")
EMAILS = (None, "a@x.ru", "B@X.RU", "", "ann@mail.com")
TEXT_VALUES = ("москва", "Моск", "МОСК", "tver", "Tver", "", "a@x.ru", "@x.ru", "санкт", "St")
LEVELS = ("bronze", "silver", "gold")
POINTS = (-1, 0, 3, 5, 10, 100)
AVERAGES = (0, 5.5, 10, -2.25, 7)
TAGS = ("vip", "Vip", "shoes", "обувь")
EVENT_NAMES = ("Product Viewed", "Order Completed", "Promo Code Issued", "Signed Up")
CATEGORIES = (None, "shoes", "bags", "Обувь")
BRANDS = (None, "nike", "Nike", "Зенит")
PRICES = (None, 0.0, 5.0, 10.5, 20.0)
GOALS = (None, "signup", "purchase")
CODES = ("SALE10", "10", "скидка")
ORDER_STATUSES = ("completed", "cancelled", "new")
TOTALS = (None, 0.0, 10.0, 99.5, 250.0)
MESSAGE_TYPES = ("sent", "delivered", "opened", "clicked", "bounced", "complained", "failed")
MESSAGE_ACTIONS = ("sent", "received", "opened", "clicked", "bounced", "complained", "failed")
CHANNELS = ("email", "sms", "push")
RESOURCES = ("*", "news", "promo")
SUBSCRIPTION_STATUSES = ("subscribed", "unsubscribed", "suppressed")
RELATION_KINDS = ("family", "referral")
SEGMENTS = ("vip", "churned")

# --- data -----------------------------------------------------------------------------------


def _maybe(values: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from(values)


@st.composite
def moments(draw: st.DrawFn, as_of: datetime) -> datetime:
    """A time near a boundary: as_of or today's midnight, whole days away, give or take."""
    base = draw(st.sampled_from([as_of, datetime.combine(as_of.date(), datetime.min.time(), UTC)]))
    return (
        base
        + timedelta(days=draw(st.sampled_from(DAY_OFFSETS)))
        + draw(st.sampled_from(MOMENT_SHIFTS))
    )


@st.composite
def days(draw: st.DrawFn, as_of: datetime) -> date:
    """A date near today, or the same day of the year long ago, or a 29 February."""
    special = (date(1992, 2, 29), date(1991, 2, 28), date(1990, 3, 1), date(2000, 2, 29))
    day = as_of.date() + timedelta(days=draw(st.sampled_from(DAY_OFFSETS)))
    choice = draw(st.integers(0, 2))
    if choice == 0:
        return day
    if choice == 1:
        return draw(st.sampled_from(special))
    year = draw(st.sampled_from((1990, 1992, 2001)))
    try:
        return day.replace(year=year)
    except ValueError:  # 29 February
        return date(year, 3, 1)


def _properties(draw: st.DrawFn) -> str | None:
    """Event properties as JSON, a JSON null among the values (missing on both engines)."""
    if draw(st.booleans()):
        return None
    document: dict[str, Any] = {}
    if draw(st.booleans()):
        document["size"] = draw(st.sampled_from((42, "42", 40, " 41 ", "", "abc", 9.5, None)))
    if draw(st.booleans()):
        document["color"] = draw(st.sampled_from(("red", "Красный", "", "RED")))
    if draw(st.booleans()):
        document["code"] = draw(st.sampled_from(("SALE10", 10, "", "скидка")))
    return json.dumps(document, ensure_ascii=draw(st.booleans()))


@st.composite
def shops(draw: st.DrawFn) -> tuple[datetime, dict[str, list[dict[str, Any]]]]:
    as_of = draw(st.sampled_from(AS_OF_CHOICES))
    ids = draw(st.lists(st.sampled_from(PROFILE_IDS), min_size=5, max_size=30, unique=True))
    owners = st.sampled_from([*ids, GHOST_ID])
    profiles = []
    for profile_id in ids:
        profiles.append(
            {
                "profile_id": profile_id,
                "email": draw(_maybe(EMAILS)),
                "city": draw(_maybe(CITIES)),
                "level": draw(_maybe((None, *LEVELS))),
                "points": draw(_maybe((None, *POINTS))),
                "average_order": draw(_maybe((None, 0.0, 5.5, 10.0, -2.25))),
                "opted_in": draw(_maybe((None, True, False))),
                "birth_date": draw(st.none() | days(as_of)),
                "registered_at": draw(st.none() | moments(as_of)),
                "tags": draw(st.lists(st.sampled_from(TAGS), max_size=3, unique=True)),
                "extra": draw(_maybe((None, '{"k": 1}', "{}"))),
            }
        )
    events = [
        {
            "profile_id": draw(owners),
            "event_id": f"e{index}",
            "event_name": draw(st.sampled_from(EVENT_NAMES)),
            "occurred_at": draw(moments(as_of)),
            "product_id": draw(_maybe((None, "sku1", "sku2"))),
            "category": draw(_maybe(CATEGORIES)),
            "brand": draw(_maybe(BRANDS)),
            "price": draw(_maybe(PRICES)),
            "goal": draw(_maybe(GOALS)),
            "utm_source": draw(_maybe((None, "google", "yandex"))),
            "properties": _properties(draw),
        }
        for index in range(draw(st.integers(0, 30)))
    ]
    if events and draw(st.booleans()):
        events.append({**events[0], "event_id": "elsewhere", "database": "other"})
    orders = [
        {
            "profile_id": draw(owners),
            "order_id": f"o{index}",
            "created_at": draw(moments(as_of)),
            "status": draw(_maybe((None, *ORDER_STATUSES))),
            "total": draw(_maybe(TOTALS)),
            "promo_code": draw(_maybe((None, "", *CODES))),
            "channel": draw(_maybe((None, "web", "app"))),
        }
        for index in range(draw(st.integers(0, 12)))
    ]
    order_items = [
        {
            "profile_id": order["profile_id"],
            "order_id": order["order_id"],
            "created_at": order["created_at"],
            "status": order["status"],
            "product_id": draw(_maybe((None, "sku1", "sku2", "sku3"))),
            "category": draw(_maybe(CATEGORIES)),
            "brand": draw(_maybe(BRANDS)),
            "quantity": 1.0,
            "line_total": 10.0,
        }
        for order in orders
        for _line in range(draw(st.integers(0, 2)))
    ]
    message_events = [
        {
            "profile_id": draw(owners),
            "event_id": f"m{index}",
            "event_type": draw(st.sampled_from(MESSAGE_TYPES)),
            "campaign_id": draw(_maybe((None, "c1", "c2"))),
            "channel": draw(_maybe((None, *CHANNELS))),
            "occurred_at": draw(moments(as_of)),
        }
        for index in range(draw(st.integers(0, 10)))
    ]
    devices = [
        {
            "profile_id": draw(owners),
            "device_id": f"d{index}",
            "platform": draw(_maybe((None, "ios", "android", "web"))),
            "os": draw(_maybe((None, "iOS", "Android", "Windows"))),
            "browser": draw(_maybe((None, "Chrome", "Safari"))),
            "push_token": draw(_maybe((None, "", "token"))),
        }
        for index in range(draw(st.integers(0, 8)))
    ]
    subscriptions = [
        {
            "profile_id": draw(owners),
            "channel": draw(st.sampled_from(CHANNELS)),
            "resource": draw(st.sampled_from(RESOURCES)),
            "status": draw(st.sampled_from(SUBSCRIPTION_STATUSES)),
            "changed_at": as_of,
        }
        for _index in range(draw(st.integers(0, 8)))
    ]
    relations = [
        {
            "profile_id": draw(owners),
            "related_id": draw(owners),
            "kind": draw(st.sampled_from(RELATION_KINDS)),
            "direction": draw(st.sampled_from(("to", "from"))),
        }
        for _index in range(draw(st.integers(0, 10)))
    ]
    segment_members = [
        {"segment_id": draw(st.sampled_from(SEGMENTS)), "profile_id": draw(owners), "since": as_of}
        for _index in range(draw(st.integers(0, 8)))
    ]
    return as_of, {
        "profiles": profiles,
        "events": events,
        "orders": orders,
        "order_items": order_items,
        "message_events": message_events,
        "devices": devices,
        "subscriptions": subscriptions,
        "relations": relations,
        "members": segment_members,
    }


# --- definitions ----------------------------------------------------------------------------
ORDER_OPS = ("greater", "less", "at_least", "at_most", "between")


def _comparison(draw: st.DrawFn, op: str, value: st.SearchStrategy[Any]) -> dict[str, Any]:
    if op in ("empty", "not_empty"):
        return {"op": op}
    if op in ("in", "not_in"):
        return {"op": op, "value": draw(st.lists(value, min_size=1, max_size=3))}
    if op == "between":
        low, high = sorted((draw(value), draw(value)), key=_sort_key)
        return {"op": op, "value": [low, high]}
    return {"op": op, "value": draw(value)}


def _sort_key(value: Any) -> Any:
    if isinstance(value, str):
        moment = datetime.fromisoformat(value)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return value


def _relative(draw: st.DrawFn, op: str) -> dict[str, Any]:
    if op == "in_month":
        return {"op": op, "value": draw(st.integers(1, 12))}
    if op == "anniversary_within_days":
        return {"op": op, "value": draw(st.sampled_from((0, 1, 2, 7, 30, 366)))}
    return {"op": op, "value": draw(st.sampled_from(DAYS))}


RELATIVE_OPS = (
    "within_last_days",
    "more_than_days_ago",
    "within_next_days",
    "anniversary_within_days",
    "in_month",
)


def _time_texts(as_of: datetime, kind: str) -> st.SearchStrategy[str]:
    if kind == "date":
        return days(as_of).map(date.isoformat)
    return moments(as_of).map(lambda moment: moment.isoformat())


def field_conditions(draw: st.DrawFn, as_of: datetime) -> dict[str, Any]:
    name = draw(
        st.sampled_from(
            ("email", "city", "level", "points", "average_order", "opted_in", "birth_date",
             "registered_at", "tags", "extra")
        )
    )  # fmt: skip
    basic = ("equals", "not_equals", "in", "not_in", "empty", "not_empty")
    if name in ("email", "city"):
        op = draw(st.sampled_from((*basic, "contains", "not_contains", "starts_with")))
        comparison = _comparison(draw, op, st.sampled_from(TEXT_VALUES))
    elif name == "level":
        comparison = _comparison(draw, draw(st.sampled_from(basic)), st.sampled_from(LEVELS))
    elif name in ("points", "average_order"):
        pool = POINTS if name == "points" else AVERAGES
        op = draw(st.sampled_from((*basic, *ORDER_OPS)))
        comparison = _comparison(draw, op, st.sampled_from(pool))
    elif name == "opted_in":
        op = draw(st.sampled_from(("equals", "not_equals", "empty", "not_empty")))
        comparison = _comparison(draw, op, st.booleans())
    elif name in ("birth_date", "registered_at"):
        kind = "date" if name == "birth_date" else "datetime"
        op = draw(
            st.sampled_from(("equals", "not_equals", "empty", "not_empty", *ORDER_OPS,
                             *RELATIVE_OPS))
        )  # fmt: skip
        if op in RELATIVE_OPS:
            comparison = _relative(draw, op)
        else:
            comparison = _comparison(draw, op, _time_texts(as_of, kind))
    elif name == "tags":
        op = draw(
            st.sampled_from(("contains", "not_contains", "in", "not_in", "empty", "not_empty"))
        )
        comparison = _comparison(draw, op, st.sampled_from(TAGS))
    else:
        comparison = {"op": draw(st.sampled_from(("empty", "not_empty")))}
    return {"field": name, **comparison}


def periods(draw: st.DrawFn, as_of: datetime) -> dict[str, Any]:
    if draw(st.booleans()):
        return {}
    if draw(st.booleans()):
        return {"period": {"within_last_days": draw(st.sampled_from(DAYS))}}
    first, last = sorted(
        as_of.date() + timedelta(days=draw(st.sampled_from((-31, -30, -8, -7, -1, 0, 1))))
        for _ in range(2)
    )
    return {"period": {"between": [first.isoformat(), last.isoformat()]}}


TEXT_PROPERTIES = ("category", "brand", "goal", "product_id", "utm_source")
JSON_PROPERTIES = ("properties.size", "properties.color", "properties.code")
PROPERTY_TEXTS = ("shoes", "SHO", "обувь", "nike", "NIKE", "sku", "42", "red", "кРАС", "10", "")
PROPERTY_NUMBERS = (0, 5, 10.5, 20, 40, 41, 42, 9.5)


def property_filters(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(("price", *TEXT_PROPERTIES, *JSON_PROPERTIES)))
    basic = ("equals", "not_equals", "in", "not_in", "empty", "not_empty")
    texts = ("contains", "not_contains", "starts_with")
    numbers = st.sampled_from(PROPERTY_NUMBERS)
    if name == "price":
        op = draw(st.sampled_from((*basic, *ORDER_OPS)))
        comparison = _comparison(draw, op, numbers)
    elif name in TEXT_PROPERTIES:
        op = draw(st.sampled_from((*basic, *texts)))
        comparison = _comparison(draw, op, st.sampled_from(PROPERTY_TEXTS))
    else:
        op = draw(st.sampled_from((*basic, *texts, *ORDER_OPS)))
        if op in ORDER_OPS:
            comparison = _comparison(draw, op, numbers)
        elif op in texts:
            comparison = _comparison(draw, op, st.sampled_from(PROPERTY_TEXTS))
        else:
            values = st.sampled_from(PROPERTY_TEXTS) | st.sampled_from((10, 40, 42, 9.5))
            comparison = _comparison(draw, op, values)
    return {"property": name, **comparison}


# Comparisons of an aggregate that is missing for a profile without activity rows.
FLOAT_MEASURE_OPS = ("equals", "not_equals", *ORDER_OPS, "empty", "not_empty")
COUNT_OPS = ("equals", "not_equals", "in", "not_in", *ORDER_OPS)
TIME_MEASURE_OPS = ("empty", "not_empty", *ORDER_OPS, "within_last_days", "more_than_days_ago")


def _measured(draw: st.DrawFn, kind: str, as_of: datetime) -> dict[str, Any]:
    if kind == "count":
        return _comparison(draw, draw(st.sampled_from(COUNT_OPS)), st.integers(0, 3))
    if kind == "sum":  # never missing: 0 without rows
        op = draw(st.sampled_from(FLOAT_MEASURE_OPS))
        return _comparison(draw, op, st.sampled_from((0, 5, 10.5, 20, 30, 42, 250)))
    if kind == "float":
        op = draw(st.sampled_from(FLOAT_MEASURE_OPS))
        return _comparison(draw, op, st.sampled_from((0, 5, 10.5, 20, 30, 42, 99.5)))
    op = draw(st.sampled_from(TIME_MEASURE_OPS))
    if op in ("within_last_days", "more_than_days_ago"):
        return {"op": op, "value": draw(st.sampled_from(DAYS))}
    return _comparison(draw, op, _time_texts(as_of, "datetime"))


def event_conditions(draw: st.DrawFn, as_of: datetime) -> dict[str, Any]:
    document: dict[str, Any] = {"event": draw(st.sampled_from(EVENT_NAMES))}
    filters = [property_filters(draw) for _ in range(draw(st.integers(0, 2)))]
    if filters:
        document["where"] = filters
    document.update(periods(draw, as_of))
    shape = draw(st.sampled_from(("default", "performed", "count", "aggregate", "time")))
    if shape == "performed":
        document["performed"] = draw(st.booleans())
    elif shape == "count":
        document.update(_measured(draw, "count", as_of))
    elif shape == "aggregate":
        measure = draw(st.sampled_from(("sum", "avg", "min", "max")))
        document["measure"] = measure
        document["property"] = draw(st.sampled_from(("price", "properties.size")))
        document.update(_measured(draw, "sum" if measure == "sum" else "float", as_of))
    elif shape == "time":
        document["measure"] = draw(st.sampled_from(("first", "last")))
        document.update(_measured(draw, "time", as_of))
    return document


def order_conditions(draw: st.DrawFn, as_of: datetime) -> dict[str, Any]:
    measure = draw(st.sampled_from(("count", "total", "average", "first", "last")))
    kind = {"count": "count", "total": "sum", "average": "float"}.get(measure, "time")
    document: dict[str, Any] = {"order": measure, **_measured(draw, kind, as_of)}
    if draw(st.booleans()):
        document["status"] = draw(
            st.sampled_from(ORDER_STATUSES) | st.lists(st.sampled_from(ORDER_STATUSES), max_size=2)
        )
    document.update(periods(draw, as_of))
    return document


def other_leaves(draw: st.DrawFn, as_of: datetime, depth: int) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(
            ("bought", "subscription", "device", "goal", "interest", "message", "promo_code",
             "related", "segment", "bucket")
        )
    )  # fmt: skip
    if kind == "bought":
        attribute, pool = draw(
            st.sampled_from(
                (("product_id", ("sku1", "sku2", "sku3")), ("category", ("shoes", "Обувь")),
                 ("brand", ("nike", "Зенит")))
            )
        )  # fmt: skip
        values = draw(st.sampled_from(pool) | st.lists(st.sampled_from(pool), min_size=1))
        document: dict[str, Any] = {"bought": {attribute: values}}
        if draw(st.booleans()):
            document["status"] = draw(st.sampled_from(ORDER_STATUSES))
        return {**document, **periods(draw, as_of)}
    if kind == "subscription":
        document = {"subscription": draw(st.sampled_from(CHANNELS))}
        if draw(st.booleans()):
            document["status"] = draw(st.sampled_from(SUBSCRIPTION_STATUSES))
        if draw(st.booleans()):
            document["resource"] = draw(st.sampled_from(RESOURCES))
        return document
    if kind == "device":
        spec: dict[str, Any] = {}
        for key, pool in (
            ("platform", ("ios", "android", "web")),
            ("os", ("iOS", "Android")),
            ("browser", ("Chrome", "Safari")),
        ):
            if draw(st.booleans()):
                spec[key] = draw(
                    st.sampled_from(pool) | st.lists(st.sampled_from(pool), max_size=2)
                )
        if draw(st.booleans()) or not spec:
            spec["has_push_token"] = draw(st.booleans())
        return {"device": spec}
    if kind == "goal":
        return {"goal": draw(st.sampled_from(("signup", "purchase"))), **periods(draw, as_of)}
    if kind == "interest":
        attribute, pool = draw(
            st.sampled_from((("category", ("shoes", "bags", "Обувь")), ("brand", ("nike", "Nike"))))
        )
        document = {"interest": {attribute: draw(st.sampled_from(pool))}}
        if draw(st.booleans()):
            document["at_least"] = draw(st.integers(1, 3))
        return {**document, **periods(draw, as_of)}
    if kind == "message":
        document = {"message": draw(st.sampled_from(MESSAGE_ACTIONS))}
        if draw(st.booleans()):
            document["campaign"] = draw(st.sampled_from(("c1", "c2")))
        if draw(st.booleans()):
            document["channel"] = draw(st.sampled_from(CHANNELS))
        return {**document, **periods(draw, as_of)}
    if kind == "promo_code":
        document = {"promo_code": draw(st.sampled_from(("issued", "redeemed")))}
        if draw(st.booleans()):
            document["code"] = draw(st.sampled_from((*CODES, 10)))
        return {**document, **periods(draw, as_of)}
    if kind == "related":
        document = {
            "related": draw(st.sampled_from(RELATION_KINDS)),
            "where": conditions(draw, as_of, depth + 1),
        }
        if draw(st.booleans()):
            document["direction"] = draw(st.sampled_from(("to", "from", "any")))
        return document
    if kind == "segment":
        return {"segment": draw(st.sampled_from((*SEGMENTS, "nobody")))}
    start = draw(st.integers(0, 99))
    stop = draw(st.integers(start + 1, 100))
    document = {"bucket": {"from": start, "to": stop}}
    if draw(st.booleans()):
        document["salt"] = draw(st.sampled_from(("", "exp-1", "опыт")))
    return document


MAX_DEPTH = 3


def conditions(draw: st.DrawFn, as_of: datetime, depth: int = 1) -> dict[str, Any]:
    """A condition document at `depth` (1 is the top); groups only above MAX_DEPTH."""
    kinds = ["field", "event", "order", "other"]
    if depth < MAX_DEPTH:
        kinds += ["all", "any", "not"]
    kind = draw(st.sampled_from(kinds))
    if kind in ("all", "any"):
        children = [conditions(draw, as_of, depth + 1) for _ in range(draw(st.integers(1, 2)))]
        return {kind: children}
    if kind == "not":
        return {"not": conditions(draw, as_of, depth + 1)}
    if kind == "field":
        return field_conditions(draw, as_of)
    if kind == "event":
        return event_conditions(draw, as_of)
    if kind == "order":
        return order_conditions(draw, as_of)
    return other_leaves(draw, as_of, depth)


@st.composite
def definitions(draw: st.DrawFn, as_of: datetime) -> SegmentDefinition:
    document = {"name": "generated", "database": "shop", "where": conditions(draw, as_of)}
    return parse_definition(document)


# --- running --------------------------------------------------------------------------------
PROJECT = SqlProject.load()  # loaded once: the compiler would read every macro per example


def engine_members(
    warehouse: Warehouse, definition: SegmentDefinition, as_of: datetime
) -> set[str]:
    compiler = SegmentCompiler(warehouse, SHOP_SCHEMA, as_of=as_of, project=PROJECT)
    return set(warehouse.query_arrow(compiler.members_sql(definition)).column(0).to_pylist())


def assert_same_members(
    warehouses: list[Warehouse],
    data: dict[str, list[dict[str, Any]]],
    chosen: list[SegmentDefinition],
    as_of: datetime,
) -> None:
    for warehouse in warehouses:
        load_segment_inputs(warehouse, SHOP_SCHEMA, **data)
    for definition in chosen:
        expected = members(definition, data, as_of, SHOP_SCHEMA)
        for warehouse in warehouses:
            found = engine_members(warehouse, definition, as_of)
            assert found == expected, (
                f"{warehouse.engine}: {sorted(found)} != reference {sorted(expected)} for "
                f"{definition.document}"
            )


@st.composite
def shops_and_definitions(
    draw: st.DrawFn,
) -> tuple[datetime, dict[str, list[dict[str, Any]]], list[SegmentDefinition]]:
    as_of, data = draw(shops())
    chosen = draw(st.lists(definitions(as_of), min_size=2, max_size=8))
    return as_of, data, chosen


@pytest.fixture
def shm_duckdb_warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    """DuckDB on tmpfs when there is one: the warehouse opens its file for every statement and
    each example writes nine tables."""
    shm = Path("/dev/shm")
    folder = Path(tempfile.mkdtemp(dir=shm)) if shm.is_dir() else tmp_path
    yield DuckDBWarehouse(folder / "warehouse.duckdb")
    if folder != tmp_path:
        shutil.rmtree(folder, ignore_errors=True)


@settings(
    max_examples=PROPERTY_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=shops_and_definitions())
def test_engines_and_reference_select_the_same_members(
    shm_duckdb_warehouse: Warehouse, chdb_warehouse: Warehouse, case: Any
) -> None:
    as_of, data, chosen = case
    assert_same_members([shm_duckdb_warehouse, chdb_warehouse], data, chosen, as_of)


# --- examples -------------------------------------------------------------------------------
AS_OF = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def selected(
    warehouse: Warehouse, where: dict[str, Any], as_of: datetime = AS_OF, **data: Any
) -> set[str]:
    """Members on the engine, after checking the reference agrees."""
    load_segment_inputs(warehouse, SHOP_SCHEMA, **data)
    definition = parse_definition({"name": "example", "database": "shop", "where": where})
    found = engine_members(warehouse, definition, as_of)
    assert found == members(definition, data, as_of, SHOP_SCHEMA)
    return found


@pytest.mark.parametrize(
    ("today", "days", "expected"),
    [
        (datetime(2027, 2, 27, tzinfo=UTC), 1, {"leapling", "feb28"}),  # 2027: kept on 28 Feb
        (datetime(2027, 2, 27, tzinfo=UTC), 0, set()),
        (datetime(2027, 2, 28, tzinfo=UTC), 0, {"leapling", "feb28"}),
        (datetime(2028, 2, 27, tzinfo=UTC), 1, {"feb28"}),  # 2028 has its own 29 February
        (datetime(2028, 2, 27, tzinfo=UTC), 2, {"leapling", "feb28"}),
        (datetime(2028, 2, 28, tzinfo=UTC), 2, {"leapling", "feb28", "mar1"}),
        (datetime(2028, 2, 29, tzinfo=UTC), 0, {"leapling"}),
    ],
)
def test_a_29_february_birthday_falls_on_28_february_in_common_years(
    warehouse: Warehouse, today: datetime, days: int, expected: set[str]
) -> None:
    profiles = [
        {"profile_id": "leapling", "birth_date": date(1992, 2, 29)},
        {"profile_id": "feb28", "birth_date": date(1991, 2, 28)},
        {"profile_id": "mar1", "birth_date": date(1990, 3, 1)},
        {"profile_id": "unknown"},
    ]
    where = {"field": "birth_date", "op": "anniversary_within_days", "value": days}
    assert selected(warehouse, where, today, profiles=profiles) == expected


def test_not_equals_includes_profiles_without_the_value(warehouse: Warehouse) -> None:
    profiles = [
        {"profile_id": "moscow", "city": "Москва"},
        {"profile_id": "tver", "city": "Tver"},
        {"profile_id": "unknown"},
    ]
    where = {"field": "city", "op": "not_equals", "value": "Москва"}
    assert selected(warehouse, where, profiles=profiles) == {"tver", "unknown"}


def test_text_contains_ignores_case_in_cyrillic_and_equals_does_not(
    warehouse: Warehouse,
) -> None:
    profiles = [
        {"profile_id": "upper", "city": "МОСКВА"},
        {"profile_id": "lower", "city": "москва"},
    ]
    contains = {"field": "city", "op": "contains", "value": "Моск"}
    equals = {"field": "city", "op": "equals", "value": "москва"}
    assert selected(warehouse, contains, profiles=profiles) == {"upper", "lower"}
    assert selected(warehouse, equals, profiles=profiles) == {"lower"}


def test_at_most_counts_profiles_without_events_as_zero(warehouse: Warehouse) -> None:
    profiles = [{"profile_id": "busy"}, {"profile_id": "once"}, {"profile_id": "never"}]
    events = [
        {"profile_id": profile_id, "event_id": f"{profile_id}{index}", "event_name": "Visit",
         "occurred_at": AS_OF}
        for profile_id, times in (("busy", 2), ("once", 1))
        for index in range(times)
    ]  # fmt: skip
    where = {"event": "Visit", "op": "at_most", "value": 1}
    assert selected(warehouse, where, profiles=profiles, events=events) == {"once", "never"}


def test_a_sum_of_no_events_is_zero_and_an_average_is_missing(warehouse: Warehouse) -> None:
    profiles = [{"profile_id": "buyer"}, {"profile_id": "never"}]
    events = [{"profile_id": "buyer", "event_id": "1", "event_name": "Paid", "occurred_at": AS_OF,
               "price": 5.0}]  # fmt: skip
    no_sum = {"event": "Paid", "measure": "sum", "property": "price", "op": "at_most", "value": 0}
    no_average = {"event": "Paid", "measure": "avg", "property": "price", "op": "empty"}
    assert selected(warehouse, no_sum, profiles=profiles, events=events) == {"never"}
    assert selected(warehouse, no_average, profiles=profiles, events=events) == {"never"}


def test_periods_include_their_edges_to_the_microsecond(warehouse: Warehouse) -> None:
    tick = timedelta(microseconds=1)
    week_ago = AS_OF - timedelta(days=7)
    last_midnight = datetime(2026, 11, 26, tzinfo=UTC)
    times = {
        "week_ago": week_ago,
        "before_week": week_ago - tick,
        "now": AS_OF,
        "after_now": AS_OF + tick,
        "day_end": last_midnight - tick,
        "next_day": last_midnight,
    }
    profiles = [{"profile_id": name} for name in times]
    events = [
        {"profile_id": name, "event_id": name, "event_name": "Visit", "occurred_at": moment}
        for name, moment in times.items()
    ]
    last_week = {"event": "Visit", "period": {"within_last_days": 7}}
    before_today = {"event": "Visit", "period": {"between": ["2026-11-19", "2026-11-25"]}}
    found = selected(warehouse, last_week, profiles=profiles, events=events)
    assert found == {"week_ago", "now", "day_end", "next_day"}
    found = selected(warehouse, before_today, profiles=profiles, events=events)
    assert found == {"week_ago", "before_week", "day_end"}


def test_a_bucket_is_the_documented_md5_share(warehouse: Warehouse) -> None:
    profiles = [{"profile_id": profile_id} for profile_id in PROFILE_IDS]
    where = {"bucket": {"from": 20, "to": 70}, "salt": "опыт"}
    expected = {
        profile_id
        for profile_id in PROFILE_IDS
        if 20 <= int(hashlib.md5(f"опыт:{profile_id}".encode()).hexdigest()[:8], 16) % 100 < 70
    }
    assert selected(warehouse, where, profiles=profiles) == expected
    assert all(20 <= bucket("опыт", profile_id) < 70 for profile_id in expected)


def test_not_equals_on_an_average_includes_profiles_without_events(
    warehouse: Warehouse,
) -> None:
    profiles = [{"profile_id": "five"}, {"profile_id": "never"}]
    events = [{"profile_id": "five", "event_id": "1", "event_name": "Paid", "occurred_at": AS_OF,
               "price": 5.0}]  # fmt: skip
    where = {"event": "Paid", "measure": "avg", "property": "price", "op": "not_equals",
             "value": 5}  # fmt: skip
    load_segment_inputs(warehouse, SHOP_SCHEMA, profiles=profiles, events=events)
    definition = parse_definition({"name": "example", "database": "shop", "where": where})
    assert engine_members(warehouse, definition, AS_OF) == {"never"}


def test_a_json_null_property_is_missing_on_chdb(chdb_warehouse: Warehouse) -> None:
    profiles = [{"profile_id": "sized"}, {"profile_id": "null_size"}]
    events = [
        {"profile_id": "sized", "event_id": "1", "event_name": "Viewed", "occurred_at": AS_OF,
         "properties": '{"size": 42}'},
        {"profile_id": "null_size", "event_id": "2", "event_name": "Viewed",
         "occurred_at": AS_OF, "properties": '{"size": null}'},
    ]  # fmt: skip
    where = {"event": "Viewed", "where": [{"property": "properties.size", "op": "not_empty"}]}
    load_segment_inputs(chdb_warehouse, SHOP_SCHEMA, profiles=profiles, events=events)
    definition = parse_definition({"name": "example", "database": "shop", "where": where})
    assert engine_members(chdb_warehouse, definition, AS_OF) == {"sized"}


def test_a_json_null_property_is_missing_on_duckdb(duckdb_warehouse: Warehouse) -> None:
    profiles = [{"profile_id": "sized"}, {"profile_id": "null_size"}]
    events = [
        {"profile_id": "sized", "event_id": "1", "event_name": "Viewed", "occurred_at": AS_OF,
         "properties": '{"size": 42}'},
        {"profile_id": "null_size", "event_id": "2", "event_name": "Viewed",
         "occurred_at": AS_OF, "properties": '{"size": null}'},
    ]  # fmt: skip
    where = {"event": "Viewed", "where": [{"property": "properties.size", "op": "not_empty"}]}
    assert selected(duckdb_warehouse, where, profiles=profiles, events=events) == {"sized"}
