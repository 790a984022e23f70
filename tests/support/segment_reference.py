"""A plain-Python reading of the segment definition semantics, for property tests.

    members(definition, data, as_of) -> {"p1", "p4"}

`data` holds the rows given to `tests.fixtures.segments.load_segment_inputs` (keys profiles,
events, orders, order_items, message_events, devices, subscriptions, relations, members; a
missing key is no rows, a missing column is None). Written from the definition's
documentation, not from the compiler: truth is two-valued (a test of a missing value is
false, and a `not_*` op is the exact negation of its positive op), relative dates are taken
against `as_of` (UTC), counts and sums of no rows are 0 while the other aggregates of no rows
are missing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from herald.profiles.schema import ProfileSchema
from herald.segments.definition import (
    All,
    Any_,
    BoughtCondition,
    BucketCondition,
    Comparison,
    Condition,
    DeviceCondition,
    EventCondition,
    FieldCondition,
    GoalCondition,
    InterestCondition,
    MessageCondition,
    Not,
    OrderCondition,
    Period,
    PromoCodeCondition,
    RelatedCondition,
    SegmentCondition,
    SegmentDefinition,
    SubscriptionCondition,
)

Row = Mapping[str, Any]
Data = Mapping[str, Sequence[Row]]

# Event columns a filter may name directly (price is a number, the rest text).
EVENT_TEXT_COLUMNS = (
    "event_id",
    "product_id",
    "category",
    "brand",
    "goal",
    "url",
    "path",
    "referrer_host",
    "traffic_source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
)
NUMERIC_OPS = ("greater", "less", "at_least", "at_most", "between")


def members(
    definition: SegmentDefinition, data: Data, as_of: datetime, schema: ProfileSchema
) -> set[str]:
    """The profile ids the definition selects from `data` at `as_of`."""
    assert definition.where is not None
    reference = _Reference(data, as_of.astimezone(UTC), schema)
    return {
        profile["profile_id"]
        for profile in reference.profiles
        if reference.holds(definition.where, profile)
    }


class _Reference:
    def __init__(self, data: Data, as_of: datetime, schema: ProfileSchema):
        self.database = schema.database
        self.types = {field.name: field.type for field in schema.fields}
        self.as_of = as_of
        self.today = as_of.date()
        self.profiles = list(data.get("profiles", ()))
        self.data = data

    def rows(self, table: str, profile: Row) -> list[Row]:
        return [
            row
            for row in self.data.get(table, ())
            if row.get("database", self.database) == self.database
            and row.get("profile_id") == profile["profile_id"]
        ]

    # --- groups and leaves --------------------------------------------------------------
    def holds(self, condition: Condition, profile: Row) -> bool:
        if isinstance(condition, All):
            return all(self.holds(child, profile) for child in condition.conditions)
        if isinstance(condition, Any_):
            return any(self.holds(child, profile) for child in condition.conditions)
        if isinstance(condition, Not):
            return not self.holds(condition.condition, profile)
        check: Callable[[Any, Row], bool] = getattr(self, _LEAVES[type(condition)])
        return check(condition, profile)

    def field(self, condition: FieldCondition, profile: Row) -> bool:
        field_type = self.types[condition.field]
        value = profile.get(condition.field)
        if field_type == "list":
            return _list_test(value or [], condition.comparison)
        return _test(value, condition.comparison, _FIELD_KINDS[field_type], self)

    def event(self, condition: EventCondition, profile: Row) -> bool:
        rows = [
            row
            for row in self.rows("events", profile)
            if row.get("event_name") == condition.event
            and self.in_period(row.get("occurred_at"), condition.period)
            and all(
                _event_filter(row, entry.property, entry.comparison, self)
                for entry in condition.where
            )
        ]
        measure = condition.measure
        if measure == "count":
            return _test(len(rows), condition.comparison, "number", self)
        if measure in ("first", "last"):
            times = [row["occurred_at"] for row in rows if row.get("occurred_at") is not None]
            moment = (min if measure == "first" else max)(times) if times else None
            return _test(moment, condition.comparison, "datetime", self)
        assert condition.property is not None
        numbers = [
            number for row in rows if (number := _event_number(row, condition.property)) is not None
        ]
        if measure == "sum":
            return _test(sum(numbers), condition.comparison, "number", self)
        aggregate: float | None = None
        if numbers:
            aggregate = {
                "avg": lambda: sum(numbers) / len(numbers),
                "min": lambda: min(numbers),
                "max": lambda: max(numbers),
            }[measure]()
        return _test(aggregate, condition.comparison, "number", self)

    def order(self, condition: OrderCondition, profile: Row) -> bool:
        rows = [
            row
            for row in self.rows("orders", profile)
            if self.in_period(row.get("created_at"), condition.period)
            and (not condition.status or row.get("status") in condition.status)
        ]
        totals = [row["total"] for row in rows if row.get("total") is not None]
        times = [row["created_at"] for row in rows if row.get("created_at") is not None]
        measure = condition.measure
        if measure == "count":
            return _test(len(rows), condition.comparison, "number", self)
        if measure == "total":
            return _test(sum(totals), condition.comparison, "number", self)
        if measure == "average":
            average = sum(totals) / len(totals) if totals else None
            return _test(average, condition.comparison, "number", self)
        moment = ((min if measure == "first" else max)(times)) if times else None
        return _test(moment, condition.comparison, "datetime", self)

    def bought(self, condition: BoughtCondition, profile: Row) -> bool:
        return any(
            row.get(condition.attribute) in condition.values
            and self.in_period(row.get("created_at"), condition.period)
            and (not condition.status or row.get("status") in condition.status)
            for row in self.rows("order_items", profile)
        )

    def subscription(self, condition: SubscriptionCondition, profile: Row) -> bool:
        return any(
            row.get("channel") == condition.channel
            and row.get("resource") == condition.resource
            and row.get("status") == condition.status
            for row in self.rows("subscriptions", profile)
        )

    def device(self, condition: DeviceCondition, profile: Row) -> bool:
        def matches(row: Row) -> bool:
            for column in ("platform", "os", "browser"):
                wanted = getattr(condition, column)
                if wanted and row.get(column) not in wanted:
                    return False
            if condition.has_push_token is not None:
                has_token = bool(row.get("push_token"))
                if has_token != condition.has_push_token:
                    return False
            return True

        return any(matches(row) for row in self.rows("devices", profile))

    def goal(self, condition: GoalCondition, profile: Row) -> bool:
        return any(
            row.get("goal") == condition.goal
            and self.in_period(row.get("occurred_at"), condition.period)
            for row in self.rows("events", profile)
        )

    def interest(self, condition: InterestCondition, profile: Row) -> bool:
        views = [
            row
            for row in self.rows("events", profile)
            if row.get("event_name") == "Product Viewed"
            and row.get(condition.attribute) == condition.value
            and self.in_period(row.get("occurred_at"), condition.period)
        ]
        return len(views) >= condition.at_least

    def message(self, condition: MessageCondition, profile: Row) -> bool:
        event_type = "delivered" if condition.action == "received" else condition.action
        return any(
            row.get("event_type") == event_type
            and (condition.campaign is None or row.get("campaign_id") == condition.campaign)
            and (condition.channel is None or row.get("channel") == condition.channel)
            and self.in_period(row.get("occurred_at"), condition.period)
            for row in self.rows("message_events", profile)
        )

    def promo_code(self, condition: PromoCodeCondition, profile: Row) -> bool:
        if condition.action == "issued":
            return any(
                row.get("event_name") == "Promo Code Issued"
                and self.in_period(row.get("occurred_at"), condition.period)
                and (
                    condition.code is None
                    or _json_text(row.get("properties"), "code") == condition.code
                )
                for row in self.rows("events", profile)
            )
        return any(
            bool(row.get("promo_code"))
            and (condition.code is None or row.get("promo_code") == condition.code)
            and self.in_period(row.get("created_at"), condition.period)
            for row in self.rows("orders", profile)
        )

    def related(self, condition: RelatedCondition, profile: Row) -> bool:
        matching = {
            other["profile_id"] for other in self.profiles if self.holds(condition.where, other)
        }
        return any(
            row.get("kind") == condition.kind
            and (condition.direction == "any" or row.get("direction") == condition.direction)
            and row.get("related_id") in matching
            for row in self.rows("relations", profile)
        )

    def segment(self, condition: SegmentCondition, profile: Row) -> bool:
        return any(
            row.get("segment_id") == condition.segment
            and row.get("profile_id") == profile["profile_id"]
            for row in self.data.get("members", ())
        )

    def bucket_of(self, condition: BucketCondition, profile: Row) -> bool:
        return condition.start <= bucket(condition.salt, profile["profile_id"]) < condition.stop

    # --- time ---------------------------------------------------------------------------
    def in_period(self, moment: datetime | None, period: Period) -> bool:
        if period.within_last_days is not None:
            if moment is None:
                return False
            return self.as_of - timedelta(days=period.within_last_days) <= moment <= self.as_of
        if period.between is not None:
            if moment is None:
                return False
            first, last = period.between
            start = datetime(first.year, first.month, first.day, tzinfo=UTC)
            stop = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
            return start <= moment < stop
        return True


_LEAVES: dict[type, str] = {
    FieldCondition: "field",
    EventCondition: "event",
    OrderCondition: "order",
    BoughtCondition: "bought",
    SubscriptionCondition: "subscription",
    DeviceCondition: "device",
    GoalCondition: "goal",
    InterestCondition: "interest",
    MessageCondition: "message",
    PromoCodeCondition: "promo_code",
    RelatedCondition: "related",
    SegmentCondition: "segment",
    BucketCondition: "bucket_of",
}


def bucket(salt: str, profile_id: str) -> int:
    """The profile's stable bucket 0..99 for `salt`."""
    digest = hashlib.md5(f"{salt}:{profile_id}".encode()).hexdigest()
    return int(digest[:8], 16) % 100


_FIELD_KINDS = {
    "string": "text",
    "enum": "text",
    "integer": "number",
    "float": "number",
    "boolean": "boolean",
    "date": "date",
    "datetime": "datetime",
    "json": "text",
}


# --- comparisons ------------------------------------------------------------------------------
def _test(value: Any, comparison: Comparison, kind: str, reference: _Reference) -> bool:
    """Two-valued: False whenever the value is missing, except for empty and the not_ ops."""
    op, expected = comparison.op, comparison.value
    if op == "empty":
        return value is None
    if op == "not_empty":
        return value is not None
    if op.startswith("not_"):
        positive = Comparison(op.removeprefix("not_"), expected)  # type: ignore[arg-type]
        return not _test(value, positive, kind, reference)
    if value is None:
        return False
    if kind == "text":
        text = str(value)
        if op == "equals":
            return text == str(expected)
        if op == "in":
            return text in {str(entry) for entry in expected}
        if op == "contains":
            return str(expected).lower() in text.lower()
        if op == "starts_with":
            return text.lower().startswith(str(expected).lower())
        raise AssertionError(f"{op} on text")
    if kind == "boolean":
        assert op == "equals"
        return bool(value) is expected
    if kind in ("date", "datetime"):
        return _time_test(value, op, expected, kind, reference)
    convert = float
    if op == "equals":
        return value == convert(expected)
    if op == "in":
        return value in {convert(entry) for entry in expected}
    return _ordered(value, op, expected, convert)


def _ordered(value: Any, op: str, expected: Any, convert: Callable[[Any], Any]) -> bool:
    if op == "greater":
        return value > convert(expected)
    if op == "less":
        return value < convert(expected)
    if op == "at_least":
        return value >= convert(expected)
    if op == "at_most":
        return value <= convert(expected)
    if op == "between":
        return convert(expected[0]) <= value <= convert(expected[1])
    raise AssertionError(op)


def _time_test(value: Any, op: str, expected: Any, kind: str, reference: _Reference) -> bool:
    def convert(entry: Any) -> Any:
        return _as_date(entry) if kind == "date" else _as_datetime(entry)

    if op == "in_month":
        return value.month == expected
    if op == "anniversary_within_days":
        return _anniversary_within(value.month, value.day, reference.today, expected)
    if kind == "date":
        now: Any = reference.today
        step: Any = timedelta(days=expected) if op in _RELATIVE else None
    else:
        now = reference.as_of
        step = timedelta(days=expected) if op in _RELATIVE else None
    if op == "within_last_days":
        return now - step <= value <= now
    if op == "more_than_days_ago":
        return value < now - step
    if op == "within_next_days":
        return now <= value <= now + step
    if op == "equals":
        return value == convert(expected)
    return _ordered(value, op, expected, convert)


_RELATIVE = ("within_last_days", "more_than_days_ago", "within_next_days")


def _anniversary_within(month: int, day: int, today: date, days: int) -> bool:
    """Whether the yearly day (month, day) falls on one of today .. today + days; a 29 February
    is kept on 28 February in a year without one."""
    for offset in range(min(days, 366) + 1):
        current = today + timedelta(days=offset)
        if (current.month, current.day) == (month, day):
            return True
        leapling = (month, day) == (2, 29)
        if leapling and (current.month, current.day) == (2, 28) and not _leap(current.year):
            return True
    return False


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _list_test(values: Iterable[str], comparison: Comparison) -> bool:
    listed = list(values)
    op, expected = comparison.op, comparison.value
    if op == "empty":
        return not listed
    if op == "not_empty":
        return bool(listed)
    if op.startswith("not_"):
        positive = Comparison(op.removeprefix("not_"), expected)  # type: ignore[arg-type]
        return not _list_test(listed, positive)
    if op == "contains":
        return str(expected) in listed
    if op == "in":
        return any(str(entry) in listed for entry in expected)
    raise AssertionError(f"{op} on a list")


# --- events ---------------------------------------------------------------------------------
def _json_text(properties: str | None, key: str) -> str | None:
    """A JSON property as text: a string as it is, a number or boolean as written; None when
    the key is absent, null or an empty text."""
    if properties is None:
        return None
    try:
        document = json.loads(properties)
    except ValueError:
        return None
    if not isinstance(document, dict) or key not in document:
        return None
    value = document[key]
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = json.dumps(value, ensure_ascii=False)
    return text or None


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text.strip())
    except ValueError:
        return None


def _event_value(row: Row, name: str, numeric: bool) -> tuple[Any, str]:
    if name == "price":
        return row.get("price"), "number"
    if name in EVENT_TEXT_COLUMNS:
        return row.get(name), "text"
    text = _json_text(row.get("properties"), name.removeprefix("properties."))
    if numeric:
        return _number(text), "number"
    return text, "text"


def _event_number(row: Row, name: str) -> float | None:
    value, _kind = _event_value(row, name, True)
    return value


def _event_filter(row: Row, name: str, comparison: Comparison, reference: _Reference) -> bool:
    value = comparison.value
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    numeric = comparison.op in NUMERIC_OPS or (
        comparison.op in ("equals", "not_equals") and is_number
    )
    found, kind = _event_value(row, name, numeric)
    return _test(found, comparison, kind, reference)
