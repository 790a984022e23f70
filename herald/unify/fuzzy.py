"""Fuzzy matching of records that share no identifier: blocking, scoring, decisions, in SQL.

Person keys (`herald.unify.keys`) are compared in the warehouse; nothing per record or per
pair comes back to Python. A record without a birth date or city takes its component's
when the component has exactly one. Blocks are records that agree exactly on one of:

- family name + birth date (catches a typo'd or diminutive given name),
- given name + birth date (catches a typo'd family name),
- given + family name + city (records without a birth date, such as web sign-ups); built
  only when the weights let a pair without both birth dates reach the review band (with
  the defaults it cannot: 0.79 at best, and pairs with both dates meet in the blocks above).

Names are compared as transliteration skeletons (`herald.unify.names`), so `Юлия Фёдорова`,
`Yuliya Fedorova` and `Iuliia Fedorova` meet. Blocks larger than `max_block` are skipped
(common name, common date) and counted; so are blocks within one component. Only pairs in
different components are scored: the rest are already linked.

The score is a weighted mean of name similarities (Jaro-Winkler on skeletons: DuckDB's
`jaro_winkler_similarity`, ClickHouse's `jaroWinklerSimilarity`), birth date (exact) and
city (exact key). Two different birth dates, on the records or between their components,
rule a pair out. A merge needs both birth dates, both names alike, no conflicting phones
between the two components (a person keeps one number) and, with `require_city`, one city;
with `merge_without_city`, a city missing on one side is enough when both names are exactly
alike (given names: one full form) and the two components do not each have their own
e-mail addresses (two people with one name and birthday each have their own). With the
default weights a pair without birth dates falls below the review band: namesakes are
common. Nor is a pair merged whose name, birth date (and city) are common enough that
more than `max_namesakes` other records are expected to share them by chance (counted in
the data: the name's records times the share born that day, and living in that city);
the larger the data, the more such coincidences, and the more pairs wait for review.

Shared mailboxes: the identifier graph refuses an e-mail link between records whose given
names differ (a family mailbox). Such a pair is merged here, between whole components, when
the given names are still alike enough to be one name written twice (`Валюша` /
`Валентина`, a diminutive the nickname table lacks: a common first `mailbox_given_prefix`
letters or Jaro-Winkler at least `mailbox_given_similarity`) and the components disagree
on neither birth date nor phone.

`<prefix>_fuzzy_pairs`: record_key_a < record_key_b, score, decision (`merge` | `review`),
mailbox (1: a refused e-mail link), namesakes (the expected coincidences above).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from herald.unify.dialect import UnifySql, create_table, sql_for
from herald.warehouse.base import Warehouse


@dataclass(frozen=True)
class FuzzyConfig:
    auto_merge: float = 0.9
    review: float = 0.85
    max_block: int = 50
    min_name_similarity: float = 0.92  # both names at least this alike to merge
    # Namesakes born the same day are common at a million people with common names: a
    # merge also needs the same city...
    require_city: bool = True
    # ... or, when one side has no city, exactly alike names and no two different e-mails
    # (on 1M generated people, without the e-mail condition: 4,336 true merges for 250
    # namesakes; with it 2,370 for 21).
    merge_without_city: bool = True
    weight_family: float = 0.35
    weight_given: float = 0.25
    weight_birth_date: float = 0.3
    weight_city: float = 0.1
    # A missing birth date counts as this share of agreement; keeps name-only pairs in review.
    missing_birth_date: float = 0.3
    missing_city: float = 0.5
    # Namesakes: a merge needs at most this many records expected to share the name, birth
    # date and (when both have one) city by chance. Grows with the data: a name common
    # enough, at ten million records, has namesakes born on any day.
    max_namesakes: float | None = 0.05  # None: no limit
    # Records sharing an e-mail whose given names the identifier graph found unlike.
    merge_shared_mailboxes: bool = True
    mailbox_given_prefix: int = 2
    mailbox_given_similarity: float = 0.75


@dataclass
class FuzzyRun:
    records: int = 0  # records in the blocks scored
    blocks: int = 0
    skipped_blocks: int = 0
    compared: int = 0
    merged: int = 0
    reviewed: int = 0
    mailbox_merged: int = 0  # of `merged`: refused e-mail links merged between components
    seconds: float = 0.0
    table: str = ""  # <prefix>_fuzzy_pairs


@dataclass(frozen=True)
class FuzzyTables:
    """Inputs of fuzzy matching, bare names: the identifier table, the record ids
    (record_key, id), the identifier graph's labels (id, label), the person keys and the
    links the identifier graph refused (kind, record_key_a, record_key_b)."""

    identifiers: str
    records: str
    labels: str
    person_keys: str
    refused: str | None = None


def fuzzy_pairs(
    warehouse: Warehouse, tables: FuzzyTables, config: FuzzyConfig, prefix: str
) -> FuzzyRun:
    """Write `<prefix>_fuzzy_pairs` (merges and the review band) and say what was done."""
    started = time.perf_counter()
    sql = sql_for(warehouse.dialect)
    effective = f"{prefix}_effective_keys"
    block_keys = f"{prefix}_block_keys"
    members = f"{prefix}_block_members"
    candidates = f"{prefix}_candidate_pairs"
    scored = f"{prefix}_scored_pairs"
    facts = f"{prefix}_component_facts"
    conflicts = f"{prefix}_component_conflicts"
    key_counts = f"{prefix}_key_counts"
    pairs = f"{prefix}_fuzzy_pairs"
    run = FuzzyRun(table=pairs)

    keyed = f"{prefix}_keyed_components"
    create_table(warehouse, keyed, _keyed_sql(warehouse, tables))
    create_table(warehouse, effective, _effective_sql(warehouse, keyed))
    warehouse.drop(keyed)
    create_table(
        warehouse,
        block_keys,
        _block_keys_sql(warehouse, sql, effective, _undated_pairs_reach_review(config)),
    )
    create_table(warehouse, members, _members_sql(warehouse, block_keys))
    warehouse.drop(block_keys)
    members_table = warehouse.qualify(members)
    max_block = int(config.max_block)
    counts = warehouse.query_arrow(
        f"""select sum(case when size <= {max_block} then 1 else 0 end) as blocks,
    sum(case when size > {max_block} then 1 else 0 end) as skipped
from (select block, min(size) as size from {members_table} group by block) as b"""
    ).to_pylist()[0]
    run.blocks, run.skipped_blocks = int(counts["blocks"] or 0), int(counts["skipped"] or 0)
    run.records = int(
        warehouse.scalar(
            f"select count(distinct id) from {members_table} where size <= {max_block}"
        )
        or 0
    )
    create_table(
        warehouse, candidates, _candidates_sql(warehouse, tables, members, effective, config)
    )
    warehouse.drop(members)
    run.compared = warehouse.row_count(candidates)
    create_table(warehouse, scored, _scored_sql(warehouse, sql, candidates, effective, config))
    warehouse.drop(candidates)
    create_table(warehouse, facts, _facts_sql(warehouse, tables, scored, effective))
    create_table(warehouse, conflicts, _conflicts_sql(warehouse, scored, facts))
    create_table(warehouse, key_counts, _key_counts_sql(warehouse, effective))
    people = warehouse.row_count(effective)
    create_table(
        warehouse,
        pairs,
        _decisions_sql(warehouse, tables, scored, conflicts, key_counts, people, config),
    )
    for name in (effective, scored, facts, conflicts, key_counts):
        warehouse.drop(name)
    decided = warehouse.query_arrow(
        f"""select decision, count(*) as pairs,
    sum(case when mailbox = 1 and decision = 'merge' then 1 else 0 end) as mailbox
from {warehouse.qualify(pairs)} group by decision"""
    ).to_pylist()
    for row in decided:
        if row["decision"] == "merge":
            run.merged, run.mailbox_merged = int(row["pairs"]), int(row["mailbox"] or 0)
        else:
            run.reviewed = int(row["pairs"])
    run.seconds = time.perf_counter() - started
    return run


def _keyed_sql(warehouse: Warehouse, tables: FuzzyTables) -> str:
    """Each record's keys with its id and component."""
    return f"""select r.id as id, l.label as component, k.given_key as given_key,
    k.given_canon as given_canon, k.given_canon_alt as given_canon_alt,
    k.family_key as family_key, k.birth_date as birth_date, k.city_key as city_key
from {warehouse.qualify(tables.person_keys)} as k
inner join {warehouse.qualify(tables.records)} as r on r.record_key = k.record_key
inner join {warehouse.qualify(tables.labels)} as l on l.id = r.id"""


def _effective_sql(warehouse: Warehouse, keyed_table: str) -> str:
    """Each record's keys with its component, and the birth date and city it is taken to
    have: its own, else its component's when the component has exactly one."""
    keyed = warehouse.qualify(keyed_table)
    return f"""with facts as (
    select component,
        count(distinct nullif(birth_date, '')) as births,
        min(nullif(birth_date, '')) as birth,
        count(distinct nullif(city_key, '')) as cities,
        min(nullif(city_key, '')) as city
    from {keyed}
    group by component
)
select k.id as id, k.component as component, k.given_key as given_key,
    k.given_canon as given_canon, k.given_canon_alt as given_canon_alt,
    k.family_key as family_key, k.birth_date as birth_date, k.city_key as city_key,
    coalesce(case when k.birth_date <> '' then k.birth_date when f.births = 1 then f.birth end, '')
        as birth_effective,
    coalesce(case when k.city_key <> '' then k.city_key when f.cities = 1 then f.city end, '')
        as city_effective
from {keyed} as k
inner join facts as f on f.component = k.component"""


def _undated_pairs_reach_review(config: FuzzyConfig) -> bool:
    """Can a pair without a birth date on both sides score into the review band?"""
    best = (
        config.weight_family
        + config.weight_given
        + config.weight_birth_date * config.missing_birth_date
        + config.weight_city
    )
    return best >= config.review


def _block_keys_sql(
    warehouse: Warehouse, sql: UnifySql, effective: str, name_city_blocks: bool
) -> str:
    """Every record's blocks (block, id, component), a block being a hash of its key."""
    source = warehouse.qualify(effective)
    name_city = f"""
    union all
    select {sql.hash64("concat('gfc|', given_canon, '|', family_key, '|', city_effective)")}
        as block, id, component
    from {source} where given_key <> '' and family_key <> '' and city_effective <> ''"""
    if not name_city_blocks:
        name_city = ""
    return f"""select {sql.hash64("concat('fd|', family_key, '|', birth_effective)")} as block,
        id, component
    from {source} where family_key <> '' and birth_effective <> ''
    union all
    select {sql.hash64("concat('gd|', given_canon, '|', birth_effective)")} as block,
        id, component
    from {source} where given_key <> '' and birth_effective <> ''{name_city}"""


def _members_sql(warehouse: Warehouse, block_keys: str) -> str:
    """Block members (block, id, component, size) of the blocks spanning two components."""
    keys = warehouse.qualify(block_keys)
    return f"""with blocks as (
    select block, count(*) as size
    from {keys}
    group by block
    having count(distinct component) > 1
)
select k.block as block, k.id as id, k.component as component, b.size as size
from {keys} as k
inner join blocks as b on b.block = k.block"""


def _candidates_sql(
    warehouse: Warehouse, tables: FuzzyTables, members: str, effective: str, config: FuzzyConfig
) -> str:
    """Pairs (id_a < id_b) in different components met in a block of at most `max_block`
    records, and the refused e-mail links between components (`mailbox` = 1)."""
    source = warehouse.qualify(members)
    kept = f"(select block, id, component from {source} where size <= {int(config.max_block)})"
    blocked = f"""select a.id as id_a, b.id as id_b, 0 as mailbox
    from {kept} as a
    inner join {kept} as b on b.block = a.block
    where a.id < b.id and a.component <> b.component"""
    if tables.refused is None or not config.merge_shared_mailboxes:
        return f"select distinct id_a, id_b, mailbox from ({blocked}) as pairs"
    ids = warehouse.qualify(tables.records)
    keys = warehouse.qualify(effective)
    refused = f"""select ra.id as id_a, rb.id as id_b, 1 as mailbox
    from {warehouse.qualify(tables.refused)} as c
    inner join {ids} as ra on ra.record_key = c.record_key_a
    inner join {ids} as rb on rb.record_key = c.record_key_b
    inner join {keys} as ka on ka.id = ra.id
    inner join {keys} as kb on kb.id = rb.id
    where c.kind in ('email', 'email_local') and ka.component <> kb.component"""
    return f"""select id_a, id_b, max(mailbox) as mailbox
from (
    {blocked}
    union all
    {refused}
) as pairs
group by id_a, id_b"""


def _scored_sql(
    warehouse: Warehouse, sql: UnifySql, candidates: str, effective: str, config: FuzzyConfig
) -> str:
    """Similarities and score of every candidate pair the record-level facts allow: two
    different birth dates rule a pair out, so does a side with no name at all."""
    keys = warehouse.qualify(effective)

    def similarity(left: str, right: str) -> str:
        return (
            f"case when {left} = '' or {right} = '' then 0.0 when {left} = {right} then 1.0 "
            f"else {sql.jaro_winkler(left, right)} end"
        )

    forms_meet = (
        "ea.given_key <> '' and eb.given_key <> '' and "
        "(ea.given_canon = eb.given_canon or ea.given_canon = eb.given_canon_alt "
        "or ea.given_canon_alt = eb.given_canon or ea.given_canon_alt = eb.given_canon_alt)"
    )
    prefix = int(config.mailbox_given_prefix)
    return f"""with compared as (
    select p.id_a as id_a, p.id_b as id_b, p.mailbox as mailbox,
        ea.component as component_a, eb.component as component_b,
        {similarity("ea.family_key", "eb.family_key")} as family,
        case when ea.given_key <> '' and ea.given_key = eb.given_key then 1.0
            when {forms_meet} then 0.95
            else {similarity("ea.given_key", "eb.given_key")} end as given,
        case when ea.birth_effective <> '' and eb.birth_effective <> '' then 1 else 0 end
            as both_births,
        case when ea.city_effective = '' or eb.city_effective = '' then -1
            when ea.city_effective = eb.city_effective then 1 else 0 end as city,
        case when ea.family_key <> '' and ea.family_key = eb.family_key and {forms_meet}
            then 1 else 0 end as exact_names,
        case when ea.given_key <> '' and eb.given_key <> ''
            and substring(ea.given_key, 1, {prefix}) = substring(eb.given_key, 1, {prefix})
            then 1 else 0 end as given_prefix,
        concat(ea.given_canon, '|', ea.family_key) as name_a,
        concat(eb.given_canon, '|', eb.family_key) as name_b,
        ea.birth_effective as birth, ea.city_effective as city_key
    from {warehouse.qualify(candidates)} as p
    inner join {keys} as ea on ea.id = p.id_a
    inner join {keys} as eb on eb.id = p.id_b
    where not (ea.birth_effective <> '' and eb.birth_effective <> ''
            and ea.birth_effective <> eb.birth_effective)
        and (ea.given_key <> '' or ea.family_key <> '')
        and (eb.given_key <> '' or eb.family_key <> '')
)
select id_a, id_b, mailbox, component_a, component_b, family, given, both_births, city,
    exact_names, given_prefix, name_a, name_b, birth, city_key,
    {float(config.weight_family)} * family + {float(config.weight_given)} * given
        + {float(config.weight_birth_date)}
            * (case when both_births = 1 then 1.0 else {float(config.missing_birth_date)} end)
        + {float(config.weight_city)}
            * (case when city = -1 then {float(config.missing_city)} else city end)
        as score
from compared
where mailbox = 1 or {float(config.weight_family)} * family + {float(config.weight_given)} * given
        + {float(config.weight_birth_date)}
            * (case when both_births = 1 then 1.0 else {float(config.missing_birth_date)} end)
        + {float(config.weight_city)}
            * (case when city = -1 then {float(config.missing_city)} else city end)
        >= {float(config.review)}"""


def _facts_sql(warehouse: Warehouse, tables: FuzzyTables, scored: str, effective: str) -> str:
    """Birth dates, phones and e-mails (component, fact, value) of the components in scored
    pairs."""
    keys = warehouse.qualify(effective)
    return f"""with wanted as (
    select distinct component from (
        select component_a as component from {warehouse.qualify(scored)}
        union all
        select component_b as component from {warehouse.qualify(scored)}
    ) as sides
),
members as (
    select k.id as id, k.component as component, k.birth_date as birth_date
    from {keys} as k inner join wanted as w on w.component = k.component
)
select distinct component, 'birth' as fact, birth_date as value
from members where birth_date <> ''
union all
select distinct m.component as component, i.kind as fact, i.value as value
from members as m
inner join {warehouse.qualify(tables.records)} as r on r.id = m.id
inner join {warehouse.qualify(tables.identifiers)} as i on i.record_key = r.record_key
where i.kind in ('phone', 'email') and i.value is not null and i.value <> ''"""


def _conflicts_sql(warehouse: Warehouse, scored: str, facts: str) -> str:
    """For each pair of components met in the scored pairs: do their birth dates, phones or
    e-mails disagree (both have some, none in common)?"""
    facts_table = warehouse.qualify(facts)
    return f"""with component_pairs as (
    select distinct component_a, component_b from {warehouse.qualify(scored)}
),
counts as (
    select component, fact, count(*) as n from {facts_table} group by component, fact
),
shared as (
    select p.component_a as component_a, p.component_b as component_b, a.fact as fact,
        count(*) as n
    from component_pairs as p
    inner join {facts_table} as a on a.component = p.component_a
    inner join {facts_table} as b on b.component = p.component_b
    where b.fact = a.fact and b.value = a.value
    group by p.component_a, p.component_b, a.fact
),
known as (
    select p.component_a as component_a, p.component_b as component_b, ca.fact as fact
    from component_pairs as p
    inner join counts as ca on ca.component = p.component_a
    inner join counts as cb on cb.component = p.component_b
    where cb.fact = ca.fact
)
select k.component_a as component_a, k.component_b as component_b,
    max(case when k.fact = 'birth' and coalesce(s.n, 0) = 0 then 1 else 0 end)
        as birth_conflict,
    max(case when k.fact = 'phone' and coalesce(s.n, 0) = 0 then 1 else 0 end)
        as phone_conflict,
    max(case when k.fact = 'email' and coalesce(s.n, 0) = 0 then 1 else 0 end)
        as email_conflict
from known as k
left join shared as s
    on s.component_a = k.component_a and s.component_b = k.component_b and s.fact = k.fact
group by k.component_a, k.component_b"""


def _key_counts_sql(warehouse: Warehouse, effective: str) -> str:
    """How many records carry each name (given full form and family name), birth date and
    city: how common a coincidence on them is."""
    keys = warehouse.qualify(effective)
    return f"""select 'name' as kind, concat(given_canon, '|', family_key) as value,
    count(*) as records
from {keys} where given_key <> '' and family_key <> ''
group by given_canon, family_key
union all
select 'birth' as kind, birth_effective as value, count(*) as records
from {keys} where birth_effective <> '' group by birth_effective
union all
select 'city' as kind, city_effective as value, count(*) as records
from {keys} where city_effective <> '' group by city_effective"""


def _decisions_sql(
    warehouse: Warehouse,
    tables: FuzzyTables,
    scored: str,
    conflicts: str,
    key_counts: str,
    people: int,
    config: FuzzyConfig,
) -> str:
    min_name = float(config.min_name_similarity)
    city_ok = "city = 1"
    if not config.require_city:
        city_ok = "1 = 1"
    elif config.merge_without_city:
        city_ok = "(city = 1 or (city = -1 and exact_names = 1 and email_conflict = 0))"
    common_enough = "1 = 1"
    if config.max_namesakes is not None:
        common_enough = f"namesakes <= {float(config.max_namesakes)}"
    mergeable = (
        f"(both_births = 1 and family >= {min_name} and given >= {min_name} "
        f"and phone_conflict = 0 and {city_ok} and score >= {float(config.auto_merge)}"
        f" and {common_enough})"
    )
    counts = warehouse.qualify(key_counts)
    total = float(max(people, 1))

    def counted(kind: str) -> str:
        return f"(select value, records from {counts} where kind = '{kind}')"

    # Records expected to share the name, birth date and city by chance: the name's other
    # records times the share of other records born that day (and living in that city);
    # the pair's own two records are not counted.
    namesakes = (
        "greatest(greatest(coalesce(na.records, 0), coalesce(nb.records, 0))"
        " - (case when s.name_a = s.name_b then 2 else 1 end), 0)"
        f" * greatest(coalesce(bc.records, 0) - 2, 0) / {total}"
        f" * (case when s.city = 1 then greatest(coalesce(cc.records, 0) - 2, 0) / {total}"
        " else 1.0 end)"
    )
    mailbox = (
        f"(mailbox = 1 and phone_conflict = 0 and (given_prefix = 1 or given >= "
        f"{float(config.mailbox_given_similarity)}))"
    )
    ids = warehouse.qualify(tables.records)
    return f"""with judged as (
    select s.id_a as id_a, s.id_b as id_b, s.score as score, s.mailbox as mailbox,
        s.family as family, s.given as given, s.both_births as both_births, s.city as city,
        s.exact_names as exact_names, s.given_prefix as given_prefix,
        coalesce(c.phone_conflict, 0) as phone_conflict,
        coalesce(c.email_conflict, 0) as email_conflict,
        {namesakes} as namesakes
    from {warehouse.qualify(scored)} as s
    left join {warehouse.qualify(conflicts)} as c
        on c.component_a = s.component_a and c.component_b = s.component_b
    left join {counted("name")} as na on na.value = s.name_a
    left join {counted("name")} as nb on nb.value = s.name_b
    left join {counted("birth")} as bc on bc.value = s.birth
    left join {counted("city")} as cc on cc.value = s.city_key
    where coalesce(c.birth_conflict, 0) = 0
)
select ra.record_key as record_key_a, rb.record_key as record_key_b,
    round(score, 6) as score,
    case when {mergeable} or {mailbox} then 'merge' else 'review' end as decision,
    mailbox, round(namesakes, 4) as namesakes
from judged as j
inner join {ids} as ra on ra.id = j.id_a
inner join {ids} as rb on rb.id = j.id_b
where score >= {float(config.review)} or {mailbox}"""
