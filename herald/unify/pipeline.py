"""One profile per real customer: identifiers, then fuzzy links, then components.

0. Person keys (name skeletons, diminutives resolved, birth date, city key) are computed
   in Python in batches and stored as `<prefix>_person_keys`.
1. The identifier graph (`herald.unify.graph`) links records sharing an e-mail or phone,
   unless their person keys conflict, and labels its components in SQL.
2. Fuzzy matching blocks the person keys in SQL, pulls only the members of blocks that
   span two or more components, scores their pairs in Python (`herald.unify.fuzzy`) and
   writes the merges and the review band to `<prefix>_fuzzy_pairs`.
3. The merges become edges between components; a second, small propagation over
   components joins them. The output table maps every record to its component, named by
   the component's smallest record_key.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

import pyarrow as pa

from herald.unify.fuzzy import (
    KEY_SCHEMA,
    PAIR_SCHEMA,
    ComponentFacts,
    FuzzyConfig,
    FuzzyRun,
    Person,
    keys_table,
    match,
    people_from,
)
from herald.unify.graph import (
    GraphRun,
    GraphTables,
    JunkValue,
    drop_working_tables,
    identifier_edges,
    number_records,
    propagate,
)
from herald.warehouse.base import TableOptions, Warehouse

KEY_BATCH_ROWS = 200_000


@dataclass(frozen=True)
class UnifyConfig:
    max_records_per_value: int = 25
    max_iterations: int = 50
    min_given_similarity: float = 0.85  # below it, a shared identifier does not link
    fuzzy: FuzzyConfig | None = field(default_factory=FuzzyConfig)  # None: identifiers only


@dataclass
class UnifyResult:
    output: str
    records: int
    components: int
    junk_values: list[JunkValue]
    refused_links: int
    identifier_graph: GraphRun
    component_graph: GraphRun | None
    fuzzy: FuzzyRun | None
    seconds: dict[str, float]

    @property
    def iterations(self) -> int:
        extra = self.component_graph.iterations if self.component_graph else 0
        return self.identifier_graph.iterations + extra


def unify(
    warehouse: Warehouse,
    identifiers: str = "unify_identifiers",
    attributes: str | None = "unify_attributes",
    *,
    output: str = "identity_components",
    config: UnifyConfig | None = None,
    prefix: str = "unify",
) -> UnifyResult:
    """Build `output` (record_key, component_id) from the identifier table
    (record_key, kind, value) and, when given, the attribute table (record_key, given_name,
    family_name, full_name, birth_date, city) for fuzzy links."""
    config = config or UnifyConfig()
    tables = GraphTables(prefix)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    records = number_records(warehouse, identifiers, tables)
    person_keys: str | None = None
    if attributes is not None:
        person_keys = f"{prefix}_person_keys"
        store_person_keys(warehouse, attributes, person_keys)
        seconds["person_keys"] = time.perf_counter() - clock
        clock = time.perf_counter()
    junk, refused = identifier_edges(
        warehouse,
        identifiers,
        tables,
        config.max_records_per_value,
        person_keys=person_keys,
        min_given_similarity=config.min_given_similarity,
    )
    seconds["edges"] = time.perf_counter() - clock
    clock = time.perf_counter()

    labels, identifier_run = propagate(
        warehouse,
        f"select id from {warehouse.qualify(tables.records)}",
        tables.edges,
        tables,
        max_iterations=config.max_iterations,
    )
    exact = f"{prefix}_exact_labels"
    warehouse.create_table_as(exact, f"select id, label from {warehouse.qualify(labels)}")
    seconds["identifier_graph"] = time.perf_counter() - clock

    fuzzy_run: FuzzyRun | None = None
    component_run: GraphRun | None = None
    final_labels = exact
    if config.fuzzy is not None and person_keys is not None:
        clock = time.perf_counter()
        fuzzy_run = _fuzzy_pairs(
            warehouse, identifiers, person_keys, tables, exact, config.fuzzy, prefix
        )
        seconds["fuzzy"] = time.perf_counter() - clock
        clock = time.perf_counter()
        if fuzzy_run.merged:
            final_labels, component_run = _join_components(
                warehouse, tables, exact, prefix, config.max_iterations
            )
        seconds["component_graph"] = time.perf_counter() - clock

    clock = time.perf_counter()
    ids = warehouse.qualify(tables.records)
    warehouse.create_table_as(
        output,
        f"""select r.record_key as record_key, c.record_key as component_id
from {ids} as r
inner join {warehouse.qualify(final_labels)} as l on l.id = r.id
inner join {ids} as c on c.id = l.label""",
        TableOptions(order_by=("component_id", "record_key")),
    )
    components = int(
        warehouse.scalar(f"select count(distinct component_id) from {warehouse.qualify(output)}")
        or 0
    )
    drop_working_tables(warehouse, tables)
    for name in (exact, final_labels, f"{prefix}_component_edges", tables.records):
        warehouse.drop(name)
    seconds["output"] = time.perf_counter() - clock
    return UnifyResult(
        output=output,
        records=records,
        components=components,
        junk_values=junk,
        refused_links=refused,
        identifier_graph=identifier_run,
        component_graph=component_run,
        fuzzy=fuzzy_run,
        seconds=seconds,
    )


def store_person_keys(warehouse: Warehouse, attributes: str, person_keys: str) -> None:
    """Compute every record's comparable keys in Python, batch by batch, into the warehouse."""
    rows = warehouse.query_arrow(
        "select record_key, given_name, family_name, full_name, birth_date, city "
        f"from {warehouse.qualify(attributes)}"
    )
    warehouse.drop(person_keys)
    warehouse.create_table_from_arrow_schema(person_keys, KEY_SCHEMA)
    for batch in rows.to_batches(max_chunksize=KEY_BATCH_ROWS):
        warehouse.insert_arrow(person_keys, keys_table(people_from(pa.Table.from_batches([batch]))))


def _fuzzy_pairs(
    warehouse: Warehouse,
    identifiers: str,
    person_keys: str,
    tables: GraphTables,
    exact: str,
    config: FuzzyConfig,
    prefix: str,
) -> FuzzyRun:
    """Block in the warehouse, score the members of useful blocks in Python."""
    effective, members = f"{prefix}_effective_keys", f"{prefix}_block_members"
    warehouse.create_table_as(
        effective,
        f"""with keyed as (
    select k.record_key as record_key, l.label as component, k.given_key as given_key,
        k.given_canon as given_canon, k.family_key as family_key, k.birth_date as birth_date,
        k.city_key as city_key
    from {warehouse.qualify(person_keys)} as k
    inner join {warehouse.qualify(tables.records)} as r on r.record_key = k.record_key
    inner join {warehouse.qualify(exact)} as l on l.id = r.id
),
facts as (
    select component,
        count(distinct nullif(birth_date, '')) as births,
        min(nullif(birth_date, '')) as birth,
        count(distinct nullif(city_key, '')) as cities,
        min(nullif(city_key, '')) as city
    from keyed
    group by component
)
select k.record_key as record_key, k.component as component, k.given_key as given_key,
    k.given_canon as given_canon, k.family_key as family_key, k.birth_date as birth_date,
    k.city_key as city_key,
    coalesce(case when k.birth_date <> '' then k.birth_date when f.births = 1 then f.birth end, '')
        as birth_effective,
    coalesce(case when k.city_key <> '' then k.city_key when f.cities = 1 then f.city end, '')
        as city_effective
from keyed as k
inner join facts as f on f.component = k.component""",
    )
    source = warehouse.qualify(effective)
    warehouse.create_table_as(
        members,
        f"""with block_keys as (
    select 'fd' as block_type, concat(family_key, '|', birth_effective) as block_key,
        record_key, component
    from {source} where family_key <> '' and birth_effective <> ''
    union all
    select 'gd' as block_type, concat(given_canon, '|', birth_effective) as block_key,
        record_key, component
    from {source} where given_key <> '' and birth_effective <> ''
    union all
    select 'gfc' as block_type,
        concat(given_canon, '|', family_key, '|', city_effective) as block_key,
        record_key, component
    from {source} where given_key <> '' and family_key <> '' and city_effective <> ''
),
blocks as (
    select block_type, block_key, count(*) as size
    from block_keys
    group by block_type, block_key
    having count(distinct component) > 1
)
select b.block_type as block_type, b.block_key as block_key, b.size as size,
    k.record_key as record_key
from blocks as b
inner join block_keys as k on k.block_type = b.block_type and k.block_key = b.block_key""",
    )
    skipped = int(
        warehouse.scalar(
            "select count(*) from (select distinct block_type, block_key "
            f"from {warehouse.qualify(members)} where size > {int(config.max_block)}) as s"
        )
        or 0
    )
    rows = warehouse.query_arrow(
        f"""select m.block_type as block_type, m.block_key as block_key, e.record_key as record_key,
    e.component as component, e.given_key as given_key, e.given_canon as given_canon,
    e.family_key as family_key, e.birth_date as birth_date, e.city_key as city_key
from {warehouse.qualify(members)} as m
inner join {source} as e on e.record_key = m.record_key
where m.size <= {int(config.max_block)}
order by m.block_type, m.block_key, e.record_key"""
    )
    index_of: dict[str, int] = {}
    people: list[Person] = []
    components: list[int] = []
    blocks: list[list[int]] = []
    last: tuple[str, str] | None = None
    names = (
        "block_type",
        "block_key",
        "record_key",
        "component",
        "given_key",
        "given_canon",
        "family_key",
        "birth_date",
        "city_key",
    )
    # Batch by batch, with one copy of each repeated name, date and city: the rows of a
    # million people's blocks would otherwise be tens of millions of Python strings.
    shared: dict[str, str] = {}
    for batch in rows.select(list(names)).to_batches(max_chunksize=KEY_BATCH_ROWS):
        columns = [column.to_pylist() for column in batch.columns]
        for block_type, block_key, record_key, component, *attributes in zip(*columns, strict=True):
            index = index_of.get(record_key)
            if index is None:
                index = index_of[record_key] = len(people)
                given, canon, family, birth, city = (
                    shared.setdefault(value, value) for value in attributes
                )
                people.append(Person(record_key, given, canon, family, birth, city))
                components.append(component)
            if (block_type, block_key) != last:
                blocks.append([])
                last = (block_type, block_key)
            blocks[-1].append(index)
    del rows
    facts = _component_facts(warehouse, identifiers, tables, source, members)
    run = match(people, components, blocks, config, facts)
    run.skipped_blocks += skipped
    for name in (effective, members):
        warehouse.drop(name)
    pairs = f"{prefix}_fuzzy_pairs"
    warehouse.drop(pairs)
    warehouse.create_table_from_arrow_schema(pairs, PAIR_SCHEMA)
    warehouse.insert_arrow(pairs, run.pairs)
    return run


def _component_facts(
    warehouse: Warehouse, identifiers: str, tables: GraphTables, effective: str, members: str
) -> dict[int, ComponentFacts]:
    """Birth dates, phones and cities of the components that have block members."""
    candidates = (
        f"select distinct e.component as component from {warehouse.qualify(members)} as m "
        f"inner join {effective} as e on e.record_key = m.record_key"
    )
    rows = warehouse.query_arrow(
        f"""with candidates as ({candidates})
select distinct e.component as component, 'birth' as fact, e.birth_date as value
from {effective} as e inner join candidates as c on c.component = e.component
where e.birth_date <> ''
union all
select distinct e.component as component, 'city' as fact, e.city_key as value
from {effective} as e inner join candidates as c on c.component = e.component
where e.city_key <> ''
union all
select distinct e.component as component, 'phone' as fact, i.value as value
from {effective} as e
inner join candidates as c on c.component = e.component
inner join {warehouse.qualify(identifiers)} as i on i.record_key = e.record_key
where i.kind = 'phone' and i.value is not null and i.value <> ''"""
    )
    found: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for component, fact, value in zip(
        rows.column("component").to_pylist(),
        rows.column("fact").to_pylist(),
        rows.column("value").to_pylist(),
        strict=True,
    ):
        found[component][fact].add(value)
    return {
        component: ComponentFacts(
            frozenset(values["birth"]), frozenset(values["phone"]), frozenset(values["city"])
        )
        for component, values in found.items()
    }


def _join_components(
    warehouse: Warehouse, tables: GraphTables, exact: str, prefix: str, max_iterations: int
) -> tuple[str, GraphRun]:
    """Merge whole components along the fuzzy merges; returns a record-id → label table."""
    ids = warehouse.qualify(tables.records)
    labels = warehouse.qualify(exact)
    component_edges = f"{prefix}_component_edges"
    warehouse.create_table_as(
        component_edges,
        f"""select distinct la.label as src, lb.label as dst
from {warehouse.qualify(f"{prefix}_fuzzy_pairs")} as p
inner join {ids} as ra on ra.record_key = p.record_key_a
inner join {ids} as rb on rb.record_key = p.record_key_b
inner join {labels} as la on la.id = ra.id
inner join {labels} as lb on lb.id = rb.id
where p.decision = 'merge' and la.label <> lb.label""",
    )
    merged, run = propagate(
        warehouse,
        f"select distinct label as id from {labels}",
        component_edges,
        GraphTables(f"{prefix}_components"),
        max_iterations=max_iterations,
    )
    final = f"{prefix}_final_labels"
    warehouse.create_table_as(
        final,
        f"""select e.id as id, m.label as label
from {labels} as e inner join {warehouse.qualify(merged)} as m on m.id = e.label""",
    )
    drop_working_tables(warehouse, GraphTables(f"{prefix}_components"))
    return final, run
