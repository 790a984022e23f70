"""What segments read: each profile database's profiles and their activity, linked once.

    build_inputs(warehouse, databases, subscriptions=rows, relations=rows)

Activity rows carry identifiers, not profile ids: an event its user, anonymous and device id,
an order its customer id, a message event its contact id and recipient. A row belongs to a
profile when one of those values is one of the profile's identifier values
(`profile_identifiers`); a value held by two profiles goes to the smaller id. The first id
column that links decides (user id before anonymous id before device id), so a row belongs
to one profile per database.

Tables (every one has `database` and `profile_id` first, ordered by them):

- `segment_profiles__<database>`: the typed profiles (`profiles__<database>` as a table);
- `profile_events`, `profile_orders`, `profile_order_items`, `profile_message_events`,
  `profile_devices`: the activity marts' rows with their profile;
- `profile_subscription_states`: the latest status per channel and resource, from the
  operational store (client card, API) and the CRM's subscription export, newer wins;
- `profile_relation_edges`: the store's relations, once per direction (`to`: this profile
  is the relation's source; `from`: its target).

A source table the warehouse does not have yet gives an empty input of the same shape.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from herald.profiles.build import PROFILE_IDENTIFIERS, PROFILES, view_name
from herald.warehouse.base import TableOptions, Warehouse

PROFILE_ALIASES = "profile_aliases"
ORDER = TableOptions(order_by=("database", "profile_id"))

Columns = tuple[tuple[str, str], ...]  # (name, type: text | bigint | double | timestamp)


@dataclass(frozen=True)
class ActivityInput:
    """An activity table: `source` rows linked to profiles through `links` (in priority
    order), keeping `columns` (expressions over the source row `s`, with their type)."""

    table: str
    source: str
    links: tuple[str, ...]
    columns: Columns
    expressions: dict[str, str] | None = None  # column -> SQL over `s`, when not `s.column`
    join: str = ""  # more tables the columns read
    # Columns (database, profile id) naming the profile outright, as Herald's own message
    # events do (the id a message was sent to; a later merge is followed through aliases).
    # They decide before the identifier links.
    direct: tuple[str, str] | None = None


EVENTS = ActivityInput(
    "profile_events",
    "events",
    ("user_id", "anonymous_id", "device_id"),
    (
        ("event_id", "text"),
        ("event_name", "text"),
        ("occurred_at", "timestamp"),
        ("product_id", "text"),
        ("category", "text"),
        ("brand", "text"),
        ("price", "double"),
        ("goal", "text"),
        ("url", "text"),
        ("path", "text"),
        ("referrer_host", "text"),
        ("traffic_source", "text"),
        ("utm_source", "text"),
        ("utm_medium", "text"),
        ("utm_campaign", "text"),
        ("properties", "text"),
    ),
)
ORDERS = ActivityInput(
    "profile_orders",
    "orders",
    ("customer_id",),
    (
        ("order_id", "text"),
        ("created_at", "timestamp"),
        ("status", "text"),
        ("total", "double"),
        ("promo_code", "text"),
        ("channel", "text"),
    ),
)
ORDER_ITEMS = ActivityInput(
    "profile_order_items",
    "order_items",
    ("customer_id",),
    (
        ("order_id", "text"),
        ("created_at", "timestamp"),
        ("status", "text"),
        ("product_id", "text"),
        ("category", "text"),
        ("brand", "text"),
        ("quantity", "double"),
        ("line_total", "double"),
    ),
    expressions={
        "created_at": "o.created_at",
        "status": "o.status",
        "quantity": "s.quantity",
    },
    join="join {orders} o on o.order_id = s.order_id",
)
MESSAGE_EVENTS = ActivityInput(
    "profile_message_events",
    "message_events",
    ("contact_id", "recipient"),
    (
        ("event_id", "text"),
        ("event_type", "text"),
        ("campaign_id", "text"),
        ("channel", "text"),
        ("occurred_at", "timestamp"),
    ),
    direct=("database", "profile_id"),
)
DEVICES = ActivityInput(
    "profile_devices",
    "stg_web__devices",
    ("customer_id", "signup_id", "device_id", "anonymous_id"),
    (
        ("device_id", "text"),
        ("platform", "text"),
        ("os", "text"),
        ("browser", "text"),
        ("push_token", "text"),
    ),
)
ACTIVITY = (EVENTS, ORDERS, ORDER_ITEMS, MESSAGE_EVENTS, DEVICES)

SUBSCRIPTION_STATES = "profile_subscription_states"
RELATION_EDGES = "profile_relation_edges"
SUBSCRIPTION_COLUMNS: Columns = (
    ("database", "text"),
    ("profile_id", "text"),
    ("channel", "text"),
    ("resource", "text"),
    ("status", "text"),
    ("changed_at", "timestamp"),
)
RELATION_COLUMNS: Columns = (
    ("database", "text"),
    ("profile_id", "text"),
    ("related_id", "text"),
    ("kind", "text"),
    ("direction", "text"),
)
CRM_SUBSCRIPTIONS = "stg_crm__subscriptions"


def segment_profiles_table(database: str) -> str:
    return f"segment_profiles__{database}"


def sql_type(kind: str, dialect: str) -> str:
    duckdb = {"text": "varchar", "bigint": "bigint", "double": "double", "timestamp": "timestamp"}
    clickhouse = {
        "text": "Nullable(String)",
        "bigint": "Nullable(Int64)",
        "double": "Nullable(Float64)",
        "timestamp": "Nullable(DateTime64(6, 'UTC'))",
    }
    return (clickhouse if dialect == "clickhouse" else duckdb)[kind]


def _cast(expression: str, kind: str, dialect: str) -> str:
    return f"cast({expression} as {sql_type(kind, dialect)})"


def build_inputs(
    warehouse: Warehouse,
    databases: Sequence[str],
    *,
    subscriptions: Sequence[dict[str, Any]] = (),
    relations: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """Replace every input table; returns rows per table and seconds taken.

    `subscriptions` rows: database, profile_id, channel, resource, status, changed_at (UTC);
    `relations` rows: database, from_profile_id, to_profile_id, kind (from the store).
    """
    started = time.perf_counter()
    existing = {info.name for info in warehouse.list_tables()}
    have_profiles = PROFILES in existing and PROFILE_IDENTIFIERS in existing
    databases = [name for name in databases if view_name(name) in existing] if have_profiles else []
    for database in databases:
        warehouse.create_table_as(
            segment_profiles_table(database),
            f"select * from {warehouse.qualify(view_name(database))}",
            TableOptions(order_by=("profile_id",)),
        )
    rows: dict[str, int] = {}
    for activity in ACTIVITY:
        _build_activity(warehouse, activity, databases, existing)
        rows[activity.table] = warehouse.row_count(activity.table)
    _build_subscriptions(warehouse, databases, subscriptions, existing)
    rows[SUBSCRIPTION_STATES] = warehouse.row_count(SUBSCRIPTION_STATES)
    _build_relations(warehouse, databases, relations, existing)
    rows[RELATION_EDGES] = warehouse.row_count(RELATION_EDGES)
    return {
        "databases": list(databases),
        "rows": rows,
        "seconds": round(time.perf_counter() - started, 3),
    }


def _empty(warehouse: Warehouse, columns: Columns) -> str:
    parts = ", ".join(
        f"{_cast('null', kind, warehouse.dialect)} as {warehouse.quote(name)}"
        for name, kind in columns
    )
    return f"select {parts} where 1 = 0"


def _identifier_values(warehouse: Warehouse, database: str) -> str:
    """One profile per identifier value of a database."""
    return (
        f"select value, min(profile_id) as profile_id "
        f"from {warehouse.qualify(PROFILE_IDENTIFIERS)} "
        f"where database = {warehouse.literal(database)} and value is not null "
        f"group by value"
    )


def _build_activity(
    warehouse: Warehouse, activity: ActivityInput, databases: Sequence[str], existing: set[str]
) -> None:
    header: Columns = (("database", "text"), ("profile_id", "text"))
    columns = header + activity.columns
    present = activity.source in existing and (not activity.join or ORDERS.source in existing)
    if present:
        source_columns = {column.name for column in warehouse.columns(activity.source)}
        links = [link for link in activity.links if link in source_columns]
        if activity is ORDER_ITEMS:
            links = ["customer_id"]
    if not present or not databases or not links:
        warehouse.create_table_as(activity.table, _empty(warehouse, columns), ORDER)
        return
    available = set(source_columns)
    if activity.join:
        available |= {column.name for column in warehouse.columns(ORDERS.source)}
    direct = activity.direct if activity.direct and set(activity.direct) <= available else None
    aliases = PROFILE_ALIASES in existing
    parts = [
        _activity_sql(warehouse, activity, database, links, available, direct, aliases)
        for database in databases
    ]
    warehouse.create_table_as(activity.table, "\nunion all\n".join(parts), ORDER)


def _activity_sql(
    warehouse: Warehouse,
    activity: ActivityInput,
    database: str,
    links: Sequence[str],
    available: set[str],
    direct: tuple[str, str] | None = None,
    aliases: bool = False,
) -> str:
    """The source's rows of one database with their profile; a column the source does not
    have is NULL."""
    expressions = {
        name: (f"s.{name}" if name in available else "null") for name, _kind in activity.columns
    }
    expressions.update(
        {
            name: expression
            for name, expression in (activity.expressions or {}).items()
            if expression.split(".")[-1] in available
        }
    )
    dialect = warehouse.dialect

    def link_column(link: str) -> str:
        return f"o.{link}" if activity is ORDER_ITEMS else f"s.{link}"

    joins = "\n".join(
        f"left join ids as l{index} on l{index}.value = {link_column(link)}"
        for index, link in enumerate(links)
    )
    candidates = [f"l{index}.profile_id" for index in range(len(links))]
    if direct is not None:
        database_column, id_column = direct
        named = f"(case when s.{database_column} = {warehouse.literal(database)} then "
        if aliases:
            named += f"coalesce(alias.profile_id, s.{id_column}) end)"
            joins += (
                f"\nleft join {warehouse.qualify(PROFILE_ALIASES)} as alias "
                f"on alias.database = s.{database_column} and alias.alias_id = s.{id_column}"
            )
        else:
            named += f"s.{id_column} end)"
        candidates.insert(0, named)
    profile = candidates[0] if len(candidates) == 1 else "coalesce(" + ", ".join(candidates) + ")"
    selected = ",\n    ".join(
        f"{_cast(expressions[name], kind, dialect)} as {warehouse.quote(name)}"
        for name, kind in activity.columns
    )
    join = activity.join.format(orders=warehouse.qualify(ORDERS.source))
    return f"""select * from (
with ids as ({_identifier_values(warehouse, database)})
select {warehouse.literal(database)} as database, {profile} as profile_id,
    {selected}
from {warehouse.qualify(activity.source)} as s
{join}
{joins}
) as linked where profile_id is not null"""


def _alias_map(warehouse: Warehouse, existing: set[str]) -> dict[tuple[str, str], str]:
    if PROFILE_ALIASES not in existing:
        return {}
    table = warehouse.query_arrow(
        f"select database, alias_id, profile_id from {warehouse.qualify(PROFILE_ALIASES)}"
    )
    return {(row["database"], row["alias_id"]): row["profile_id"] for row in table.to_pylist()}


def _arrow(columns: Columns, rows: Sequence[dict[str, Any]]) -> pa.Table:
    types = {"text": pa.string(), "timestamp": pa.timestamp("us", tz="UTC")}
    schema = pa.schema([(name, types[kind]) for name, kind in columns])
    return pa.Table.from_pylist(list(rows), schema=schema)


def _load_rows(warehouse: Warehouse, work: str, columns: Columns, rows: list[dict]) -> None:
    warehouse.create_table_as(work, _empty(warehouse, columns), ORDER)
    if rows:
        warehouse.insert_arrow(work, _arrow(columns, rows))


def _build_subscriptions(
    warehouse: Warehouse,
    databases: Sequence[str],
    subscriptions: Sequence[dict[str, Any]],
    existing: set[str],
) -> None:
    aliases = _alias_map(warehouse, existing)
    wanted = set(databases)
    rows = [
        {
            **row,
            "profile_id": aliases.get((row["database"], row["profile_id"]), row["profile_id"]),
            "changed_at": _utc(row["changed_at"]),
        }
        for row in subscriptions
        if row["database"] in wanted
    ]
    work = "_segment_store_subscriptions"
    _load_rows(warehouse, work, SUBSCRIPTION_COLUMNS, rows)
    parts = [f"select * from {warehouse.qualify(work)}"]
    if CRM_SUBSCRIPTIONS in existing:
        for database in databases:
            parts.append(
                f"""select * from (
with ids as ({_identifier_values(warehouse, database)})
select {warehouse.literal(database)} as database, ids.profile_id as profile_id,
    {_cast("c.channel", "text", warehouse.dialect)} as channel,
    {_cast("coalesce(c.resource, '*')", "text", warehouse.dialect)} as resource,
    {_cast("c.status", "text", warehouse.dialect)} as status,
    {_cast("c.changed_at", "timestamp", warehouse.dialect)} as changed_at
from {warehouse.qualify(CRM_SUBSCRIPTIONS)} as c
join ids on ids.value = c.contact_id
) as crm"""
            )
    union = "\nunion all\n".join(parts)
    names = ", ".join(warehouse.quote(name) for name, _kind in SUBSCRIPTION_COLUMNS)
    warehouse.create_table_as(
        SUBSCRIPTION_STATES,
        f"""select {names} from (
    select *, row_number() over (
        partition by database, profile_id, channel, resource
        order by changed_at desc, status
    ) as newest
    from ({union}) as every_change
) as ranked where newest = 1""",
        ORDER,
    )
    warehouse.drop(work)


def _build_relations(
    warehouse: Warehouse,
    databases: Sequence[str],
    relations: Sequence[dict[str, Any]],
    existing: set[str],
) -> None:
    aliases = _alias_map(warehouse, existing)
    wanted = set(databases)
    rows: list[dict[str, Any]] = []
    for relation in relations:
        database = relation["database"]
        if database not in wanted:
            continue
        source = aliases.get((database, relation["from_profile_id"]), relation["from_profile_id"])
        target = aliases.get((database, relation["to_profile_id"]), relation["to_profile_id"])
        kind = relation["kind"]
        rows.append(
            {"database": database, "profile_id": source, "related_id": target, "kind": kind,
             "direction": "to"}
        )  # fmt: skip
        rows.append(
            {"database": database, "profile_id": target, "related_id": source, "kind": kind,
             "direction": "from"}
        )  # fmt: skip
    _load_rows(warehouse, RELATION_EDGES, RELATION_COLUMNS, rows)


def _utc(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)
