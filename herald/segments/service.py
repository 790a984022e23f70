"""What the CLI and the API do with segments, over the store and the warehouse.

    check = definition_checker(warehouse, schema)        # for save_segment(check=...)
    estimate(warehouse, schema, definition)              # size of an unsaved definition
    explain(warehouse, schema, definition, "p_shop:crm:1")  # the tree, true/false per node

The warehouse is only read here; refreshing members is a Dagster run
(herald.segments.materialize under the `segment_members` asset).
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from herald.errors import HeraldError
from herald.i18n import N_
from herald.profiles.schema import ProfileSchema
from herald.segments.catalog import Checker
from herald.segments.compiler import SegmentCompiler
from herald.segments.definition import (
    All,
    Any_,
    Condition,
    EventCondition,
    Not,
    RelatedCondition,
    SegmentDefinition,
    SegmentDefinitionError,
    leaves,
)
from herald.segments.inputs import EVENTS, PROFILE_ALIASES, segment_profiles_table
from herald.warehouse.base import Warehouse

# A definition matching every profile of a base at least this big is refused unless it says
# allow_everyone: true (a slip in a condition should not send to the whole base).
EVERYONE_LIMIT = 10_000


class SegmentInputsMissing(HeraldError):
    """The warehouse has no segment inputs for the database yet."""


class UnknownProfile(HeraldError):
    pass


def _require_inputs(warehouse: Warehouse, schema: ProfileSchema) -> None:
    if not warehouse.exists(segment_profiles_table(schema.database)):
        raise SegmentInputsMissing(
            N_("the warehouse has no profiles of database {database} for segments yet").format(
                database=repr(schema.database)
            )
            + "; "
            + N_("run `herald unify` (or `herald materialize`) first")
        )


def known_events(warehouse: Warehouse) -> set[str] | None:
    """Event names the warehouse has seen; None when it holds no events table at all."""
    for table in (EVENTS.table, EVENTS.source):
        if warehouse.exists(table):
            names = warehouse.query_arrow(
                f"select distinct event_name from {warehouse.qualify(table)}"
            )
            return {name for name in names.column(0).to_pylist() if name}
    return None


def definition_checker(warehouse: Warehouse | None, schema: ProfileSchema) -> Checker:
    """Checks a definition before it is saved: fields, types and values against the schema;
    events against those recorded; and that it does not match a whole big base by mistake."""

    def check(definition: SegmentDefinition) -> None:
        if definition.database != schema.database:
            raise SegmentDefinitionError(
                N_("database: {database} is not {expected}").format(
                    database=repr(definition.database), expected=repr(schema.database)
                )
            )
        if definition.where is None:
            return
        as_of = datetime.now(UTC)
        if warehouse is None:
            return
        compiler = SegmentCompiler(warehouse, schema, as_of=as_of)
        compiler.check(definition)
        events = known_events(warehouse)
        wanted = [
            leaf.event for leaf in leaves(definition.where) if isinstance(leaf, EventCondition)
        ]
        unknown = sorted({name for name in wanted if events is None or name not in events})
        if unknown:
            seen = ", ".join(sorted(events)[:20]) if events else "none yet"
            raise SegmentDefinitionError(
                "where: "
                + N_("no event named {name} has been recorded (events seen: {events})").format(
                    name=repr(unknown[0]), events=seen
                )
            )
        if definition.allow_everyone or not warehouse.exists(
            segment_profiles_table(schema.database)
        ):
            return
        total = int(warehouse.scalar(compiler.total_sql()) or 0)
        if total >= EVERYONE_LIMIT:
            count = int(warehouse.scalar(compiler.count_sql(definition)) or 0)
            if count == total:
                raise SegmentDefinitionError(
                    "where: "
                    + N_(
                        "the conditions match every one of the {total} profiles of {database}"
                    ).format(total=total, database=repr(schema.database))
                    + "; "
                    + N_("check them, or say allow_everyone: true")
                )

    return check


def estimate(
    warehouse: Warehouse,
    schema: ProfileSchema,
    definition: SegmentDefinition,
    *,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """How many profiles an (unsaved) definition matches now, of how many."""
    _require_inputs(warehouse, schema)
    started = time.perf_counter()
    compiler = SegmentCompiler(warehouse, schema, as_of=as_of or datetime.now(UTC))
    compiler.check(definition)
    row = warehouse.query_arrow(
        f"select ({compiler.count_sql(definition)}) as members, ({compiler.total_sql()}) as total"
    ).to_pylist()[0]
    members, total = int(row["members"] or 0), int(row["total"] or 0)
    return {
        "database": schema.database,
        "members": members,
        "total": total,
        "share": round(members / total, 6) if total else 0.0,
        "seconds": round(time.perf_counter() - started, 3),
    }


def read_members(
    warehouse: Warehouse, segment: str, *, limit: int, after: str | None = None
) -> dict[str, Any] | None:
    """The segment's member count and a page of members (profile_id, since in UTC) ordered
    by profile id, after `after`; None while no segment has been computed."""
    from herald.segments.compiler import SEGMENT_MEMBERS

    if not warehouse.exists(SEGMENT_MEMBERS):
        return None
    table = warehouse.qualify(SEGMENT_MEMBERS)
    where = f"segment_id = {warehouse.literal(segment)}"
    total = int(warehouse.scalar(f"select count(*) from {table} where {where}") or 0)
    if after is not None:
        where += f" and profile_id > {warehouse.literal(after)}"
    rows = warehouse.query_arrow(
        f"select profile_id, since from {table} where {where} order by profile_id limit {limit}"
    ).to_pylist()
    profiles = [{**row, "since": _utc(row["since"])} for row in rows]
    return {"segment": segment, "members": total, "profiles": profiles}


def latest_sizes(warehouse: Warehouse, segment: str | None = None) -> dict[str, dict[str, Any]]:
    """Per segment (or for one), its size at its latest refresh and when that was (UTC)."""
    from herald.segments.materialize import SEGMENT_SIZES

    if not warehouse.exists(SEGMENT_SIZES):
        return {}
    table = warehouse.qualify(SEGMENT_SIZES)
    only = f"where segment_id = {warehouse.literal(segment)} " if segment is not None else ""
    rows = warehouse.query_arrow(
        f"select segment_id, members, computed_at from {table} "
        f"where (segment_id, computed_at) in (select segment_id, max(computed_at) from {table} "
        f"{only}group by segment_id)"
    ).to_pylist()
    return {
        row["segment_id"]: {"members": row["members"], "computed_at": _utc(row["computed_at"])}
        for row in rows
    }


def _utc(moment: datetime | None) -> datetime | None:
    """A time read from the warehouse, in UTC (DuckDB keeps UTC without an offset)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def unknown_profiles(warehouse: Warehouse, database: str, profile_ids: list[str]) -> list[str]:
    """The ids that are neither a profile nor a merged id of the database (what a static
    list would keep in vain); [] while the database has no segment inputs yet."""
    table = segment_profiles_table(database)
    if not profile_ids or not warehouse.exists(table):
        return []
    known: set[str] = set()
    aliases = warehouse.exists(PROFILE_ALIASES)
    for start in range(0, len(profile_ids), 1000):
        listed = ", ".join(warehouse.literal(i) for i in profile_ids[start : start + 1000])
        query = f"select profile_id from {warehouse.qualify(table)} where profile_id in ({listed})"
        if aliases:
            query += (
                f" union all select alias_id from {warehouse.qualify(PROFILE_ALIASES)} "
                f"where database = {warehouse.literal(database)} and alias_id in ({listed})"
            )
        known.update(warehouse.query_arrow(query).column(0).to_pylist())
    return [profile_id for profile_id in profile_ids if profile_id not in known]


def live_profile_id(warehouse: Warehouse, database: str, profile_id: str) -> str:
    """The profile id, or the live id of a merged one; UnknownProfile otherwise."""
    q = warehouse.qualify
    literal = warehouse.literal(profile_id)
    found = warehouse.scalar(
        f"select count(*) from {q(segment_profiles_table(database))} where profile_id = {literal}"
    )
    if found:
        return profile_id
    if warehouse.exists(PROFILE_ALIASES):
        live = warehouse.scalar(
            f"select profile_id from {q(PROFILE_ALIASES)} where alias_id = {literal} "
            f"and database = {warehouse.literal(database)}"
        )
        if live:
            return str(live)
    raise UnknownProfile(
        N_("database {database} has no profile {profile}").format(
            database=repr(database), profile=repr(profile_id)
        )
    )


def explain(
    warehouse: Warehouse,
    schema: ProfileSchema,
    definition: SegmentDefinition,
    profile_id: str,
    *,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """The condition tree for one profile: every node true or false, and behind each leaf
    the value it compared (a field's value, a count, a sum, a date, a status)."""
    _require_inputs(warehouse, schema)
    if definition.where is None:
        raise SegmentDefinitionError(
            N_("segment {name} is static: a list has no conditions to explain").format(
                name=repr(definition.name)
            )
        )
    live = live_profile_id(warehouse, schema.database, profile_id)
    compiler = SegmentCompiler(warehouse, schema, as_of=as_of or datetime.now(UTC))
    only = warehouse.literal(live)
    columns: list[str] = []
    nodes: list[dict[str, Any]] = []

    def visit(condition: Condition, where: str) -> dict[str, Any]:
        index = len(nodes)
        node: dict[str, Any] = {"condition": describe(condition)}
        nodes.append(node)
        columns.append(f"{compiler.predicate(condition, where, only=only)} as t{index}")
        if isinstance(condition, All | Any_):
            kind = "all" if isinstance(condition, All) else "any"
            node["children"] = [
                visit(child, f"{where}.{kind}[{position}]")
                for position, child in enumerate(condition.conditions)
            ]
        elif isinstance(condition, Not):
            node["children"] = [visit(condition.condition, f"{where}.not")]
        else:
            leaf = compiler.leaf(condition, where, only=only)
            columns.append(f"({leaf.value(only)}) as v{index}")
            node["_value"] = f"v{index}"
        node["_index"] = index
        return node

    tree = visit(definition.where, "where")
    base = warehouse.qualify(segment_profiles_table(schema.database))
    sql = f"select {', '.join(columns)} from {base} as p where p.profile_id = {only}"
    row = warehouse.query_arrow(sql).to_pylist()[0]

    def fill(node: dict[str, Any]) -> None:
        index = node.pop("_index")
        node["result"] = bool(row[f"t{index}"])
        value_column = node.pop("_value", None)
        if value_column is not None:
            node["value"] = _plain(row[value_column])
        for child in node.get("children", []):
            fill(child)

    fill(tree)
    return {
        "segment": definition.name,
        "database": schema.database,
        "profile_id": live,
        "as_of": compiler.as_of.isoformat(),
        "member": tree["result"],
        "tree": tree,
    }


def describe(condition: Condition) -> dict[str, Any]:
    """A condition as a small document (what the node of an explanation shows)."""
    if isinstance(condition, All | Any_):
        return {"kind": "all" if isinstance(condition, All) else "any"}
    if isinstance(condition, Not):
        return {"kind": "not"}
    kind = type(condition).__name__.removesuffix("Condition").lower()
    kind = {"promocode": "promo_code"}.get(kind, kind)
    document: dict[str, Any] = {"kind": kind}
    for name, value in vars(condition).items():
        if isinstance(condition, RelatedCondition) and name == "where":
            document["where"] = describe(value)
            continue
        document[name] = _plain(_document_value(value))
    return document


def _document_value(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return {
            key: _document_value(entry)
            for key, entry in vars(value).items()
            if entry not in (None, (), "")
        }
    if isinstance(value, tuple):
        return [_document_value(entry) for entry in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {key: _plain(entry) for key, entry in value.items()}
    if isinstance(value, list):
        return [_plain(entry) for entry in value]
    return value
