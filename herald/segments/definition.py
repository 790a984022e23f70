"""A segment definition: a versioned document (YAML or JSON) describing who is in an audience.

    version: 1
    name: gold-shoe-lovers            # the segment id: a slug, never changes
    database: customers               # the profile database its members come from
    title: Gold customers who like shoes
    where:
      all:
        - {field: loyalty_level, op: equals, value: gold}
        - {event: Product Viewed, where: [{property: category, op: equals, value: shoes}],
           period: {within_last_days: 30}, op: at_least, value: 3}
        - not: {segment: churned}

Every condition is a mapping whose first key names its kind:

- groups: `all: [...]` (AND), `any: [...]` (OR), `not: {...}` — nested to any depth;
- `field`: a profile field compared with `op` and `value` (COMPARISONS);
- `event`: web/app events of that name, optionally filtered by properties (`where`) and a
  `period`, measured (`measure`: count, sum, avg, min, max, first, last; `property` for the
  four aggregates) and compared (`op`, `value`; default: count at_least 1);
  `performed: false` is "did not perform" (count equals 0);
- `order`: the customer's orders (optionally of `status` and in a `period`) measured by
  count, total, average, first, last and compared;
- `bought`: at least one order line of a `product_id`, `category` or `brand` (a value or a
  list), optionally of order `status` and in a `period`;
- `subscription`: a channel (`resource`, default `*`) in `status` subscribed, unsubscribed or
  suppressed;
- `device`: at least one device with the given `platform`, `os`, `browser` (values or lists)
  and `has_push_token`;
- `goal`: reached goal `goal` (in a `period`);
- `interest`: viewed products of a `category` or `brand` (`at_least` times, in a `period`);
- `message`: a message event `message` (received, opened, clicked, bounced, complained,
  unsubscribed, sent, failed) of a `campaign` and/or `channel` in a `period`;
- `promo_code`: a promo code `issued` (event "Promo Code Issued") or `redeemed` (an order
  with a promo code), optionally a given `code`, in a `period`;
- `related`: related by a relation `related` (its kind) to a profile matching `where`
  (`direction`: to, from or any; default any);
- `segment`: a member of another segment (`not:` for "not in");
- `bucket`: a stable random share of profiles, `from` ≤ bucket < `to` with buckets 0..99
  drawn from md5(`salt` + ':' + profile_id) — the same split on every engine.

Truth is two-valued: a condition on a missing value is false (so `not` of it is true).
Relative dates are taken against the computation's time `as_of` (UTC), which every engine
receives as a literal: the same definition at the same `as_of` gives the same members.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, cast, get_args

import yaml

from herald.errors import HeraldError
from herald.i18n import N_


class SegmentDefinitionError(HeraldError):
    """A segment definition that cannot be saved; the message names where and why."""


SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
DEFINITION_VERSION = 1

Op = Literal[
    "equals",
    "not_equals",
    "in",
    "not_in",
    "contains",
    "not_contains",
    "starts_with",
    "empty",
    "not_empty",
    "greater",
    "less",
    "at_least",
    "at_most",
    "between",
    "within_last_days",
    "more_than_days_ago",
    "within_next_days",
    "anniversary_within_days",
    "in_month",
]
OPS: tuple[Op, ...] = get_args(Op)
NO_VALUE_OPS = ("empty", "not_empty")
LIST_VALUE_OPS = ("in", "not_in")
ORDER_OPS = ("greater", "less", "at_least", "at_most", "between")
RELATIVE_OPS = (
    "within_last_days",
    "more_than_days_ago",
    "within_next_days",
    "anniversary_within_days",
    "in_month",
)
TEXT_OPS = ("contains", "not_contains", "starts_with")
MAX_DAYS = 36_600

ValueType = Literal["string", "integer", "float", "boolean", "date", "datetime", "list", "json"]

Measure = Literal["count", "sum", "avg", "min", "max", "first", "last"]
MEASURES: tuple[Measure, ...] = get_args(Measure)
OrderMeasure = Literal["count", "total", "average", "first", "last"]
ORDER_MEASURES: tuple[OrderMeasure, ...] = get_args(OrderMeasure)
MESSAGE_ACTIONS = (
    "sent",
    "received",
    "opened",
    "clicked",
    "bounced",
    "complained",
    "unsubscribed",
    "failed",
)
SUBSCRIPTION_STATUSES = ("subscribed", "unsubscribed", "suppressed")
RELATION_DIRECTIONS = ("to", "from", "any")
PROMO_ACTIONS = ("issued", "redeemed")


# --- comparisons ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Comparison:
    """`op` and its `value` (None for empty / not_empty; a pair for between; a tuple for
    in / not_in; days or a month for the relative date ops)."""

    op: Op
    value: Any = None


@dataclass(frozen=True)
class Period:
    """When activity counts: the last N days, between two dates (inclusive), or ever."""

    within_last_days: int | None = None
    between: tuple[date, date] | None = None


@dataclass(frozen=True)
class PropertyFilter:
    property: str
    comparison: Comparison


# --- conditions -----------------------------------------------------------------------------
@dataclass(frozen=True)
class All:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class Any_:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    condition: Condition


@dataclass(frozen=True)
class FieldCondition:
    field: str
    comparison: Comparison


@dataclass(frozen=True)
class EventCondition:
    event: str
    where: tuple[PropertyFilter, ...] = ()
    period: Period = Period()
    measure: Measure = "count"
    property: str | None = None
    comparison: Comparison = Comparison("at_least", 1)


@dataclass(frozen=True)
class OrderCondition:
    measure: OrderMeasure
    comparison: Comparison
    status: tuple[str, ...] = ()
    period: Period = Period()


@dataclass(frozen=True)
class BoughtCondition:
    attribute: Literal["product_id", "category", "brand"]
    values: tuple[str, ...]
    status: tuple[str, ...] = ()
    period: Period = Period()


@dataclass(frozen=True)
class SubscriptionCondition:
    channel: str
    status: str
    resource: str = "*"


@dataclass(frozen=True)
class DeviceCondition:
    platform: tuple[str, ...] = ()
    os: tuple[str, ...] = ()
    browser: tuple[str, ...] = ()
    has_push_token: bool | None = None


@dataclass(frozen=True)
class GoalCondition:
    goal: str
    period: Period = Period()


@dataclass(frozen=True)
class InterestCondition:
    attribute: Literal["category", "brand"]
    value: str
    at_least: int = 1
    period: Period = Period()


@dataclass(frozen=True)
class MessageCondition:
    action: str
    campaign: str | None = None
    channel: str | None = None
    period: Period = Period()


@dataclass(frozen=True)
class PromoCodeCondition:
    action: str
    code: str | None = None
    period: Period = Period()


@dataclass(frozen=True)
class RelatedCondition:
    kind: str
    where: Condition
    direction: str = "any"


@dataclass(frozen=True)
class SegmentCondition:
    segment: str


@dataclass(frozen=True)
class BucketCondition:
    start: int
    stop: int
    salt: str = ""


Condition = (
    All
    | Any_
    | Not
    | FieldCondition
    | EventCondition
    | OrderCondition
    | BoughtCondition
    | SubscriptionCondition
    | DeviceCondition
    | GoalCondition
    | InterestCondition
    | MessageCondition
    | PromoCodeCondition
    | RelatedCondition
    | SegmentCondition
    | BucketCondition
)
GROUPS = (All, Any_, Not)


@dataclass(frozen=True)
class SegmentDefinition:
    name: str
    database: str
    kind: Literal["dynamic", "static"] = "dynamic"
    where: Condition | None = None
    title: str | None = None
    description: str | None = None
    refresh: str | None = None
    allow_everyone: bool = False
    version: int = DEFINITION_VERSION
    document: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


def leaves(condition: Condition) -> list[Condition]:
    """The conditions under `condition` that are not groups, in document order."""
    if isinstance(condition, All | Any_):
        return [leaf for child in condition.conditions for leaf in leaves(child)]
    if isinstance(condition, Not):
        return leaves(condition.condition)
    if isinstance(condition, RelatedCondition):
        return [condition, *leaves(condition.where)]
    return [condition]


def referenced_segments(condition: Condition | None) -> list[str]:
    """The segments a condition names, each once, in order."""
    if condition is None:
        return []
    names = [leaf.segment for leaf in leaves(condition) if isinstance(leaf, SegmentCondition)]
    return list(dict.fromkeys(names))


# --- parsing --------------------------------------------------------------------------------
KINDS = (
    "all",
    "any",
    "not",
    "field",
    "event",
    "order",
    "bought",
    "subscription",
    "device",
    "goal",
    "interest",
    "message",
    "promo_code",
    "related",
    "segment",
    "bucket",
)
MAX_DEPTH = 32


def parse_definition_text(text: str, source: str | None = None) -> SegmentDefinition:
    """A definition from YAML or JSON text (JSON is YAML)."""
    try:
        document = yaml.safe_load(text)
    except ValueError as exc:  # a date YAML reads but the calendar does not have
        where = f"{source}: " if source else ""
        raise SegmentDefinitionError(
            where + N_("not valid YAML or JSON: {error}").format(error=exc)
        ) from None
    except yaml.YAMLError as exc:
        where = f"{source}: " if source else ""
        problem = getattr(exc, "problem", None) or "cannot be read"
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            problem = f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
        raise SegmentDefinitionError(
            where + N_("not valid YAML or JSON: {error}").format(error=problem)
        ) from None
    return parse_definition(document, source)


def parse_definition(document: object, source: str | None = None) -> SegmentDefinition:
    """A definition from a parsed document; SegmentDefinitionError naming the place if not
    valid. Checks the document alone; herald.segments.validate checks it against a
    database's schema and the warehouse's events."""
    try:
        return _definition(document)
    except SegmentDefinitionError as exc:
        if source:
            # "<where>: <problem>", as every message here: translate_reason translates the
            # problem and keeps the place (a file, a key, a path like where.all[0].op).
            raise SegmentDefinitionError(
                N_("{where}: {detail}").format(where=source, detail=exc)
            ) from None
        raise


_TOP_KEYS = (
    "version",
    "name",
    "database",
    "kind",
    "title",
    "description",
    "refresh",
    "where",
    "allow_everyone",
)


def _definition(document: object) -> SegmentDefinition:
    root = _mapping(document, "the definition", _TOP_KEYS)
    version = root.get("version", DEFINITION_VERSION)
    if version != DEFINITION_VERSION:
        raise SegmentDefinitionError(
            "version: "
            + N_("{version} is not supported (this Herald reads version 1)").format(
                version=repr(version)
            )
        )
    name = _slug(root.get("name"), "name")
    database = root.get("database")
    if not isinstance(database, str) or not database:
        raise SegmentDefinitionError("database: " + N_("name the profile database of the segment"))
    kind = root.get("kind", "dynamic")
    if kind not in ("dynamic", "static"):
        raise SegmentDefinitionError(
            "kind: " + N_("{kind} is not dynamic or static").format(kind=repr(kind))
        )
    where_document = root.get("where")
    where = _condition(where_document, "where", 0) if where_document is not None else None
    if kind == "dynamic" and where is None:
        raise SegmentDefinitionError(
            "where: " + N_("a dynamic segment needs conditions (a static segment is a list)")
        )
    if kind == "static" and where is not None:
        raise SegmentDefinitionError(
            "where: " + N_("a static segment is a list of profiles and has no conditions")
        )
    refresh = root.get("refresh")
    if refresh is not None:
        refresh = _cron(refresh)
    allow = root.get("allow_everyone", False)
    if not isinstance(allow, bool):
        raise SegmentDefinitionError("allow_everyone: " + N_("true or false"))
    return SegmentDefinition(
        name=name,
        database=database,
        kind=kind,
        where=where,
        title=_optional_text(root.get("title"), "title", 200),
        description=_optional_text(root.get("description"), "description", 5000),
        refresh=refresh,
        allow_everyone=allow,
        document=dict(root),
    )


def _cron(value: object) -> str:
    from croniter import croniter

    if not isinstance(value, str) or len(value.split()) != 5 or not croniter.is_valid(value):
        raise SegmentDefinitionError(
            "refresh: "
            + N_("{value} is not a cron schedule like '0 * * * *' (every hour)").format(
                value=repr(value)
            )
        )
    return value


def _condition(document: object, where: str, depth: int) -> Condition:
    if depth > MAX_DEPTH:
        raise SegmentDefinitionError(
            f"{where}: "
            + N_("conditions nest deeper than {levels} levels").format(levels=MAX_DEPTH)
        )
    if not isinstance(document, Mapping) or not document:
        raise SegmentDefinitionError(
            f"{where}: "
            + N_("a condition is a mapping whose first key is one of {kinds}").format(
                kinds=", ".join(KINDS)
            )
        )
    kind = next(iter(document))
    if kind not in KINDS:
        raise SegmentDefinitionError(
            f"{where}: "
            + N_("unknown condition {kind}").format(kind=repr(kind))
            + "; "
            + N_("a condition starts with one of {kinds}").format(kinds=", ".join(KINDS))
        )
    parse = _PARSERS[kind]
    return parse(document, f"{where}.{kind}", depth)


def _group(document: Mapping[str, Any], where: str, depth: int) -> Condition:
    kind = where.rsplit(".", 1)[1]
    if kind == "not":
        _mapping(document, where, ("not",))
        return Not(_condition(document["not"], where, depth + 1))
    _mapping(document, where, (kind,))
    children = document[kind]
    if not isinstance(children, list) or not children:
        raise SegmentDefinitionError(f"{where}: " + N_("a list of at least one condition"))
    parsed = tuple(
        _condition(child, f"{where}[{index}]", depth + 1) for index, child in enumerate(children)
    )
    return All(parsed) if kind == "all" else Any_(parsed)


def _field(document: Mapping[str, Any], where: str, depth: int) -> Condition:
    _mapping(document, where, ("field", "op", "value"))
    name = document["field"]
    if not isinstance(name, str) or not name:
        raise SegmentDefinitionError(f"{where}: " + N_("name a profile field"))
    return FieldCondition(name, _comparison(document, where, required=True))


def _event(document: Mapping[str, Any], where: str, depth: int) -> Condition:
    keys = ("event", "where", "period", "measure", "property", "op", "value", "performed")
    _mapping(document, where, keys)
    name = _text(document["event"], where)
    filters = tuple(_filters(document.get("where"), f"{where}.where"))
    period = _period(document.get("period"), f"{where}.period")
    measure = document.get("measure", "count")
    if measure not in MEASURES:
        raise SegmentDefinitionError(
            f"{where}.measure: "
            + N_("{value} is not one of {values}").format(value=repr(measure), values=MEASURES)
        )
    prop = document.get("property")
    if measure in ("sum", "avg", "min", "max"):
        if not isinstance(prop, str) or not prop:
            raise SegmentDefinitionError(
                f"{where}: " + N_("measure {measure} needs a property").format(measure=measure)
            )
    elif prop is not None:
        raise SegmentDefinitionError(
            f"{where}.property: " + N_("only sum, avg, min and max take one")
        )
    performed = document.get("performed")
    if performed is not None:
        if not isinstance(performed, bool):
            raise SegmentDefinitionError(f"{where}.performed: " + N_("true or false"))
        if "op" in document or measure != "count":
            raise SegmentDefinitionError(
                f"{where}: "
                + N_("performed is a count of at least one (or none)")
                + "; "
                + N_("give either performed or measure/op/value")
            )
        comparison = Comparison("at_least", 1) if performed else Comparison("equals", 0)
    elif "op" in document:
        comparison = _comparison(document, where, required=True)
    elif measure == "count":
        comparison = Comparison("at_least", 1)
    else:
        raise SegmentDefinitionError(
            f"{where}: " + N_("measure {measure} needs op and value").format(measure=measure)
        )
    return EventCondition(name, filters, period, measure, prop, comparison)


def _order(document: Mapping[str, Any], where: str, depth: int) -> Condition:
    _mapping(document, where, ("order", "status", "period", "op", "value"))
    measure = document["order"]
    if measure not in ORDER_MEASURES:
        raise SegmentDefinitionError(
            f"{where}: "
            + N_("{value} is not one of {values}").format(
                value=repr(measure), values=", ".join(ORDER_MEASURES)
            )
        )
    comparison = _comparison(document, where, required=True)
    return OrderCondition(
        measure,
        comparison,
        _texts(document.get("status", ()), f"{where}.status"),
        _period(document.get("period"), f"{where}.period"),
    )


def _bought(document: Mapping[str, Any], where: str, depth: int) -> Condition:
    _mapping(document, where, ("bought", "status", "period"))
    target = _mapping(document["bought"], where, ("product_id", "category", "brand"))
    if len(target) != 1:
        raise SegmentDefinitionError(f"{where}: " + N_("one of product_id, category or brand"))
    attribute, values = next(iter(target.items()))
    return BoughtCondition(
        cast(Literal["product_id", "category", "brand"], attribute),
        _texts(values, f"{where}.{attribute}", required=True),
        _texts(document.get("status", ()), f"{where}.status"),
        _period(document.get("period"), f"{where}.period"),
    )


def _subscription(document: Mapping[str, Any], where: str, depth: int) -> Condition:
    _mapping(document, where, ("subscription", "status", "resource"))
    status = document.get("status", "subscribed")
    if status not in SUBSCRIPTION_STATUSES:
        raise SegmentDefinitionError(
            f"{where}.status: "
            + N_("{value} is not one of {values}").format(
                value=repr(status), values=", ".join(SUBSCRIPTION_STATUSES)
            )
        )
    return SubscriptionCondition(
        _text(document["subscription"], where),
        status,
        _text(document.get("resource", "*"), f"{where}.resource"),
    )


def _device(document: Mapping[str, Any], where: str, depth: int) -> Condition:
    _mapping(document, where, ("device",))
    spec = _mapping(document["device"], where, ("platform", "os", "browser", "has_push_token"))
    if not spec:
        raise SegmentDefinitionError(
            f"{where}: " + N_("give platform, os, browser or has_push_token")
        )
    token = spec.get("has_push_token")
    if token is not None and not isinstance(token, bool):
        raise SegmentDefinitionError(f"{where}.has_push_token: " + N_("true or false"))
    return DeviceCondition(
        _texts(spec.get("platform", ()), f"{where}.platform"),
        _texts(spec.get("os", ()), f"{where}.os"),
        _texts(spec.get("browser", ()), f"{where}.browser"),
        token,
    )


def _goal(document: Mapping[str, Any], where: str, depth: int) -> Condition:
    _mapping(document, where, ("goal", "period"))
    return GoalCondition(
        _text(document["goal"], where), _period(document.get("period"), f"{where}.period")
    )


def _interest(document: Mapping[str, Any], where: str, depth: int) -> Condition:
    _mapping(document, where, ("interest", "at_least", "period"))
    target = _mapping(document["interest"], where, ("category", "brand"))
    if len(target) != 1:
        raise SegmentDefinitionError(f"{where}: " + N_("one of category or brand"))
    attribute, value = next(iter(target.items()))
    times = document.get("at_least", 1)
    if not _is_int(times) or times < 1:
        raise SegmentDefinitionError(f"{where}.at_least: " + N_("a whole number of at least 1"))
    return InterestCondition(
        cast(Literal["category", "brand"], attribute),
        _text(value, f"{where}.{attribute}"),
        times,
        _period(document.get("period"), f"{where}.period"),
    )


def _message(document: Mapping[str, Any], where: str, depth: int) -> Condition:
    _mapping(document, where, ("message", "campaign", "channel", "period"))
    action = document["message"]
    if action not in MESSAGE_ACTIONS:
        raise SegmentDefinitionError(
            f"{where}: "
            + N_("{value} is not one of {values}").format(
                value=repr(action), values=", ".join(MESSAGE_ACTIONS)
            )
        )
    campaign = document.get("campaign")
    channel = document.get("channel")
    return MessageCondition(
        action,
        _text(campaign, f"{where}.campaign") if campaign is not None else None,
        _text(channel, f"{where}.channel") if channel is not None else None,
        _period(document.get("period"), f"{where}.period"),
    )


def _promo_code(document: Mapping[str, Any], where: str, depth: int) -> Condition:
    _mapping(document, where, ("promo_code", "code", "period"))
    action = document["promo_code"]
    if action not in PROMO_ACTIONS:
        raise SegmentDefinitionError(
            f"{where}: " + N_("{action} is not issued or redeemed").format(action=repr(action))
        )
    code = document.get("code")
    return PromoCodeCondition(
        action,
        _text(code, f"{where}.code") if code is not None else None,
        _period(document.get("period"), f"{where}.period"),
    )


def _related(document: Mapping[str, Any], where: str, depth: int) -> Condition:
    _mapping(document, where, ("related", "where", "direction"))
    direction = document.get("direction", "any")
    if direction not in RELATION_DIRECTIONS:
        raise SegmentDefinitionError(
            f"{where}.direction: "
            + N_("to, from or any, not {direction}").format(direction=repr(direction))
        )
    if "where" not in document:
        raise SegmentDefinitionError(f"{where}: " + N_("where the related profile must match"))
    return RelatedCondition(
        _text(document["related"], where),
        _condition(document["where"], f"{where}.where", depth + 1),
        direction,
    )


def _segment(document: Mapping[str, Any], where: str, depth: int) -> Condition:
    _mapping(document, where, ("segment",))
    return SegmentCondition(_slug(document["segment"], where))


def _bucket(document: Mapping[str, Any], where: str, depth: int) -> Condition:
    _mapping(document, where, ("bucket", "salt"))
    spec = _mapping(document["bucket"], where, ("from", "to"))
    start, stop = spec.get("from", 0), spec.get("to", 100)
    if not (_is_int(start) and _is_int(stop) and 0 <= start < stop <= 100):
        raise SegmentDefinitionError(
            f"{where}: " + N_("from and to are whole percentages with 0 <= from < to <= 100")
        )
    salt = document.get("salt", "")
    if not isinstance(salt, str):
        raise SegmentDefinitionError(f"{where}.salt: " + N_("a text"))
    return BucketCondition(start, stop, salt)


_PARSERS = {
    "all": _group,
    "any": _group,
    "not": _group,
    "field": _field,
    "event": _event,
    "order": _order,
    "bought": _bought,
    "subscription": _subscription,
    "device": _device,
    "goal": _goal,
    "interest": _interest,
    "message": _message,
    "promo_code": _promo_code,
    "related": _related,
    "segment": _segment,
    "bucket": _bucket,
}


# --- pieces ---------------------------------------------------------------------------------
def _comparison(document: Mapping[str, Any], where: str, *, required: bool) -> Comparison:
    op = document.get("op")
    if op not in OPS:
        raise SegmentDefinitionError(
            f"{where}.op: "
            + N_("{value} is not one of {values}").format(value=repr(op), values=", ".join(OPS))
        )
    value = document.get("value")
    if op in NO_VALUE_OPS:
        if value is not None:
            raise SegmentDefinitionError(
                f"{where}.value: " + N_("{op} takes no value").format(op=op)
            )
        return Comparison(op)
    if "value" not in document or value is None:
        raise SegmentDefinitionError(f"{where}.value: " + N_("{op} needs a value").format(op=op))
    if op in LIST_VALUE_OPS:
        if not isinstance(value, list) or not value:
            raise SegmentDefinitionError(
                f"{where}.value: " + N_("{op} takes a list of values").format(op=op)
            )
        return Comparison(op, tuple(value))
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise SegmentDefinitionError(f"{where}.value: " + N_("between takes [low, high]"))
        return Comparison(op, (value[0], value[1]))
    if op in RELATIVE_OPS:
        upper = 12 if op == "in_month" else MAX_DAYS
        lower = 1 if op == "in_month" else 0
        if not _is_int(value) or not lower <= value <= upper:
            problem = (
                N_("{op} takes a month 1..12, not {value}")
                if op == "in_month"
                else N_("{op} takes whole days 0..{days}, not {value}")
            )
            raise SegmentDefinitionError(
                f"{where}.value: " + problem.format(op=op, days=MAX_DAYS, value=repr(value))
            )
        return Comparison(op, value)
    if isinstance(value, list | dict):
        raise SegmentDefinitionError(
            f"{where}.value: "
            + N_("{op} takes one value, not {value}").format(op=op, value=repr(value))
        )
    return Comparison(op, value)


def _filters(document: object, where: str) -> list[PropertyFilter]:
    if document is None:
        return []
    if not isinstance(document, list):
        raise SegmentDefinitionError(f"{where}: " + N_("a list of {property, op, value}"))
    filters = []
    for index, entry in enumerate(document):
        at = f"{where}[{index}]"
        spec = _mapping(entry, at, ("property", "op", "value"))
        prop = spec.get("property")
        if not isinstance(prop, str) or not prop:
            raise SegmentDefinitionError(f"{at}: " + N_("name a property"))
        comparison = _comparison(spec, at, required=True)
        if comparison.op in RELATIVE_OPS:
            raise SegmentDefinitionError(
                f"{at}.op: " + N_("{op} is for profile dates").format(op=comparison.op)
            )
        filters.append(PropertyFilter(prop, comparison))
    return filters


def _period(document: object, where: str) -> Period:
    if document is None:
        return Period()
    spec = _mapping(document, where, ("within_last_days", "between"))
    if len(spec) != 1:
        raise SegmentDefinitionError(
            f"{where}: " + N_("within_last_days: N or between: [from, to]")
        )
    if "within_last_days" in spec:
        days = spec["within_last_days"]
        if not _is_int(days) or not 0 <= days <= MAX_DAYS:
            raise SegmentDefinitionError(
                f"{where}.within_last_days: " + N_("whole days 0..{days}").format(days=MAX_DAYS)
            )
        return Period(within_last_days=days)
    pair = spec["between"]
    if not isinstance(pair, list) or len(pair) != 2:
        raise SegmentDefinitionError(f"{where}.between: " + N_("[from, to], two dates"))
    start, stop = (_date(value, f"{where}.between") for value in pair)
    if start > stop:
        raise SegmentDefinitionError(
            f"{where}.between: " + N_("{start} is after {stop}").format(start=start, stop=stop)
        )
    return Period(between=(start, stop))


def _date(value: object, where: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise SegmentDefinitionError(
        f"{where}: " + N_("{value} is not a date like 2026-11-26").format(value=repr(value))
    )


def _mapping(document: object, where: str, keys: Sequence[str]) -> Mapping[str, Any]:
    if not isinstance(document, Mapping):
        raise SegmentDefinitionError(
            f"{where}: " + N_("expected a mapping, not {value}").format(value=repr(document))
        )
    unknown = [key for key in document if key not in keys]
    if unknown:
        raise SegmentDefinitionError(
            f"{where}: "
            + N_("unknown key {key} (expected {keys})").format(
                key=repr(unknown[0]), keys=", ".join(keys)
            )
        )
    return document


def _slug(value: object, where: str) -> str:
    if not isinstance(value, str) or not SLUG.match(value):
        raise SegmentDefinitionError(
            f"{where}: "
            + N_(
                "{value} is not a segment name: lower-case letters, digits, - and _, "
                "up to 63 characters"
            ).format(value=repr(value))
        )
    return value


def _text(value: object, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise SegmentDefinitionError(
            f"{where}: " + N_("a non-empty text, not {value}").format(value=repr(value))
        )
    return str(value)


def _texts(value: object, where: str, *, required: bool = False) -> tuple[str, ...]:
    values = value if isinstance(value, list | tuple) else [value]
    if required and not values:
        raise SegmentDefinitionError(f"{where}: " + N_("at least one value"))
    return tuple(_text(entry, where) for entry in values)


def _optional_text(value: object, where: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise SegmentDefinitionError(
            f"{where}: " + N_("a text of at most {limit} characters").format(limit=limit)
        )
    return value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
