"""The identity graph: connected components of records that share an identifier, in SQL.

Input is a long table of identifiers `(record_key, kind, value)`, values already
normalised. Records get dense integer ids in `record_key` order, so the smallest id of a
component is its smallest `record_key`, which names the component deterministically.

Linking: the records of a group sharing one `(kind, value)` are linked pairwise (groups
are small: at most `max_records_per_value`), minus the pairs whose person attributes
conflict. Values shared by more than
`max_records_per_value` records (`test@test.com`, `+70000000000`) would glue strangers
together: they are left out of linking and reported.

Components: min-label propagation with pointer jumping. Every node starts labelled with its
own id; each iteration, one `create_table_as`, gives every node the smallest label among
itself and its neighbours, then replaces each label by its label's label (labels are ids of
nodes in the same component, so this jumps along the chain). Labels only decrease; the loop
stops when no label changed, or raises `NotConverged` after `max_iterations`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from herald.unify.dialect import create_table, sql_for
from herald.unify.errors import NotConverged, UnifyError
from herald.warehouse.base import Warehouse


@dataclass(frozen=True)
class JunkValue:
    """An identifier value shared by too many records to be trusted as a link."""

    kind: str
    value: str
    records: int


@dataclass
class GraphRun:
    """What one propagation did."""

    nodes: int
    edges: int
    iterations: int
    changed: list[int] = field(default_factory=list)  # labels changed per iteration


@dataclass(frozen=True)
class GraphTables:
    """Names of the working and output tables (bare names, qualified by the warehouse)."""

    prefix: str = "unify"

    @property
    def records(self) -> str:  # record_key, id
        return f"{self.prefix}_record_ids"

    @property
    def value_counts(self) -> str:  # kind, value, records
        return f"{self.prefix}_value_counts"

    @property
    def junk(self) -> str:  # kind, value, records
        return f"{self.prefix}_junk_values"

    @property
    def links(self) -> str:  # kind, src, dst, conflict
        return f"{self.prefix}_links"

    @property
    def conflicts(self) -> str:  # kind, record_key_a, record_key_b: links refused
        return f"{self.prefix}_conflicts"

    @property
    def edges(self) -> str:  # src, dst (ids)
        return f"{self.prefix}_edges"

    def labels(self, generation: int) -> str:
        return f"{self.prefix}_labels_{generation % 2}"


def number_records(warehouse: Warehouse, identifiers: str, tables: GraphTables) -> int:
    """Give every record of the identifier table a dense id in record_key order."""
    sql = sql_for(warehouse.dialect)
    create_table(
        warehouse,
        tables.records,
        f"select record_key, {sql.integer('row_number() over (order by record_key)')} as id\n"
        f"from (select distinct record_key from {warehouse.qualify(identifiers)}) as keys",
    )
    return warehouse.row_count(tables.records)


def identifier_edges(
    warehouse: Warehouse,
    identifiers: str,
    tables: GraphTables,
    max_records_per_value: int,
    *,
    person_keys: str | None = None,
    min_given_similarity: float = 0.85,
) -> tuple[list[JunkValue], int]:
    """Link the records that share an identifier value; return the values left out as junk
    and the number of links refused as conflicting.

    With `person_keys` (record_key, given_key, given_canon, given_canon_alt, birth_date,
    ...), a link is refused when both records carry a birth date and they differ, or when
    the two records share identifiers of one family only (`email`, `email_local`: both
    e-mail) and both carry a given name, unlike (Jaro-Winkler below `min_given_similarity`)
    and with no full form in common (`Саша` may be Александр or Александра): a family
    mailbox must not merge two people. The refused links are kept in
    `<prefix>_conflicts` for review."""
    sql = sql_for(warehouse.dialect)
    source = warehouse.qualify(identifiers)
    create_table(
        warehouse,
        tables.value_counts,
        # Most values belong to one record: find the shared ones cheaply (two record keys
        # differ) before counting their distinct records.
        f"""with shared as (
    select kind, value
    from {source}
    where value is not null and value <> ''
    group by kind, value
    having min(record_key) < max(record_key)
)
select i.kind as kind, i.value as value, count(distinct i.record_key) as records
from {source} as i
inner join shared as s on s.kind = i.kind and s.value = i.value
group by i.kind, i.value""",
    )
    counts = warehouse.qualify(tables.value_counts)
    create_table(
        warehouse,
        tables.junk,
        f"select kind, value, records from {counts} where records > {int(max_records_per_value)}",
    )
    ids = warehouse.qualify(tables.records)
    # Working tables rather than CTEs used twice: ClickHouse computes a CTE at every use.
    value_members = f"{tables.prefix}_value_members"
    create_table(
        warehouse,
        value_members,
        f"""select distinct i.kind as kind, i.value as value, r.id as id
from {source} as i
inner join {counts} as c on c.kind = i.kind and c.value = i.value
inner join {ids} as r on r.record_key = i.record_key
where c.records <= {int(max_records_per_value)}""",
    )
    members = warehouse.qualify(value_members)
    # evidence: 1 when the pair shares identifiers of one family only (email, email_local),
    # 2 when of several (a plain min/max: ClickHouse's count(distinct) per pair is costly).
    family = sql.before("a.kind", "_")
    links = f"""select a.id as src, b.id as dst, min(a.kind) as kind,
    case when min({family}) = max({family}) then 1 else 2 end as evidence
from {members} as a
inner join {members} as b on b.kind = a.kind and b.value = a.value
where a.id < b.id
group by a.id, b.id"""
    if person_keys is None:
        create_table(
            warehouse,
            tables.conflicts,
            "select kind, record_key as record_key_a, record_key as record_key_b "
            f"from {source} where 1 = 0",
        )
        create_table(warehouse, tables.edges, f"select distinct src, dst from ({links}) as l")
    else:
        keyed_table = f"{tables.prefix}_keyed_records"
        create_table(
            warehouse,
            keyed_table,
            f"""select r.id as id, k.given_key as given_key, k.given_canon as given_canon,
    k.given_canon_alt as given_canon_alt, k.birth_date as birth_date
from {warehouse.qualify(person_keys)} as k
inner join {ids} as r on r.record_key = k.record_key""",
        )
        keyed = warehouse.qualify(keyed_table)

        def present(column: str) -> str:
            return f"coalesce({column}, '') <> ''"

        conflict = (
            f"({present('ka.birth_date')} and {present('kb.birth_date')} "
            "and ka.birth_date <> kb.birth_date)\n"
            f"    or (l.evidence < 2 and {present('ka.given_key')} and {present('kb.given_key')}"
            " and ka.given_canon <> kb.given_canon and ka.given_canon <> kb.given_canon_alt"
            " and ka.given_canon_alt <> kb.given_canon and ka.given_canon_alt <> kb.given_canon_alt"
            " and "
            f"{sql.jaro_winkler('ka.given_key', 'kb.given_key')} < {float(min_given_similarity)})"
        )
        create_table(
            warehouse,
            tables.links,
            f"""with links as (
{links}
)
select l.kind as kind, l.src as src, l.dst as dst, l.evidence as evidence,
    case when {conflict} then 1 else 0 end as conflict
from links as l
left join {keyed} as ka on ka.id = l.src
left join {keyed} as kb on kb.id = l.dst""",
        )
        warehouse.drop(keyed_table)
        link_table = warehouse.qualify(tables.links)
        create_table(
            warehouse,
            tables.conflicts,
            f"""select l.kind as kind, ra.record_key as record_key_a, rb.record_key as record_key_b
from {link_table} as l
inner join {ids} as ra on ra.id = l.src
inner join {ids} as rb on rb.id = l.dst
where l.conflict = 1""",
        )
        create_table(
            warehouse,
            tables.edges,
            f"select distinct src, dst from {link_table} where conflict = 0",
        )
        warehouse.drop(tables.links)
    warehouse.drop(value_members)
    junk = warehouse.query_arrow(
        f"select kind, value, records from {warehouse.qualify(tables.junk)} "
        "order by records desc, kind, value"
    ).to_pylist()
    refused = warehouse.row_count(tables.conflicts)
    return [JunkValue(row["kind"], row["value"], int(row["records"])) for row in junk], refused


def propagate(
    warehouse: Warehouse,
    nodes_sql: str,
    edges: str,
    tables: GraphTables,
    *,
    max_iterations: int = 50,
) -> tuple[str, GraphRun]:
    """Label every node (`nodes_sql` selects a column `id`) with the smallest id of its
    component over `edges` (src, dst; either direction). Returns the labels table (id, label)."""
    if max_iterations < 1:
        raise UnifyError("max_iterations must be at least 1")
    edge_table = warehouse.qualify(edges)
    current = tables.labels(0)
    create_table(warehouse, current, f"select id, id as label from ({nodes_sql}) as nodes")
    run = GraphRun(
        nodes=warehouse.row_count(current), edges=warehouse.row_count(edges), iterations=0
    )
    for iteration in range(1, max_iterations + 1):
        following = tables.labels(iteration)
        labels = warehouse.qualify(current)
        create_table(
            warehouse,
            following,
            f"""with candidates as (
    select id, label from {labels}
    union all
    select e.dst as id, l.label as label
    from {edge_table} as e inner join {labels} as l on l.id = e.src
    union all
    select e.src as id, l.label as label
    from {edge_table} as e inner join {labels} as l on l.id = e.dst
),
stepped as (
    select id, min(label) as label from candidates group by id
)
select s.id as id, p.label as label
from stepped as s inner join stepped as p on p.id = s.label""",
        )
        changed = int(
            warehouse.scalar(
                f"select count(*) from {warehouse.qualify(following)} as n "
                f"inner join {labels} as o on o.id = n.id where n.label <> o.label"
            )
            or 0
        )
        run.iterations = iteration
        run.changed.append(changed)
        current = following
        if changed == 0:
            return current, run
    raise NotConverged(
        f"the identity graph did not converge in {max_iterations} iterations "
        f"(labels still changing: {run.changed[-3:]}); raise max_iterations or look for "
        "identifier values that chain very many records"
    )


def drop_working_tables(warehouse: Warehouse, tables: GraphTables) -> None:
    """Drop what only the computation needed; junk values and conflicts stay for review."""
    for name in (tables.labels(0), tables.labels(1), tables.value_counts, tables.edges):
        warehouse.drop(name)
