"""One profile per customer per profile database, from the imported records.

    result = build_profiles(warehouse, [schema.schema for schema in list_databases(engine)])

For every database, its records in `stg_profiles__records` are unified (`herald.unify`) on
the schema's identifier fields (and, fuzzily, on its match fields); then four public
outputs are replaced:

- `profile_records` (database, source, import_id, row_number, record_key, profile_id):
  every imported record and the profile it belongs to;
- `profile_identifiers` (profile_id, database, kind, value): each identifier once;
- `profiles` (profile_id, database, created_at, updated_at, fields): the golden record,
  per field the most recent non-empty value (by imported_at, then row_number), as JSON;
- a view `profiles__<database>` per database with one typed column per schema field.

A record of the unification is a source record: `<source>:<record_key>`, whatever number
of imports brought it.

Profile ids are stable across builds. Each new component looks at the ids its records had in
the previous build (the old `profile_records` of the database):

- none: a new id, named by the component's smallest record, `p_<database>:<source>:<key>`
  (if that id was ever used in the database, as a profile, alias or merged id, it gets the
  suffix `~<build_id>`);
- one or more: the component keeps the oldest of them (the earliest `created_at` in the old
  `profiles`, tie: the smallest id); the others are merged into it.

A split (the records of one old profile now in several components): the old id goes to the
component holding the old profile's oldest record (the earliest first `imported_at`, tie:
the smallest `<source>:<key>`); the other components are treated as if they had never had
that id (a new id unless they hold another old profile's oldest record). A split is not
recorded in the history and an earlier merge is never undone.

Two more public tables keep the history:

- `profile_aliases` (alias_id, profile_id, database, merged_at): every id merged into
  another, pointing at the live profile id; cumulative, an alias is re-pointed when its
  profile is itself merged later;
- `profile_merges` (database, kept_id, merged_id, merged_at, build_id): append-only, one row
  per id that stopped being a profile id because of a merge.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from herald.i18n import N_
from herald.profiles.schema import ProfileField, ProfileSchema, column_type
from herald.unify import FuzzyConfig, UnifyConfig, unify
from herald.warehouse.base import TableOptions, Warehouse, string_literal

STAGING = "stg_profiles__records"
PROFILE_RECORDS = "profile_records"
PROFILE_IDENTIFIERS = "profile_identifiers"
PROFILES = "profiles"
IDENTIFIERS_INPUT = "profile_identifiers_input"
ATTRIBUTES_INPUT = "profile_attributes_input"
COMPONENTS = "profile_components"
UNIFY_PREFIX = "profile_unify"
RECORDS_WORK = "profile_records_work"
VALUES_WORK = "profile_values_work"
PROFILE_ALIASES = "profile_aliases"
PROFILE_MERGES = "profile_merges"
CLAIMS = "profile_claims"
IDS = "profile_ids"
MERGES_WORK = "profile_merges_work"
PROFILE_MERGE_RECORDS = "profile_merge_records"
PROFILE_SKIPPED = "profile_skipped_records"
LINKS_INPUT = "profile_links_input"
SKIPPED_WORK = "profile_skipped"
APPLIED_WORK = "profile_applied"
EDIT_MEMBER = "_profile_id"
"""The member of a record's fields that names the profile it edits (a client-card edit)."""
EDITS_PER_ANCHOR = 20  # edits linked through one anchor value, below the graph's junk limit
SKIP_REASONS = {
    "insert": N_("insert only: the profile already exists"),
    "update": N_("update only: no existing profile matches"),
}

# What herald.unify compares fuzzily, by the schema's match kind ("address" it does not use).
ATTRIBUTE_OF_MATCH = {
    "given_name": "given_name",
    "family_name": "family_name",
    "name": "full_name",
    "date": "birth_date",
    "city": "city",
}
ATTRIBUTE_COLUMNS = ("given_name", "family_name", "full_name", "birth_date", "city")
# JSON texts of a value that does not count: a later record leaves the field as it was.
EMPTY_JSON = ("''", "'null'", "'\"\"'", "'[]'", "'{}'")


def view_name(database: str) -> str:
    """The typed view of one database's profiles."""
    return f"profiles__{database}"


@dataclass(frozen=True)
class Unmerge:
    """A merge a person undid: the records `merged_id` held before build `build_id` merged it
    into `kept_id` (kept in `profile_merge_records`) are kept apart from the other records of
    `kept_id`, and their profile gets `merged_id` back."""

    database: str
    kept_id: str
    merged_id: str
    build_id: str


@dataclass(frozen=True)
class BuildRules:
    """What the operational store adds to the records: the match fields of each import that
    chose them (`--match`), and the merges undone."""

    match_fields: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    unmerges: tuple[Unmerge, ...] = ()

    def imports_matching(self, schema: ProfileSchema) -> dict[str, tuple[str, ...]]:
        """The imports with match fields that are all fields of `schema`."""
        names = {field.name for field in schema.fields}
        return {
            import_id: fields
            for import_id, fields in self.match_fields.items()
            if fields and set(fields) <= names
        }

    def unmerges_of(self, database: str) -> list[Unmerge]:
        return [unmerge for unmerge in self.unmerges if unmerge.database == database]


@dataclass(frozen=True)
class _Sql:
    """The few spellings that differ between DuckDB and ClickHouse."""

    dialect: str

    def text(self, column: str, name: str) -> str:
        """A field's value as text (a string unquoted, others as their JSON text); NULL when
        missing, null or empty."""
        if self.dialect == "clickhouse":
            return f"nullIf(JSONExtractString({column}, {_plain_literal(name)}), '')"
        return f"nullif(json_extract_string({column}, {_plain_literal('$.' + name)}), '')"

    def raw(self, column: str, name: str) -> str:
        """A field's value as JSON text; NULL or '' when missing."""
        if self.dialect == "clickhouse":
            return f"JSONExtractRaw({column}, {_plain_literal(name)})"
        return f"cast(json_extract({column}, {_plain_literal('$.' + name)}) as varchar)"

    def timestamp(self, value: datetime) -> str:
        """A UTC time (microseconds) as a literal of the engine's timestamp type."""
        text = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        if self.dialect == "clickhouse":
            return f"toDateTime64('{text}', 6, 'UTC')"
        return f"cast('{text}' as timestamp)"

    def literal(self, text: str) -> str:
        """A string literal of any text (a profile id holds a record key as imported)."""
        return string_literal(self.dialect, text)

    def null_text(self) -> str:
        if self.dialect == "clickhouse":
            return "cast(null as Nullable(String))"
        return "cast(null as varchar)"

    def typed(self, column: str, field: ProfileField) -> str:
        """A field's value in its column type (lists empty, not NULL, when missing)."""
        text = self.text(column, field.name)
        if self.dialect == "clickhouse":
            target = column_type(field.type, "clickhouse")
            if field.type == "list":
                return f"JSONExtract({column}, {_plain_literal(field.name)}, 'Array(String)')"
            if field.type == "json":
                raw = self.raw(column, field.name)
                return f"if({raw} in ('', 'null'), null, {raw})"
            if field.type == "datetime":
                return f"parseDateTime64BestEffortOrNull({text}, 3, 'UTC')"
            if field.type == "date":
                return f"toDate32OrNull({text})"
            return f"cast({text} as {target})"
        target = column_type(field.type, "duckdb")
        if field.type == "list":
            raw = f"json_extract({column}, {_plain_literal('$.' + field.name)})"
            return f"coalesce(cast({raw} as varchar[]), cast([] as varchar[]))"
        if field.type == "json":
            raw = self.raw(column, field.name)
            return f"cast(case when {raw} in ('', 'null') then null else {raw} end as json)"
        if field.type == "datetime":
            # An offset is honoured; a time without one is UTC.
            return (
                f"cast(case when regexp_matches({text}, '[+-][0-9][0-9]:?[0-9][0-9]$') "
                f"then timezone('UTC', cast({text} as timestamptz)) "
                f"else cast({text} as timestamp) end as {target})"
            )
        return f"cast({text} as {target})"


def _plain_literal(text: str) -> str:
    # Names are validated snake_case; still, a quote must never end the literal.
    if "'" in text or "\\" in text:
        raise ValueError(f"unexpected name {text!r}")
    return f"'{text}'"


def build_profiles(
    warehouse: Warehouse,
    schemas: list[ProfileSchema],
    *,
    keep_others: bool = False,
    rules: BuildRules | None = None,
) -> dict[str, Any]:
    """Unify every database's records and replace the public profile tables and views.

    The tables then hold the databases of `schemas` only, unless `keep_others`: then the
    rows of the other databases are kept as they were (rebuilding one database).

    Profile ids are kept from the previous build (see the module's documentation); the ids
    merged away are added to `profile_aliases` and `profile_merges`. `rules` brings the
    imports' match fields and the merges undone.

    Returns counts: {"databases": {name: {"records", "skipped", "profiles", "identifiers",
    "junk_values", "fuzzy_merged", "seconds"}}, "records", "profiles", "merged",
    "build_id", "seconds"}.
    """
    started = time.perf_counter()
    rules = rules or BuildRules()
    sql = _Sql(warehouse.dialect)
    schemas = sorted(schemas, key=lambda schema: schema.database)
    staging = warehouse.qualify(STAGING)
    counts = _record_counts(warehouse, staging)
    now = datetime.now(UTC)
    build_id = f"{now:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:6]}"
    existing = {info.name for info in warehouse.list_tables()}
    report: dict[str, Any] = {"databases": {}}
    unified: list[ProfileSchema] = []
    sources: dict[str, str] = {}
    for schema in schemas:
        clock = time.perf_counter()
        records, conditional = counts.get(schema.database, (0, 0))
        entry: dict[str, Any] = {
            "records": records,
            "skipped": 0,
            "junk_values": [],
            "fuzzy_merged": 0,
        }
        if records:
            source = staging
            result = _unify_database(warehouse, sql, schema, source, rules, existing)
            if conditional:
                entry["skipped"] = _find_skipped(warehouse, schema, source)
                if entry["skipped"]:
                    source = _applied_records(warehouse, schema, staging)
                    result = _unify_database(warehouse, sql, schema, source, rules, existing)
            entry["junk_values"] = [
                {"kind": junk.kind, "value": junk.value, "records": junk.records}
                for junk in result.junk_values
            ]
            entry["fuzzy_merged"] = result.fuzzy.merged if result.fuzzy else 0
            _assign_ids(warehouse, schema, source, existing, build_id, rules)
            sources[schema.database] = source
            unified.append(schema)
        entry["seconds"] = round(time.perf_counter() - clock, 3)
        report["databases"][schema.database] = entry

    rebuilt = [schema.database for schema in schemas]
    _record_merged_records(warehouse, unified, existing, build_id)
    _publish(warehouse, sql, unified, sources, staging, rebuilt if keep_others else None)
    merged = _publish_history(
        warehouse, sql, unified, existing, rebuilt if keep_others else None, now, build_id
    )
    for schema in schemas:
        warehouse.create_view_as(view_name(schema.database), _view_sql(warehouse, sql, schema))
    for name, count in _profile_counts(warehouse).items():
        if name in report["databases"]:
            report["databases"][name]["profiles"] = count[0]
            report["databases"][name]["identifiers"] = count[1]
    for entry in report["databases"].values():
        entry.setdefault("profiles", 0)
        entry.setdefault("identifiers", 0)
    for schema in unified:
        for work in (
            f"{IDENTIFIERS_INPUT}__{schema.database}",
            f"{LINKS_INPUT}__{schema.database}",
            f"{ATTRIBUTES_INPUT}__{schema.database}",
            f"{COMPONENTS}__{schema.database}",
            f"{UNIFY_PREFIX}__{schema.database}_person_keys",
            f"{CLAIMS}__{schema.database}",
            f"{IDS}__{schema.database}",
            f"{SKIPPED_WORK}__{schema.database}",
            f"{APPLIED_WORK}__{schema.database}",
        ):
            warehouse.drop(work)
    report["records"] = sum(entry["records"] for entry in report["databases"].values())
    report["skipped"] = sum(entry["skipped"] for entry in report["databases"].values())
    report["profiles"] = sum(entry["profiles"] for entry in report["databases"].values())
    report["merged"] = merged
    report["build_id"] = build_id
    report["seconds"] = round(time.perf_counter() - started, 3)
    return report


def _record_counts(warehouse: Warehouse, staging: str) -> dict[str, tuple[int, int]]:
    """Per database: its records, and how many of them are insert-only or update-only."""
    rows = warehouse.query_arrow(
        "select database, count(*) as records, "
        "sum(case when mode in ('insert', 'update') then 1 else 0 end) as conditional "
        f"from {staging} group by database"
    ).to_pylist()
    return {row["database"]: (int(row["records"]), int(row["conditional"] or 0)) for row in rows}


def _profile_counts(warehouse: Warehouse) -> dict[str, tuple[int, int]]:
    profiles = warehouse.query_arrow(
        f"select database, count(*) as n from {warehouse.qualify(PROFILES)} group by database"
    ).to_pylist()
    identifiers = warehouse.query_arrow(
        f"select database, count(*) as n from {warehouse.qualify(PROFILE_IDENTIFIERS)} "
        "group by database"
    ).to_pylist()
    found = {row["database"]: int(row["n"]) for row in identifiers}
    return {row["database"]: (int(row["n"]), found.get(row["database"], 0)) for row in profiles}


def _node(source: str = "source", record_key: str = "record_key") -> str:
    """A record of the unification: one source record, whichever imports brought it."""
    return f"concat({source}, ':', {record_key})"


def _unify_database(
    warehouse: Warehouse,
    sql: _Sql,
    schema: ProfileSchema,
    source: str,
    rules: BuildRules,
    existing: set[str],
) -> Any:
    """Unify one database's records of `source` into `profile_components__<database>`.

    Two identifier tables: `profile_identifiers_input` (every record's identifiers, published
    as `profile_identifiers`) and, when an import chose its match fields, a client-card edit
    names its profile or a merge was undone, `profile_links_input` — the identifiers the
    graph links by (see `_links_sql`)."""
    database = _plain_literal(schema.database)
    records = (
        f"select {_node()} as record_key, import_id, fields from {source} "
        f"where database = {database}"
    )
    identifiers = [field for field in schema.fields if field.identifier is not None]
    if identifiers:
        parts = [
            f"select record_key, {_plain_literal(field.identifier or '')} as kind, "
            f"{sql.text('fields', field.name)} as value from records"
            for field in identifiers
        ]
    else:  # every record its own profile
        parts = [f"select record_key, 'none' as kind, {sql.null_text()} as value from records"]
    identifiers_input = f"{IDENTIFIERS_INPUT}__{schema.database}"
    warehouse.create_table_as(
        identifiers_input,
        f"with records as ({records})\n"
        f"select distinct record_key, kind, value from (\n{chr(10).join(_union(parts))}\n) as ids",
        TableOptions(order_by=("record_key",)),
    )

    matching = rules.imports_matching(schema)
    unmerges = rules.unmerges_of(schema.database)
    edits = _has_edits(warehouse, source, database) and {PROFILE_RECORDS, PROFILE_ALIASES} <= (
        existing
    )
    unmerged = _unmerged_nodes_sql(warehouse, sql, schema, unmerges, existing)
    links_input = identifiers_input
    if matching or edits or unmerged:
        links_input = f"{LINKS_INPUT}__{schema.database}"
        warehouse.create_table_as(
            links_input,
            _links_sql(
                warehouse, sql, schema, records, identifiers_input, matching, edits, unmerged
            ),
            TableOptions(order_by=("record_key",)),
        )
    # Records that only an explicit rule links: no fuzzy matching for them.
    excluded: list[str] = [f"fields like '%\"{EDIT_MEMBER}\"%'"]
    if matching:
        listed = ", ".join(_plain_literal(import_id) for import_id in sorted(matching))
        excluded.append(f"import_id in ({listed})")
    if unmerged:
        excluded.append(f"{_node()} in (select node from ({unmerged}) as u)")

    attributes_input: str | None = None
    matched = _match_fields(schema)
    if matched:
        attributes_input = f"{ATTRIBUTES_INPUT}__{schema.database}"
        columns = []
        for column in ATTRIBUTE_COLUMNS:
            match_field = matched.get(column)
            if match_field is None:
                columns.append(f"{sql.null_text()} as {column}")
            elif column == "birth_date":
                columns.append(
                    f"substring({sql.text('fields', match_field.name)}, 1, 10) as {column}"
                )
            else:
                columns.append(f"{sql.text('fields', match_field.name)} as {column}")
        # The latest version of each source record speaks for it.
        warehouse.create_table_as(
            attributes_input,
            f"""with ranked as (
    select {_node()} as record_key, fields,
        row_number() over (
            partition by source, record_key order by imported_at desc, row_number desc
        ) as version
    from {source}
    where database = {database} and not ({" or ".join(excluded)})
)
select record_key, {", ".join(columns)}
from ranked
where version = 1""",
            TableOptions(order_by=("record_key",)),
        )
    config = UnifyConfig(fuzzy=FuzzyConfig() if attributes_input else None)
    return unify(
        warehouse,
        identifiers=links_input,
        attributes=attributes_input,
        output=f"{COMPONENTS}__{schema.database}",
        config=config,
        prefix=f"{UNIFY_PREFIX}__{schema.database}",
    )


def _has_edits(warehouse: Warehouse, source: str, database: str) -> bool:
    found = warehouse.scalar(
        f"select count(*) from {source} where database = {database} "
        f"and fields like '%\"{EDIT_MEMBER}\"%'"
    )
    return bool(found)


def _unmerged_nodes_sql(
    warehouse: Warehouse,
    sql: _Sql,
    schema: ProfileSchema,
    unmerges: list[Unmerge],
    existing: set[str],
) -> str:
    """A select of (node, merged_id): the records each undone merge keeps apart; '' when
    there are none."""
    if not unmerges or PROFILE_MERGE_RECORDS not in existing:
        return ""
    wanted = " or ".join(
        f"(merged_id = {sql.literal(unmerge.merged_id)} "
        f"and build_id = {sql.literal(unmerge.build_id)})"
        for unmerge in unmerges
    )
    return (
        f"select {_node()} as node, max(merged_id) as merged_id "
        f"from {warehouse.qualify(PROFILE_MERGE_RECORDS)} "
        f"where database = {_plain_literal(schema.database)} and ({wanted}) group by {_node()}"
    )


def _links_sql(
    warehouse: Warehouse,
    sql: _Sql,
    schema: ProfileSchema,
    records: str,
    identifiers_input: str,
    matching: dict[str, tuple[str, ...]],
    edits: bool,
    unmerged: str,
) -> str:
    """The identifiers the graph links records by (record_key, kind, value):

    - a record of an import with match fields links only by them: the kind
      `match:<field>+<field>`, the value their texts joined (all must be present); every
      other record of the database carries the same composite, so it can be found;
    - the other records link by their identifiers;
    - a client-card edit (fields carry `_profile_id`) links to its profile's oldest record
      of the previous build (kind `anchor`);
    - the identifiers of the records of an undone merge are set apart (prefixed with the
      merged id), so they link among themselves only.
    """
    listed = ", ".join(_plain_literal(import_id) for import_id in sorted(matching))
    parts = [f"select record_key, 'none' as kind, {sql.null_text()} as value from records"]
    plain = "select record_key from records"
    if matching:
        plain += f" where import_id not in ({listed})"
    parts.append(
        "select record_key, kind, value from "
        f"{warehouse.qualify(identifiers_input)} where record_key in (select record_key from plain)"
    )
    for fields in sorted(set(matching.values())):
        kind = _plain_literal("match:" + "+".join(fields))
        texts = [sql.text("fields", name) for name in fields]
        present = " and ".join(f"{text} is not null" for text in texts)
        joined = texts[0] if len(texts) == 1 else f"concat({', char(31), '.join(texts)})"
        parts.append(
            f"select record_key, {kind} as kind, {joined} as value from records where {present}"
        )
    if edits:
        parts += _anchor_parts(warehouse)
    body = "\n".join(_union(parts))
    ctes = [f"records as ({records})", f"plain as ({plain})"]
    if edits:
        ctes += _anchor_ctes(warehouse, sql, schema)
    if unmerged:
        ctes.append(f"unmerged as ({unmerged})")
        return (
            f"with {', '.join(ctes)},\nlinks as (\n{body}\n)\n"
            "select distinct l.record_key as record_key, l.kind as kind,\n"
            "    case when u.merged_id is null or l.value is null or l.kind = 'anchor' "
            "then l.value else concat('unmerged:', u.merged_id, ':', l.value) end as value\n"
            "from links as l left join unmerged as u on u.node = l.record_key"
        )
    return f"with {', '.join(ctes)}\nselect distinct record_key, kind, value from (\n{body}\n) as l"


def _anchor_ctes(warehouse: Warehouse, sql: _Sql, schema: ProfileSchema) -> list[str]:
    """`edits` (record_key, profile_id, bucket): each edit and the live profile it names;
    `anchors` (profile_id, node): each such profile's oldest record of the previous build."""
    database = _plain_literal(schema.database)
    old_records = warehouse.qualify(PROFILE_RECORDS)
    aliases = warehouse.qualify(PROFILE_ALIASES)
    return [
        f"""named as (
    select record_key, {sql.text("fields", EDIT_MEMBER)} as wanted from records
    where fields like '%"{EDIT_MEMBER}"%'
)""",
        f"""edits as (
    select n.record_key as record_key, coalesce(a.profile_id, n.wanted) as profile_id,
        floor((row_number() over (
            partition by coalesce(a.profile_id, n.wanted) order by n.record_key
        ) - 1) / {EDITS_PER_ANCHOR}) as bucket
    from named as n
    left join {aliases} as a on a.alias_id = n.wanted and a.database = {database}
    where n.wanted is not null
)""",
        f"""ranked_anchors as (
    select profile_id, {_node()} as node,
        row_number() over (partition by profile_id order by {_node()}) as rank
    from {old_records}
    where database = {database} and source <> 'card'
        and profile_id in (select profile_id from edits)
)""",
        "anchors as (select profile_id, node from ranked_anchors where rank = 1)",
    ]


def _anchor_parts(warehouse: Warehouse) -> list[str]:
    bucket = f"concat(a.node, '#', cast(e.bucket as {_text_type(warehouse)}))"
    return [
        f"select e.record_key as record_key, 'anchor' as kind, {bucket} as value "
        "from edits as e inner join anchors as a on a.profile_id = e.profile_id",
        f"select distinct a.node as record_key, 'anchor' as kind, {bucket} as value "
        "from edits as e inner join anchors as a on a.profile_id = e.profile_id",
    ]


def _find_skipped(warehouse: Warehouse, schema: ProfileSchema, source: str) -> int:
    """Find the records of insert-only imports whose profile existed before them, and of
    update-only imports whose profile did not; keep them in `profile_skipped__<db>` with
    the reason. Returns their number."""
    database = _plain_literal(schema.database)
    components = warehouse.qualify(f"{COMPONENTS}__{schema.database}")
    reasons = " ".join(
        f"when {_plain_literal(mode)} then {_plain_literal(reason)}"
        for mode, reason in SKIP_REASONS.items()
    )
    skipped = f"{SKIPPED_WORK}__{schema.database}"
    warehouse.create_table_as(
        skipped,
        f"""with members as (
    select c.component_id as component_id, r.database as database, r.source as source,
        r.import_id as import_id, r.row_number as row_number, r.record_key as record_key,
        r.mode as mode, r.imported_at as imported_at
    from {source} as r
    inner join {components} as c on c.record_key = {_node("r.source", "r.record_key")}
    where r.database = {database}
),
spans as (
    select component_id, min(imported_at) as first_at from members group by component_id
)
select m.database as database, m.source as source, m.import_id as import_id,
    m.row_number as row_number, m.record_key as record_key, m.mode as mode,
    case m.mode {reasons} end as reason
from members as m
inner join spans as s on s.component_id = m.component_id
where (m.mode = 'insert' and s.first_at < m.imported_at)
    or (m.mode = 'update' and s.first_at >= m.imported_at)""",
        TableOptions(order_by=("import_id", "row_number")),
    )
    return int(warehouse.row_count(skipped))


def _applied_records(warehouse: Warehouse, schema: ProfileSchema, staging: str) -> str:
    """The database's records less the skipped ones, as a work table; returns its name."""
    skipped = warehouse.qualify(f"{SKIPPED_WORK}__{schema.database}")
    applied = f"{APPLIED_WORK}__{schema.database}"
    warehouse.create_table_as(
        applied,
        f"""select r.* from {staging} as r
where r.database = {_plain_literal(schema.database)}
    and concat(r.import_id, ':', cast(r.row_number as {_text_type(warehouse)})) not in (
        select concat(import_id, ':', cast(row_number as {_text_type(warehouse)})) from {skipped}
    )""",
        TableOptions(order_by=("source", "record_key")),
    )
    return warehouse.qualify(applied)


def _text_type(warehouse: Warehouse) -> str:
    return "String" if warehouse.dialect == "clickhouse" else "varchar"


def _match_fields(schema: ProfileSchema) -> dict[str, ProfileField]:
    """The first field of each match kind herald.unify compares, by its attribute column."""
    found: dict[str, ProfileField] = {}
    for field in schema.fields:
        column = ATTRIBUTE_OF_MATCH.get(field.match or "")
        if column is not None and column not in found:
            found[column] = field
    return found


def _union(parts: list[str]) -> list[str]:
    return [part if index == 0 else f"union all\n{part}" for index, part in enumerate(parts)]


def _record_merged_records(
    warehouse: Warehouse, schemas: list[ProfileSchema], existing: set[str], build_id: str
) -> None:
    """Append to `profile_merge_records` (database, build_id, merged_id, source, record_key)
    the records each id merged away in this build held before it: what undoing the merge
    sets apart. Runs before the previous `profile_records` is replaced."""
    if PROFILE_RECORDS not in existing:
        return
    old_records = warehouse.qualify(PROFILE_RECORDS)
    parts = [
        f"""select r.database as database, {_plain_literal(build_id)} as build_id,
    r.profile_id as merged_id, r.source as source, r.record_key as record_key
from {old_records} as r
inner join {warehouse.qualify(f"{CLAIMS}__{schema.database}")} as m on m.old_id = r.profile_id
where r.database = {_plain_literal(schema.database)} and m.age > 1"""
        for schema in schemas
    ]
    if not parts:
        return
    select_sql = "\n".join(_union(parts))
    if PROFILE_MERGE_RECORDS in existing:
        warehouse.insert_select(PROFILE_MERGE_RECORDS, select_sql)
    else:
        warehouse.create_table_as(
            PROFILE_MERGE_RECORDS,
            f"select * from (\n{select_sql}\n) as m",
            TableOptions(order_by=("database", "merged_id")),
        )


def _publish(
    warehouse: Warehouse,
    sql: _Sql,
    schemas: list[ProfileSchema],
    sources: dict[str, str],
    staging: str,
    rebuilt: list[str] | None,
) -> None:
    """Replace profile_records, profile_identifiers, profiles and profile_skipped_records
    from the components and each database's records (`sources`); with `rebuilt`, the rows
    of the databases not in it are kept."""

    def replace(table: str, columns: str, select_sql: str, order_by: tuple[str, ...]) -> None:
        kept = ""
        if rebuilt is not None and warehouse.exists(table):
            names = ", ".join(_plain_literal(name) for name in rebuilt)
            kept = (
                f"\nunion all\nselect {columns} from {warehouse.qualify(table)} "
                f"where database not in ({names})"
            )
        warehouse.create_table_as(
            table,
            f"select {columns} from (\n{select_sql}\n) as fresh{kept}",
            TableOptions(order_by=order_by),
        )

    lineage = "r.database as database, r.source as source, r.import_id as import_id, "
    lineage += "r.row_number as row_number, r.record_key as record_key"
    work_parts = [
        f"select {lineage}, i.profile_id as profile_id, "
        "r.imported_at as imported_at, r.fields as fields\n"
        f"from {sources[schema.database]} as r\n"
        f"inner join {warehouse.qualify(f'{COMPONENTS}__{schema.database}')} as c "
        f"on c.record_key = {_node('r.source', 'r.record_key')}\n"
        f"inner join {warehouse.qualify(f'{IDS}__{schema.database}')} as i "
        "on i.component_id = c.component_id\n"
        f"where r.database = {_plain_literal(schema.database)}"
        for schema in schemas
    ]
    if not work_parts:  # nothing imported yet: empty tables of the right shape
        work_parts = [
            f"select {lineage}, concat('p_', r.record_key) as profile_id, "
            f"r.imported_at as imported_at, r.fields as fields from {staging} as r where 1 = 0"
        ]
    warehouse.create_table_as(
        RECORDS_WORK,
        "\n".join(_union(work_parts)),
        TableOptions(order_by=("database", "profile_id")),
    )
    work = warehouse.qualify(RECORDS_WORK)

    record_columns = "database, source, import_id, row_number, record_key, profile_id"
    replace(
        PROFILE_RECORDS,
        record_columns,
        f"select {record_columns} from {work}",
        ("database", "profile_id", "source", "record_key"),
    )

    skipped_columns = "database, source, import_id, row_number, record_key, mode, reason"
    skipped_parts = [
        f"select {skipped_columns} from {warehouse.qualify(f'{SKIPPED_WORK}__{schema.database}')}"
        for schema in schemas
        if sources[schema.database] != staging
    ] or [
        f"select database, source, import_id, row_number, record_key, mode, "
        f"mode as reason from {staging} where 1 = 0"
    ]
    replace(
        PROFILE_SKIPPED,
        skipped_columns,
        "\n".join(_union(skipped_parts)),
        ("database", "import_id", "row_number"),
    )

    identifier_parts = [
        f"""select distinct w.profile_id as profile_id, w.database as database,
    i.kind as kind, i.value as value
from {work} as w
inner join {warehouse.qualify(f"{IDENTIFIERS_INPUT}__{schema.database}")} as i
    on i.record_key = {_node("w.source", "w.record_key")}
where w.database = {_plain_literal(schema.database)} and i.value is not null
    and i.kind <> 'none'"""
        for schema in schemas
    ]
    if not identifier_parts:
        identifier_parts = [
            f"select profile_id, database, source as kind, record_key as value from {work}"
        ]
    replace(
        PROFILE_IDENTIFIERS,
        "profile_id, database, kind, value",
        f"select distinct profile_id, database, kind, "
        f"{'assumeNotNull(value)' if sql.dialect == 'clickhouse' else 'value'} as value "
        f"from (\n{chr(10).join(_union(identifier_parts))}\n) as ids",
        ("database", "kind", "value"),
    )

    # Golden record: per field, the latest non-empty value, as its JSON text.
    value_parts = [
        f"select profile_id, database, {_plain_literal(field.name)} as name, "
        f"{sql.raw('fields', field.name)} as raw, imported_at, row_number, source, record_key "
        f"from {work} where database = {_plain_literal(schema.database)}"
        for schema in schemas
        for field in schema.fields
    ]
    empty = ", ".join(EMPTY_JSON)
    warehouse.create_table_as(
        VALUES_WORK,
        f"""with candidates as (
{chr(10).join(_union(value_parts))}
),
ranked as (
    select profile_id, name, raw,
        row_number() over (
            partition by profile_id, name
            order by imported_at desc, row_number desc, source desc, record_key desc
        ) as rank
    from candidates
    where raw is not null and raw not in ({empty})
)
select profile_id, name, raw from ranked where rank = 1"""
        if value_parts
        else f"select profile_id, source as name, fields as raw from {work} where 1 = 0",
        TableOptions(order_by=("profile_id", "name")),
    )
    values = warehouse.qualify(VALUES_WORK)
    names = sorted({field.name for schema in schemas for field in schema.fields})
    pivot = ", ".join(
        f"max(case when name = {_plain_literal(name)} then raw end) as v_{name}" for name in names
    )
    members = ", ".join(
        f"case when p.v_{name} is null then '' else concat(', \"{name}\": ', p.v_{name}) end"
        for name in names
    )
    golden = (
        f"coalesce(concat('{{', substring(concat({members}, ''), 3), '}}'), '{{}}')"
        if names
        else "'{}'"
    )
    pivoted = (
        f"select profile_id, {pivot} from {values} group by profile_id"
        if names
        else (f"select profile_id from {values}")
    )
    replace(
        PROFILES,
        "profile_id, database, created_at, updated_at, fields",
        f"""with spans as (
    select profile_id, database, min(imported_at) as created_at, max(imported_at) as updated_at
    from {work}
    group by profile_id, database
),
pivoted as ({pivoted})
select s.profile_id as profile_id, s.database as database, s.created_at as created_at,
    s.updated_at as updated_at, {golden} as fields
from spans as s
left join pivoted as p on p.profile_id = s.profile_id""",
        ("database", "profile_id"),
    )
    warehouse.drop(VALUES_WORK)
    warehouse.drop(RECORDS_WORK)


def _assign_ids(
    warehouse: Warehouse,
    schema: ProfileSchema,
    staging: str,
    existing: set[str],
    build_id: str,
    rules: BuildRules,
) -> None:
    """Build `profile_claims__<db>` (component_id, old_id, age: 1 for the id the component
    keeps, 2.. for the ids merged into it) and `profile_ids__<db>` (component_id, profile_id)
    from the previous build's tables. A component that claims no old id but holds the
    records of an undone merge gets the merged id back."""
    database = _plain_literal(schema.database)
    components = warehouse.qualify(f"{COMPONENTS}__{schema.database}")
    claims = f"{CLAIMS}__{schema.database}"
    if PROFILE_RECORDS in existing and PROFILES in existing:
        old_records = warehouse.qualify(PROFILE_RECORDS)
        old_profiles = warehouse.qualify(PROFILES)
        claims_sql = f"""with first_seen as (
    select {_node()} as node, min(imported_at) as first_at
    from {staging}
    where database = {database}
    group by {_node()}
),
previous as (
    select distinct {_node()} as node, profile_id as old_id
    from {old_records}
    where database = {database}
),
holders as (
    select c.component_id as component_id, p.old_id as old_id,
        row_number() over (partition by p.old_id order by f.first_at, p.node) as holder_rank
    from {components} as c
    inner join previous as p on p.node = c.record_key
    inner join first_seen as f on f.node = c.record_key
),
held as (
    select component_id, old_id from holders where holder_rank = 1
)
select h.component_id as component_id, h.old_id as old_id,
    row_number() over (
        partition by h.component_id order by o.created_at, h.old_id
    ) as age
from held as h
inner join {old_profiles} as o on o.profile_id = h.old_id
where o.database = {database}"""
    else:
        claims_sql = (
            f"select component_id, component_id as old_id, 1 as age from {components} where 1 = 0"
        )
    warehouse.create_table_as(claims, claims_sql, TableOptions(order_by=("component_id",)))

    # A new id must never be one the database used before (a profile, alias or merged id).
    used = [
        f"select {column} as id from {warehouse.qualify(table)} where database = {database}"
        for table, column in (
            (PROFILES, "profile_id"),
            (PROFILE_ALIASES, "alias_id"),
            (PROFILE_MERGES, "merged_id"),
        )
        if table in existing
    ]
    fresh_id = f"concat('p_', {database}, ':', component_id)"
    if used:
        fresh_id = (
            f"case when {fresh_id} in (\n{chr(10).join(_union(used))}\n) "
            f"then concat('p_', {database}, ':', component_id, '~', {_plain_literal(build_id)}) "
            f"else {fresh_id} end"
        )
    claimed = warehouse.qualify(claims)
    unclaimed = f"""select distinct component_id from {components}
    where component_id not in (select component_id from {claimed})"""
    restored = ""
    unmerged = _unmerged_nodes_sql(
        warehouse, _Sql(warehouse.dialect), schema, rules.unmerges_of(schema.database), existing
    )
    if unmerged:
        # Each undone merge's id goes to the unclaimed component holding most of its records.
        restored = f""",
unmerged as ({unmerged}),
restorable as (
    select c.component_id as component_id, u.merged_id as merged_id, count(*) as held
    from {components} as c
    inner join unmerged as u on u.node = c.record_key
    where c.component_id in (select component_id from unclaimed)
        and u.merged_id not in (select old_id from {claimed})
    group by c.component_id, u.merged_id
),
ranked as (
    select component_id, merged_id,
        row_number() over (partition by merged_id order by held desc, component_id) as by_id,
        row_number() over (partition by component_id order by held desc, merged_id) as by_comp
    from restorable
),
restored as (select component_id, merged_id from ranked where by_id = 1 and by_comp = 1)"""
    warehouse.create_table_as(
        f"{IDS}__{schema.database}",
        f"""with unclaimed as ({unclaimed}){restored}
select component_id, old_id as profile_id from {claimed} where age = 1
union all
select component_id, {"merged_id" if restored else "''"} as profile_id
from {"restored" if restored else "unclaimed where 1 = 0"}
union all
select component_id, {fresh_id} as profile_id
from unclaimed
where {"component_id not in (select component_id from restored)" if restored else "1 = 1"}""",
        TableOptions(order_by=("component_id",)),
    )


def _publish_history(
    warehouse: Warehouse,
    sql: _Sql,
    schemas: list[ProfileSchema],
    existing: set[str],
    rebuilt: list[str] | None,
    now: datetime,
    build_id: str,
) -> int:
    """Append this build's merges to `profile_merges` and replace `profile_aliases` (old
    aliases re-pointed, new ones added); returns the number of ids merged away."""
    stamp = sql.timestamp(now)
    build = _plain_literal(build_id)
    parts = [
        f"""select {_plain_literal(schema.database)} as database, k.old_id as kept_id,
    m.old_id as merged_id, {stamp} as merged_at, {build} as build_id
from {warehouse.qualify(f"{CLAIMS}__{schema.database}")} as m
inner join {warehouse.qualify(f"{CLAIMS}__{schema.database}")} as k
    on k.component_id = m.component_id
where m.age > 1 and k.age = 1"""
        for schema in schemas
    ]
    if not parts:
        parts = [
            f"select '' as database, '' as kept_id, '' as merged_id, {stamp} as merged_at, "
            f"{build} as build_id where 1 = 0"
        ]
    merge_columns = "database, kept_id, merged_id, merged_at, build_id"
    warehouse.create_table_as(
        MERGES_WORK,
        f"select {merge_columns} from (\n{chr(10).join(_union(parts))}\n) as merges",
        TableOptions(order_by=("database", "merged_id")),
    )
    new = warehouse.qualify(MERGES_WORK)

    previous = ""
    if PROFILE_MERGES in existing:
        previous = f"\nunion all\nselect {merge_columns} from {warehouse.qualify(PROFILE_MERGES)}"
    warehouse.create_table_as(
        PROFILE_MERGES,
        f"select {merge_columns} from (\nselect {merge_columns} from {new}{previous}\n) as m",
        TableOptions(order_by=("database", "merged_at", "merged_id")),
    )

    alias_parts = [
        f"select merged_id as alias_id, kept_id as profile_id, database, merged_at from {new}"
    ]
    if PROFILE_ALIASES in existing:
        aliases = warehouse.qualify(PROFILE_ALIASES)
        # Without `rebuilt`, the aliases of the databases not built now go with their profiles.
        kept = ", ".join(_plain_literal(schema.database) for schema in schemas) or "''"
        where = "1 = 1" if rebuilt is not None else f"a.database in ({kept})"
        alias_parts += [
            f"select a.alias_id as alias_id, a.profile_id as profile_id, "
            f"a.database as database, a.merged_at as merged_at from {aliases} as a "
            f"where {where} and a.profile_id not in (select merged_id from {new})",
            f"select a.alias_id as alias_id, n.kept_id as profile_id, "
            f"a.database as database, a.merged_at as merged_at from {aliases} as a "
            f"inner join {new} as n on n.merged_id = a.profile_id where {where}",
        ]
    warehouse.create_table_as(
        PROFILE_ALIASES,
        "select alias_id, profile_id, database, merged_at from (\n"
        f"{chr(10).join(_union(alias_parts))}\n) as aliases\n"
        f"where alias_id not in (select profile_id from {warehouse.qualify(PROFILES)})",
        TableOptions(order_by=("database", "alias_id")),
    )
    merged = int(warehouse.row_count(MERGES_WORK))
    warehouse.drop(MERGES_WORK)
    return merged


def _view_sql(warehouse: Warehouse, sql: _Sql, schema: ProfileSchema) -> str:
    columns = ",\n    ".join(
        f"{sql.typed('fields', field)} as {warehouse.quote(field.name)}" for field in schema.fields
    )
    return f"""select profile_id, database, created_at, updated_at,
    {columns}
from {warehouse.qualify(PROFILES)}
where database = {_plain_literal(schema.database)}"""
