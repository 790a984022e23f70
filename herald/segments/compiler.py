"""A segment definition compiled to one SQL query per engine.

    compiler = SegmentCompiler(warehouse, schema, as_of=datetime.now(UTC))
    sql = compiler.members_sql(definition)     # select profile_id from ... where ...
    sql = compiler.count_sql(definition)       # the estimate

One compiler serves every engine: what differs between DuckDB and ClickHouse is written as
macros in `sql/macros/segments.sql` and rendered for the warehouse's dialect, as the SQL
models are. Each condition becomes a two-valued predicate over the profile row `p` of
`segment_profiles__<database>`: a profile field is compared in place; activity is an
`IN (subquery)` over the input tables (herald.segments.inputs), grouped per profile where
a count or an aggregate is compared. A comparison that holds for a profile with no activity
(count at most 2, sum less than 100, never performed) is compiled as `NOT IN` the profiles
whose activity fails it, so profiles without rows are counted as zero.

The compiler also checks what a definition names against the database's schema (fields,
types, values) and raises SegmentDefinitionError with the condition's place.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from herald.i18n import N_
from herald.models.build import target_of
from herald.models.project import SqlProject
from herald.models.render import Renderer
from herald.profiles.schema import ProfileField, ProfileSchema
from herald.segments.definition import (
    ORDER_OPS,
    RELATIVE_OPS,
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
    PropertyFilter,
    RelatedCondition,
    SegmentCondition,
    SegmentDefinition,
    SegmentDefinitionError,
    SubscriptionCondition,
)
from herald.segments.inputs import (
    DEVICES,
    EVENTS,
    MESSAGE_EVENTS,
    ORDER_ITEMS,
    ORDERS,
    RELATION_EDGES,
    SUBSCRIPTION_STATES,
    segment_profiles_table,
)
from herald.warehouse.base import Warehouse, string_literal

SEGMENT_MEMBERS = "segment_members"
INTEREST_EVENT = "Product Viewed"
PROMO_ISSUED_EVENT = "Promo Code Issued"
MESSAGE_EVENT_TYPES = {"received": "delivered"}

# Event columns a property filter or aggregate may name, with their value type; any other
# property is read from the event's JSON `properties` as `properties.<key>`.
EVENT_PROPERTIES: dict[str, str] = {
    name: ("float" if kind == "double" else "datetime" if kind == "timestamp" else "string")
    for name, kind in EVENTS.columns
    if name not in ("event_name", "occurred_at", "properties")
}
NUMERIC_TYPES = ("integer", "float")
TEXT_TYPES = ("string", "enum")

_OPS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "string": (
        "equals", "not_equals", "in", "not_in", "contains", "not_contains", "starts_with",
        "empty", "not_empty",
    ),
    "enum": ("equals", "not_equals", "in", "not_in", "empty", "not_empty"),
    "integer": (
        "equals", "not_equals", "in", "not_in", "empty", "not_empty", *ORDER_OPS,
    ),
    "boolean": ("equals", "not_equals", "empty", "not_empty"),
    "date": ("equals", "not_equals", "empty", "not_empty", *ORDER_OPS, *RELATIVE_OPS),
    "list": ("contains", "not_contains", "in", "not_in", "empty", "not_empty"),
    "json": ("empty", "not_empty"),
}  # fmt: skip
_OPS_BY_TYPE["float"] = _OPS_BY_TYPE["integer"]
_OPS_BY_TYPE["datetime"] = _OPS_BY_TYPE["date"]
_MEASURE_TYPES = {"count": "integer", "first": "datetime", "last": "datetime"}
_MEASURE_OPS: dict[str, tuple[str, ...]] = {
    "integer": ("equals", "not_equals", "in", "not_in", *ORDER_OPS),
    "float": ("equals", "not_equals", *ORDER_OPS, "empty", "not_empty"),
    "datetime": ("empty", "not_empty", *ORDER_OPS, "within_last_days", "more_than_days_ago"),
}


@dataclass(frozen=True)
class Aggregate:
    """What an activity condition measures: `aggregate` (one aggregate function call) over
    the rows of `table` that pass `rows`, compared; `zero` is its value without rows."""

    table: str
    rows: tuple[str, ...]
    aggregate: str
    comparison: Comparison
    value_type: str
    zero: float | None


@dataclass(frozen=True)
class Leaf:
    """A compiled condition: its predicate over `p`, the SQL of the value behind it for one
    profile (for explain), and, for activity, the aggregate it compares."""

    predicate: str
    value: Callable[[str], str]  # profile id literal -> scalar select
    aggregate: Aggregate | None = None


class SegmentCompiler:
    """Compiles definitions of one profile database for one warehouse at one time."""

    def __init__(
        self,
        warehouse: Warehouse,
        schema: ProfileSchema,
        *,
        as_of: datetime,
        project: SqlProject | None = None,
    ):
        self.warehouse = warehouse
        self.schema = schema
        self.database = schema.database
        self.fields = {field.name: field for field in schema.fields}
        self.as_of = as_of.astimezone(UTC)
        self.today = self.as_of.date()
        self.renderer = Renderer(project or SqlProject.load(), target_of(warehouse))
        self._columns: dict[int, tuple[str, Aggregate]] | None = None

    # --- queries ------------------------------------------------------------------------
    @property
    def base(self) -> str:
        return self.warehouse.qualify(segment_profiles_table(self.database))

    def macro(self, name: str, *arguments: str) -> str:
        """The SQL of a dialect macro of sql/macros applied to SQL `arguments`."""
        names = [f"a{index}" for index in range(len(arguments))]
        template = f"{{{{ {name}({', '.join(names)}) }}}}"
        return self.renderer.render_text(template, **dict(zip(names, arguments, strict=True)))

    def timestamp(self, moment: datetime) -> str:
        text = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return self.macro("seg_timestamp", text)

    def date(self, day: date) -> str:
        return self.macro("seg_date", day.isoformat())

    def members_sql(self, definition: SegmentDefinition) -> str:
        return self._grouped(_where(definition), "p.profile_id as profile_id")

    def count_sql(self, definition: SegmentDefinition) -> str:
        return self._grouped(_where(definition), "count(*)")

    def _grouped(self, condition: Condition, selected: str) -> str:
        """The query over the profiles with every activity table read once: the aggregates
        its conditions compare are computed in one group-by per table (each with its own
        FILTER), left-joined to the profiles, and compared there (a profile without rows
        has each aggregate's zero)."""
        found: list[tuple[Condition, Aggregate]] = []
        self._collect(condition, "where", found)
        by_table: dict[str, list[tuple[Condition, Aggregate]]] = {}
        for entry in found:
            by_table.setdefault(entry[1].table, []).append(entry)
        joins: list[str] = []
        columns: dict[int, tuple[str, Aggregate]] = {}
        for number, (table, entries) in enumerate(by_table.items()):
            group = f"g{number}"
            parts = []
            for index, (leaf_condition, aggregate) in enumerate(entries):
                rows = " and ".join(aggregate.rows)
                filtered = (
                    f"{aggregate.aggregate} filter (where {rows})" if rows else aggregate.aggregate
                )
                parts.append(f"{filtered} as a{index}")
                columns[id(leaf_condition)] = (f"{group}.a{index}", aggregate)
            scope = [f"database = {self.literal(self.database)}"]
            if all(aggregate.rows for _leaf, aggregate in entries):
                scope.append(
                    "(" + " or ".join(f"({' and '.join(a.rows)})" for _leaf, a in entries) + ")"
                )
            # A profile without rows here cannot match: an inner join leaves it out early.
            zeros = {id(leaf): aggregate for leaf, aggregate in entries}
            kind = "join" if _without_rows(condition, zeros) is False else "left join"
            joins.append(
                f"{kind} (select profile_id, {', '.join(parts)} from {self.table(table)} "
                f"where {' and '.join(scope)} group by profile_id) as {group} "
                f"on {group}.profile_id = p.profile_id"
            )
        self._columns = columns
        try:
            predicate = self.predicate(condition, "where")
        finally:
            self._columns = None
        joined = "\n".join(joins)
        return f"select {selected} from {self.base} as p\n{joined}\nwhere {predicate}"

    def _collect(
        self, condition: Condition, where: str, found: list[tuple[Condition, Aggregate]]
    ) -> None:
        if isinstance(condition, All | Any_):
            for child in condition.conditions:
                self._collect(child, where, found)
        elif isinstance(condition, Not):
            self._collect(condition.condition, where, found)
        elif not isinstance(condition, RelatedCondition):
            aggregate = self.leaf(condition, where).aggregate
            if aggregate is not None:
                found.append((condition, aggregate))

    def total_sql(self) -> str:
        return f"select count(*) from {self.base}"

    def check(self, definition: SegmentDefinition) -> None:
        """Compile without running: SegmentDefinitionError when the definition names what
        the database does not have or compares values of the wrong type."""
        if definition.where is not None:
            self.predicate(definition.where, "where")

    # --- predicates -----------------------------------------------------------------------
    def predicate(
        self, condition: Condition, where: str, *, alias: str = "p", only: str | None = None
    ) -> str:
        """The condition as a two-valued SQL predicate over the profile row `alias`.
        `only`: a profile id literal that restricts the subqueries (explain)."""
        if isinstance(condition, All | Any_):
            joiner = " and " if isinstance(condition, All) else " or "
            kind = "all" if isinstance(condition, All) else "any"
            parts = [
                self.predicate(child, f"{where}.{kind}[{index}]", alias=alias, only=only)
                for index, child in enumerate(condition.conditions)
            ]
            return "(" + joiner.join(parts) + ")"
        if isinstance(condition, Not):
            inner = self.predicate(condition.condition, f"{where}.not", alias=alias, only=only)
            return f"(not {inner})"
        column = self._columns.get(id(condition)) if self._columns and alias == "p" else None
        if column is not None and only is None:
            expression, aggregate = column
            if aggregate.zero is not None:
                expression = f"coalesce({expression}, 0)"
            return self.two_valued(
                self.compare(expression, aggregate.comparison, aggregate.value_type, where)
            )
        return self.leaf(condition, where, alias=alias, only=only).predicate

    def leaf(
        self, condition: Condition, where: str, *, alias: str = "p", only: str | None = None
    ) -> Leaf:
        compile_leaf = _LEAVES.get(type(condition))
        if compile_leaf is None:
            raise SegmentDefinitionError(f"{where}: " + N_("not a condition the compiler knows"))
        return compile_leaf(self, condition, where, alias, only)

    # --- pieces ---------------------------------------------------------------------------
    def literal(self, text: str) -> str:
        return string_literal(self.warehouse.dialect, text)

    def table(self, name: str) -> str:
        return self.warehouse.qualify(name)

    def activity(self, table: str, conditions: Sequence[str], only: str | None) -> str:
        """`where` of an input table's rows of this database (and one profile)."""
        parts = [f"database = {self.literal(self.database)}", *conditions]
        if only is not None:
            parts.append(f"profile_id = {only}")
        return f"from {self.table(table)} where " + " and ".join(parts)

    def period(self, column: str, period: Period) -> list[str]:
        if period.within_last_days is not None:
            start = self.as_of - timedelta(days=period.within_last_days)
            return [
                f"{column} >= {self.timestamp(start)}",
                f"{column} <= {self.timestamp(self.as_of)}",
            ]
        if period.between is not None:
            first, last = period.between
            start = datetime(first.year, first.month, first.day, tzinfo=UTC)
            stop = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
            return [f"{column} >= {self.timestamp(start)}", f"{column} < {self.timestamp(stop)}"]
        return []

    def compare(
        self, expression: str, comparison: Comparison, value_type: str, where: str,
        *, values: Sequence[str] | None = None,
    ) -> str:  # fmt: skip
        """`expression` compared as `comparison` says, three-valued (NULL when the value is
        missing); callers make it two-valued."""
        op, value = comparison.op, comparison.value
        literal = self._literal_for(value_type, where, values)
        if op == "empty":
            if value_type == "list":
                return f"({self.macro('seg_list_size', expression)} = 0)"
            return f"({expression} is null)"
        if op == "not_empty":
            if value_type == "list":
                return f"({self.macro('seg_list_size', expression)} > 0)"
            return f"({expression} is not null)"
        if op.startswith("not_"):
            positive = Comparison(op.removeprefix("not_"), value)  # type: ignore[arg-type]
            inner = self.compare(expression, positive, value_type, where, values=values)
            return f"(not coalesce({inner}, false))"
        if value_type == "list":
            if op == "contains":
                return self.macro("seg_list_has", expression, literal(value))
            if op == "in":
                listed = ", ".join(literal(entry) for entry in value)
                return self.macro("seg_list_has_any", expression, listed)
        if op == "equals":
            return f"({expression} = {literal(value)})"
        if op == "in":
            return f"({expression} in ({', '.join(literal(entry) for entry in value)}))"
        if op == "contains":
            return self.macro("seg_contains", expression, literal(value))
        if op == "starts_with":
            return self.macro("seg_starts_with", expression, literal(value))
        symbols = {"greater": ">", "less": "<", "at_least": ">=", "at_most": "<="}
        if op in symbols:
            return f"({expression} {symbols[op]} {literal(value)})"
        if op == "between":
            low, high = (literal(entry) for entry in value)
            if _parsed(value_type, value[0]) > _parsed(value_type, value[1]):
                raise SegmentDefinitionError(
                    f"{where}.value: "
                    + N_(
                        "between [{low}, {high}] is empty: the low end is above the high end"
                    ).format(low=value[0], high=value[1])
                )
            return f"({expression} >= {low} and {expression} <= {high})"
        return self._relative(expression, op, value, value_type, where)

    def _relative(self, expression: str, op: str, value: int, value_type: str, where: str) -> str:
        if value_type not in ("date", "datetime"):
            raise SegmentDefinitionError(f"{where}.op: " + N_("{op} is for dates").format(op=op))
        if op == "in_month":
            return f"({self.macro('seg_month', expression)} = {value})"
        if op == "anniversary_within_days":
            days = [self.today + timedelta(days=offset) for offset in range(min(value, 366) + 1)]
            month_days = {day.month * 100 + day.day for day in days}
            if 228 in month_days and not _leap(
                next(d for d in days if d.month * 100 + d.day == 228)
            ):
                month_days.add(229)
            listed = ", ".join(str(entry) for entry in sorted(month_days))
            return f"({self.macro('seg_month_day', expression)} in ({listed}))"
        if value_type == "date":
            low = self.date(self.today - timedelta(days=value))
            today = self.date(self.today)
            high = self.date(self.today + timedelta(days=value))
        else:
            low = self.timestamp(self.as_of - timedelta(days=value))
            today = self.timestamp(self.as_of)
            high = self.timestamp(self.as_of + timedelta(days=value))
        if op == "within_last_days":
            return f"({expression} >= {low} and {expression} <= {today})"
        if op == "more_than_days_ago":
            return f"({expression} < {low})"
        return f"({expression} >= {today} and {expression} <= {high})"  # within_next_days

    def _literal_for(
        self, value_type: str, where: str, values: Sequence[str] | None
    ) -> Callable[[Any], str]:
        def literal(value: Any) -> str:
            parsed = _parsed(value_type, value, where=where)
            if values is not None and parsed not in values:
                raise SegmentDefinitionError(
                    f"{where}.value: "
                    + N_("{value} is not one of {values}").format(
                        value=repr(value), values=", ".join(values)
                    )
                )
            if value_type in ("string", "enum", "list"):
                return self.literal(parsed)
            if value_type == "boolean":
                return "true" if parsed else "false"
            if value_type == "date":
                return self.date(parsed)
            if value_type == "datetime":
                return self.timestamp(parsed)
            return repr(parsed)

        return literal

    def two_valued(self, predicate: str) -> str:
        return f"coalesce({predicate}, false)"

    def field_type(self, name: str, where: str) -> ProfileField:
        field = self.fields.get(name)
        if field is None:
            known = ", ".join(self.fields) or "none"
            raise SegmentDefinitionError(
                f"{where}: "
                + N_("database {database} has no field {name} (fields: {fields})").format(
                    database=repr(self.database), name=repr(name), fields=known
                )
            )
        return field

    def measured(
        self,
        table: str,
        rows: Sequence[str],
        aggregate: str,
        comparison: Comparison,
        value_type: str,
        zero: float | None,
        where: str,
        alias: str,
        only: str | None,
    ) -> Leaf:
        """A per-profile aggregate of activity rows compared; profiles without rows have
        the aggregate `zero` (0 for counts and sums, NULL otherwise)."""
        allowed = _MEASURE_OPS[value_type]
        if comparison.op not in allowed:
            raise SegmentDefinitionError(
                f"{where}.op: "
                + N_("{op} does not apply here (use {ops})").format(
                    op=comparison.op, ops=", ".join(allowed)
                )
            )
        condition = self.compare("v", comparison, value_type, where)
        rows_sql = self.activity(table, rows, only)
        measure = f"coalesce({aggregate}, 0)" if zero is not None else aggregate
        grouped = f"select profile_id, {measure} as v {rows_sql} group by profile_id"
        if _holds_for(comparison, zero):
            predicate = (
                f"({alias}.profile_id not in (select profile_id from ({grouped}) as g "
                f"where not {self.two_valued(condition)}))"
            )
        else:
            predicate = (
                f"({alias}.profile_id in (select profile_id from ({grouped}) as g "
                f"where {self.two_valued(condition)}))"
            )

        def value(profile: str) -> str:
            return f"select {measure} {self.activity(table, rows, profile)}"

        return Leaf(
            predicate,
            value,
            Aggregate(table, tuple(rows), aggregate, comparison, value_type, zero),
        )

    def exists(
        self, table: str, rows: Sequence[str], alias: str, only: str | None, *, at_least: int = 1
    ) -> Leaf:
        """At least `at_least` rows of the profile in an input table."""
        if at_least == 1:
            predicate = (
                f"({alias}.profile_id in (select profile_id {self.activity(table, rows, only)}))"
            )
        else:
            predicate = (
                f"({alias}.profile_id in (select profile_id {self.activity(table, rows, only)} "
                f"group by profile_id having count(*) >= {at_least}))"
            )

        def value(profile: str) -> str:
            return f"select count(*) {self.activity(table, rows, profile)}"

        at_least_rows = Comparison("at_least", at_least)
        return Leaf(
            predicate,
            value,
            Aggregate(table, tuple(rows), "count(*)", at_least_rows, "integer", 0.0),
        )


# --- leaves ---------------------------------------------------------------------------------
def _field_leaf(
    compiler: SegmentCompiler, condition: FieldCondition, where: str, alias: str, only: str | None
) -> Leaf:
    field = compiler.field_type(condition.field, f"{where}.field")
    allowed = _OPS_BY_TYPE[field.type]
    if condition.comparison.op not in allowed:
        raise SegmentDefinitionError(
            f"{where}.op: "
            + N_("{op} does not apply to field {name} of type {type} (use {ops})").format(
                op=condition.comparison.op,
                name=repr(field.name),
                type=field.type,
                ops=", ".join(allowed),
            )
        )
    column = f"{alias}.{compiler.warehouse.quote(field.name)}"
    value_type = "list" if field.type == "list" else field.type
    values = field.values if field.type == "enum" else None
    predicate = compiler.compare(column, condition.comparison, value_type, where, values=values)

    def value(profile: str) -> str:
        column = compiler.warehouse.quote(field.name)
        return f"select {column} from {compiler.base} where profile_id = {profile}"

    return Leaf(compiler.two_valued(predicate), value)


def _event_rows(compiler: SegmentCompiler, condition: EventCondition, where: str) -> list[str]:
    rows = [f"event_name = {compiler.literal(condition.event)}"]
    rows += compiler.period("occurred_at", condition.period)
    for index, entry in enumerate(condition.where):
        rows.append(
            compiler.two_valued(_property_filter(compiler, entry, f"{where}.where[{index}]"))
        )
    return rows


def _property_expression(
    compiler: SegmentCompiler, name: str, where: str, numeric: bool
) -> tuple[str, str]:
    """SQL of an event property and its value type."""
    if name in EVENT_PROPERTIES:
        return compiler.warehouse.quote(name), EVENT_PROPERTIES[name]
    key = name.removeprefix("properties.")
    if key == name or not key or not key.replace("_", "").isalnum():
        known = ", ".join(EVENT_PROPERTIES)
        raise SegmentDefinitionError(
            f"{where}: "
            + N_("{name} is not an event property ({known}, or properties.<key>)").format(
                name=repr(name), known=known
            )
        )
    text = compiler.macro("seg_json_text", "properties", key)
    if numeric:
        return compiler.macro("safe_float", text), "float"
    return text, "string"


def _property_filter(compiler: SegmentCompiler, entry: PropertyFilter, where: str) -> str:
    comparison = entry.comparison
    numeric = comparison.op in ORDER_OPS or (
        comparison.op in ("equals", "not_equals") and _is_number(comparison.value)
    )
    expression, value_type = _property_expression(
        compiler, entry.property, f"{where}.property", numeric
    )
    if value_type == "float" and comparison.op in ("contains", "not_contains", "starts_with"):
        raise SegmentDefinitionError(
            f"{where}.op: " + N_("{op} is for text properties").format(op=comparison.op)
        )
    if value_type == "string" and comparison.op in ORDER_OPS:
        raise SegmentDefinitionError(
            f"{where}.op: " + N_("{op} is for numbers").format(op=comparison.op)
        )
    if value_type == "string" and comparison.op in ("equals", "not_equals", "in", "not_in"):
        comparison = Comparison(comparison.op, _as_texts(comparison.value))
    return compiler.compare(expression, comparison, value_type, where)


def _event_leaf(
    compiler: SegmentCompiler, condition: EventCondition, where: str, alias: str, only: str | None
) -> Leaf:
    rows = _event_rows(compiler, condition, where)
    measure = condition.measure
    if measure == "count":
        aggregate, value_type, zero = "count(*)", "integer", 0.0
    elif measure in ("first", "last"):
        aggregate = f"{'min' if measure == 'first' else 'max'}(occurred_at)"
        value_type, zero = "datetime", None
    else:
        assert condition.property is not None
        expression, kind = _property_expression(
            compiler, condition.property, f"{where}.property", True
        )
        if kind != "float":
            raise SegmentDefinitionError(
                f"{where}.property: "
                + N_("{value} is not a number").format(value=condition.property)
            )
        function = {"avg": "avg", "min": "min", "max": "max", "sum": "sum"}[measure]
        aggregate = f"{function}({expression})"
        value_type, zero = "float", (0.0 if measure == "sum" else None)
    return compiler.measured(
        EVENTS.table, rows, aggregate, condition.comparison, value_type, zero, where, alias, only
    )


def _order_leaf(
    compiler: SegmentCompiler, condition: OrderCondition, where: str, alias: str, only: str | None
) -> Leaf:
    rows = compiler.period("created_at", condition.period)
    if condition.status:
        rows.append(f"status in ({', '.join(compiler.literal(s) for s in condition.status)})")
    aggregates = {
        "count": ("count(*)", "integer", 0.0),
        "total": ("sum(total)", "float", 0.0),
        "average": ("avg(total)", "float", None),
        "first": ("min(created_at)", "datetime", None),
        "last": ("max(created_at)", "datetime", None),
    }
    aggregate, value_type, zero = aggregates[condition.measure]
    return compiler.measured(
        ORDERS.table, rows, aggregate, condition.comparison, value_type, zero, where, alias, only
    )


def _bought_leaf(
    compiler: SegmentCompiler, condition: BoughtCondition, where: str, alias: str, only: str | None
) -> Leaf:
    listed = ", ".join(compiler.literal(value) for value in condition.values)
    rows = [
        f"{condition.attribute} in ({listed})",
        *compiler.period("created_at", condition.period),
    ]
    if condition.status:
        rows.append(f"status in ({', '.join(compiler.literal(s) for s in condition.status)})")
    return compiler.exists(ORDER_ITEMS.table, rows, alias, only)


def _subscription_leaf(
    compiler: SegmentCompiler,
    condition: SubscriptionCondition,
    where: str,
    alias: str,
    only: str | None,
) -> Leaf:
    rows = [
        f"channel = {compiler.literal(condition.channel)}",
        f"resource = {compiler.literal(condition.resource)}",
    ]
    status = f"status = {compiler.literal(condition.status)}"
    predicate = (
        f"({alias}.profile_id in (select profile_id "
        f"{compiler.activity(SUBSCRIPTION_STATES, [*rows, status], only)}))"
    )

    def value(profile: str) -> str:
        return f"select max(status) {compiler.activity(SUBSCRIPTION_STATES, rows, profile)}"

    return Leaf(predicate, value)


def _device_leaf(
    compiler: SegmentCompiler, condition: DeviceCondition, where: str, alias: str, only: str | None
) -> Leaf:
    rows = []
    for column in ("platform", "os", "browser"):
        values: tuple[str, ...] = getattr(condition, column)
        if values:
            rows.append(f"{column} in ({', '.join(compiler.literal(v) for v in values)})")
    if condition.has_push_token is True:
        rows.append("(push_token is not null and push_token <> '')")
    elif condition.has_push_token is False:
        rows.append("(push_token is null or push_token = '')")
    return compiler.exists(DEVICES.table, rows, alias, only)


def _goal_leaf(
    compiler: SegmentCompiler, condition: GoalCondition, where: str, alias: str, only: str | None
) -> Leaf:
    rows = [
        f"goal = {compiler.literal(condition.goal)}",
        *compiler.period("occurred_at", condition.period),
    ]
    return compiler.exists(EVENTS.table, rows, alias, only)


def _interest_leaf(
    compiler: SegmentCompiler,
    condition: InterestCondition,
    where: str,
    alias: str,
    only: str | None,
) -> Leaf:
    rows = [
        f"event_name = {compiler.literal(INTEREST_EVENT)}",
        f"{condition.attribute} = {compiler.literal(condition.value)}",
        *compiler.period("occurred_at", condition.period),
    ]
    return compiler.exists(EVENTS.table, rows, alias, only, at_least=condition.at_least)


def _message_leaf(
    compiler: SegmentCompiler, condition: MessageCondition, where: str, alias: str, only: str | None
) -> Leaf:
    event_type = MESSAGE_EVENT_TYPES.get(condition.action, condition.action)
    rows = [
        f"event_type = {compiler.literal(event_type)}",
        *compiler.period("occurred_at", condition.period),
    ]
    if condition.campaign is not None:
        rows.append(f"campaign_id = {compiler.literal(condition.campaign)}")
    if condition.channel is not None:
        rows.append(f"channel = {compiler.literal(condition.channel)}")
    return compiler.exists(MESSAGE_EVENTS.table, rows, alias, only)


def _promo_leaf(
    compiler: SegmentCompiler,
    condition: PromoCodeCondition,
    where: str,
    alias: str,
    only: str | None,
) -> Leaf:
    if condition.action == "issued":
        rows = [
            f"event_name = {compiler.literal(PROMO_ISSUED_EVENT)}",
            *compiler.period("occurred_at", condition.period),
        ]
        if condition.code is not None:
            code = compiler.macro("seg_json_text", "properties", "code")
            rows.append(f"{code} = {compiler.literal(condition.code)}")
        return compiler.exists(EVENTS.table, rows, alias, only)
    rows = [
        "promo_code is not null",
        "promo_code <> ''",
        *compiler.period("created_at", condition.period),
    ]
    if condition.code is not None:
        rows.append(f"promo_code = {compiler.literal(condition.code)}")
    return compiler.exists(ORDERS.table, rows, alias, only)


def _related_leaf(
    compiler: SegmentCompiler, condition: RelatedCondition, where: str, alias: str, only: str | None
) -> Leaf:
    inner_alias = f"{alias}r"
    inner = compiler.predicate(condition.where, f"{where}.where", alias=inner_alias)
    matching = (
        f"select {inner_alias}.profile_id from {compiler.base} as {inner_alias} where {inner}"
    )
    rows = [f"kind = {compiler.literal(condition.kind)}", f"related_id in ({matching})"]
    if condition.direction != "any":
        rows.append(f"direction = {compiler.literal(condition.direction)}")
    return compiler.exists(RELATION_EDGES, rows, alias, only)


def _segment_leaf(
    compiler: SegmentCompiler, condition: SegmentCondition, where: str, alias: str, only: str | None
) -> Leaf:
    members = compiler.table(SEGMENT_MEMBERS)
    segment = compiler.literal(condition.segment)
    restrict = f" and profile_id = {only}" if only is not None else ""
    predicate = (
        f"({alias}.profile_id in (select profile_id from {members} "
        f"where segment_id = {segment}{restrict}))"
    )

    def value(profile: str) -> str:
        return (
            f"select count(*) from {members} where segment_id = {segment} "
            f"and profile_id = {profile}"
        )

    return Leaf(predicate, value)


def _bucket_leaf(
    compiler: SegmentCompiler, condition: BucketCondition, where: str, alias: str, only: str | None
) -> Leaf:
    salt = compiler.literal(condition.salt + ":")
    bucket = compiler.macro("seg_bucket", compiler.macro("seg_concat", salt, f"{alias}.profile_id"))
    predicate = f"({bucket} >= {condition.start} and {bucket} < {condition.stop})"

    def value(profile: str) -> str:
        return f"select {compiler.macro('seg_bucket', compiler.macro('seg_concat', salt, profile))}"

    return Leaf(predicate, value)


_LEAVES: dict[type, Callable[..., Leaf]] = {
    FieldCondition: _field_leaf,
    EventCondition: _event_leaf,
    OrderCondition: _order_leaf,
    BoughtCondition: _bought_leaf,
    SubscriptionCondition: _subscription_leaf,
    DeviceCondition: _device_leaf,
    GoalCondition: _goal_leaf,
    InterestCondition: _interest_leaf,
    MessageCondition: _message_leaf,
    PromoCodeCondition: _promo_leaf,
    RelatedCondition: _related_leaf,
    SegmentCondition: _segment_leaf,
    BucketCondition: _bucket_leaf,
}


# --- values ---------------------------------------------------------------------------------
def _where(definition: SegmentDefinition) -> Condition:
    if definition.where is None:
        raise SegmentDefinitionError(
            "where: " + N_("a static segment has no conditions to compile")
        )
    return definition.where


def _parsed(value_type: str, value: Any, *, where: str = "value") -> Any:
    """A definition's value as the Python value of `value_type`; SegmentDefinitionError if
    it is not one."""
    if value_type in ("string", "enum", "list"):
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise SegmentDefinitionError(
                f"{where}.value: " + N_("{value} is not a text").format(value=repr(value))
            )
        return str(value)
    if value_type == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise SegmentDefinitionError(
                f"{where}.value: " + N_("{value} is not a whole number").format(value=repr(value))
            )
        if not -(2**63) <= value < 2**63:
            raise SegmentDefinitionError(
                f"{where}.value: " + N_("{value} is out of range").format(value=repr(value))
            )
        return value
    if value_type == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SegmentDefinitionError(
                f"{where}.value: " + N_("{value} is not a number").format(value=repr(value))
            )
        if not math.isfinite(value) or abs(value) > 1e300:
            raise SegmentDefinitionError(
                f"{where}.value: " + N_("{value} is out of range").format(value=repr(value))
            )
        return float(value)
    if value_type == "boolean":
        if not isinstance(value, bool):
            raise SegmentDefinitionError(
                f"{where}.value: " + N_("{value} is not true or false").format(value=repr(value))
            )
        return value
    if value_type == "date":
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise SegmentDefinitionError(
                f"{where}.value: "
                + N_("{value} is not a date like 2026-11-26").format(value=repr(value))
            ) from None
    if value_type == "datetime":
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            moment = datetime(value.year, value.month, value.day)
        else:
            try:
                moment = datetime.fromisoformat(str(value))
            except ValueError:
                raise SegmentDefinitionError(
                    f"{where}.value: "
                    + N_("{value} is not a time like 2026-11-26T10:00:00Z").format(
                        value=repr(value)
                    )
                ) from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    raise SegmentDefinitionError(
        f"{where}: " + N_("values of type {type} cannot be compared").format(type=value_type)
    )


def _without_rows(condition: Condition, zeros: dict[int, Aggregate]) -> bool | None:
    """The condition's truth for a profile that has no rows behind the aggregates `zeros`
    (keyed by the id of their condition): True, False, or None when it depends on others."""
    if isinstance(condition, All):
        values = [_without_rows(child, zeros) for child in condition.conditions]
        if False in values:
            return False
        return True if all(value is True for value in values) else None
    if isinstance(condition, Any_):
        values = [_without_rows(child, zeros) for child in condition.conditions]
        if True in values:
            return True
        return False if all(value is False for value in values) else None
    if isinstance(condition, Not):
        inner = _without_rows(condition.condition, zeros)
        return None if inner is None else not inner
    aggregate = zeros.get(id(condition))
    if aggregate is None:
        return None
    return _holds_for(aggregate.comparison, aggregate.zero)


def _holds_for(comparison: Comparison, value: float | None) -> bool:
    """Whether a comparison holds for a profile with no activity rows (its aggregate)."""
    op, expected = comparison.op, comparison.value
    if op == "empty":
        return value is None
    if op == "not_empty":
        return value is not None
    if op.startswith("not_"):
        return not _holds_for(Comparison(op.removeprefix("not_"), expected), value)  # type: ignore[arg-type]
    checks: dict[str, Callable[[], bool]] = {
        "equals": lambda: value == expected,
        "in": lambda: value in expected,
        "greater": lambda: value > expected,
        "less": lambda: value < expected,
        "at_least": lambda: value >= expected,
        "at_most": lambda: value <= expected,
        "between": lambda: expected[0] <= value <= expected[1],
    }
    if value is None:
        return False
    check = checks.get(op)
    return bool(check()) if check else False


def _leap(day: date) -> bool:
    year = day.year
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_texts(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(str(entry) for entry in value)
    return str(value)
