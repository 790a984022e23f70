"""One profile per real customer: identifiers, then fuzzy links, then components.

Every step is SQL in the warehouse; Python sees only distinct name and city spellings.

0. Person keys (`herald.unify.keys`: name skeletons, diminutives resolved, birth date, city
   key) are stored as `<prefix>_person_keys`.
1. The identifier graph (`herald.unify.graph`) links records sharing an e-mail or phone,
   unless their person keys conflict, and labels its components in SQL.
2. Fuzzy matching (`herald.unify.fuzzy`) blocks the person keys, scores the pairs of
   records in different components, looks again at the e-mail links step 1 refused, and
   writes the merges and the review band to `<prefix>_fuzzy_pairs`.
3. The merges become edges between components; a second, small propagation over
   components joins them. The output table maps every record to its component, named by
   the component's smallest record_key.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from herald.unify.dialect import create_table
from herald.unify.fuzzy import FuzzyConfig, FuzzyRun, FuzzyTables, fuzzy_pairs
from herald.unify.graph import (
    GraphRun,
    GraphTables,
    JunkValue,
    drop_working_tables,
    identifier_edges,
    number_records,
    propagate,
)
from herald.unify.keys import store_person_keys
from herald.warehouse.base import TableOptions, Warehouse


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
        store_person_keys(warehouse, attributes, person_keys, prefix=prefix)
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
    create_table(warehouse, exact, f"select id, label from {warehouse.qualify(labels)}")
    seconds["identifier_graph"] = time.perf_counter() - clock

    fuzzy_run: FuzzyRun | None = None
    component_run: GraphRun | None = None
    final_labels = exact
    if config.fuzzy is not None and person_keys is not None:
        clock = time.perf_counter()
        inputs = FuzzyTables(
            identifiers=identifiers,
            records=tables.records,
            labels=exact,
            person_keys=person_keys,
            refused=tables.conflicts,
        )
        fuzzy_run = fuzzy_pairs(warehouse, inputs, config.fuzzy, prefix)
        seconds["fuzzy"] = time.perf_counter() - clock
        clock = time.perf_counter()
        if fuzzy_run.merged:
            final_labels, component_run = _join_components(
                warehouse, tables, exact, prefix, config.max_iterations
            )
        seconds["component_graph"] = time.perf_counter() - clock

    clock = time.perf_counter()
    ids = warehouse.qualify(tables.records)
    create_table(
        warehouse,
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


def _join_components(
    warehouse: Warehouse, tables: GraphTables, exact: str, prefix: str, max_iterations: int
) -> tuple[str, GraphRun]:
    """Merge whole components along the fuzzy merges; returns a record-id → label table."""
    ids = warehouse.qualify(tables.records)
    labels = warehouse.qualify(exact)
    component_edges = f"{prefix}_component_edges"
    create_table(
        warehouse,
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
    create_table(
        warehouse,
        final,
        f"""select e.id as id, m.label as label
from {labels} as e inner join {warehouse.qualify(merged)} as m on m.id = e.label""",
    )
    drop_working_tables(warehouse, GraphTables(f"{prefix}_components"))
    return final, run
