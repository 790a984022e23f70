"""Fuzzy matching of records that share no identifier: blocking, scoring, decisions.

Person keys (transliteration skeletons of the names, birth date, city key) are computed
here in Python and stored in the warehouse; blocking runs there (`herald.unify.pipeline`)
and only the members of useful blocks come back to be scored. A record without a birth
date or city takes its component's when the component has exactly one. Blocks are records
that agree exactly on one of:

- family name + birth date (catches a typo'd or diminutive given name),
- given name + birth date (catches a typo'd family name),
- given + family name + city (records without a birth date, such as web sign-ups).

Names are compared as transliteration skeletons (`herald.unify.names`), so `Юлия Фёдорова`,
`Yuliya Fedorova` and `Iuliia Fedorova` meet. Blocks larger than `max_block` are skipped
(common name, common date) and counted; so are blocks within one component. Only pairs in
different components are scored: the rest are already linked.

The score is a weighted mean of name similarities (rapidfuzz Jaro-Winkler on skeletons),
birth date (exact) and city (exact key). Two different birth dates rule a pair out. A merge
needs both birth dates, both names alike, no conflicting phones and (`require_city`) one
city; with the default weights a pair without birth dates falls below the review band:
namesakes are common.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
from rapidfuzz.distance import JaroWinkler

from herald.unify.names import city_key, skeleton, split_full_name
from herald.unify.nicknames import canonical_given

PAIR_SCHEMA = pa.schema(
    [
        ("record_key_a", pa.string()),
        ("record_key_b", pa.string()),
        ("score", pa.float64()),
        ("decision", pa.string()),  # "merge" | "review"
    ]
)


@dataclass(frozen=True)
class FuzzyConfig:
    auto_merge: float = 0.9
    review: float = 0.85
    max_block: int = 50
    min_name_similarity: float = 0.92  # both names at least this alike to merge
    # Namesakes born the same day are common at a million people with common names: a
    # merge also needs the same city. False halves the missed pairs and costs precision.
    require_city: bool = True
    weight_family: float = 0.35
    weight_given: float = 0.25
    weight_birth_date: float = 0.3
    weight_city: float = 0.1
    # A missing birth date counts as this share of agreement; keeps name-only pairs in review.
    missing_birth_date: float = 0.3
    missing_city: float = 0.5


@dataclass(frozen=True, slots=True)
class Person:
    """One record's comparable attributes."""

    record_key: str
    given: str
    given_canon: str  # the full form of a diminutive
    family: str
    birth_date: str
    city: str


@dataclass
class FuzzyRun:
    records: int = 0
    blocks: int = 0
    skipped_blocks: int = 0
    compared: int = 0
    merged: int = 0
    reviewed: int = 0
    seconds: float = 0.0
    pairs: pa.Table = field(default_factory=PAIR_SCHEMA.empty_table)


KEY_SCHEMA = pa.schema(
    [
        ("record_key", pa.string()),
        ("given_key", pa.string()),
        ("given_canon", pa.string()),
        ("family_key", pa.string()),
        ("birth_date", pa.string()),
        ("city_key", pa.string()),
    ]
)


def person_of(
    record_key: str,
    given_name: str | None,
    family_name: str | None,
    full_name: str | None,
    birth_date: str | None,
    city: str | None,
) -> Person:
    if not given_name and not family_name and full_name:
        given_name, family_name = split_full_name(full_name)
    given = skeleton(given_name)
    return Person(
        record_key=record_key,
        given=given,
        given_canon=canonical_given(given),
        family=skeleton(family_name),
        birth_date=birth_date or "",
        city=city_key(city),
    )


def _similarity(a: str, b: str) -> float:
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    return float(JaroWinkler.normalized_similarity(a, b))


def _given_similarity(a: Person, b: Person) -> float:
    if a.given and a.given_canon == b.given_canon:
        return 1.0 if a.given == b.given else 0.95
    return _similarity(a.given, b.given)


@dataclass(frozen=True)
class ComponentFacts:
    """What a whole component (records already linked) says about its person."""

    birth_dates: frozenset[str] = frozenset()
    phones: frozenset[str] = frozenset()
    cities: frozenset[str] = frozenset()


NO_FACTS = ComponentFacts()


def _disjoint(a: frozenset[str], b: frozenset[str]) -> bool:
    return bool(a) and bool(b) and a.isdisjoint(b)


def score(
    a: Person,
    b: Person,
    config: FuzzyConfig,
    facts_a: ComponentFacts = NO_FACTS,
    facts_b: ComponentFacts = NO_FACTS,
) -> tuple[float, bool]:
    """How alike two records are (0..1) and whether they may be merged without review.

    A record without a birth date takes its component's, when the component has one.
    Different birth dates rule a pair out (score 0). A merge further needs a birth date on
    both sides, alike given names (or one the other's diminutive), alike family names and
    no conflicting phones between the two components (a person keeps one number) and, with
    `require_city`, one city on both sides (a record without one takes its component's)."""
    if _disjoint(facts_a.birth_dates, facts_b.birth_dates):
        return 0.0, False
    birth_a = a.birth_date or _only(facts_a.birth_dates)
    birth_b = b.birth_date or _only(facts_b.birth_dates)
    if birth_a and birth_b and birth_a != birth_b:
        return 0.0, False
    if not (a.given or a.family) or not (b.given or b.family):
        return 0.0, False
    family = _similarity(a.family, b.family)
    given = _given_similarity(a, b)
    birth = 1.0 if birth_a and birth_b else config.missing_birth_date
    city_a = a.city or _only(facts_a.cities)
    city_b = b.city or _only(facts_b.cities)
    city = float(city_a == city_b) if city_a and city_b else config.missing_city
    value = (
        config.weight_family * family
        + config.weight_given * given
        + config.weight_birth_date * birth
        + config.weight_city * city
    )
    mergeable = (
        bool(birth_a and birth_b)
        and family >= config.min_name_similarity
        and given >= config.min_name_similarity
        and not _disjoint(facts_a.phones, facts_b.phones)
        and (city == 1.0 or not config.require_city)
    )
    return value, mergeable


def _only(values: frozenset[str]) -> str:
    return next(iter(values)) if len(values) == 1 else ""


def people_from(attributes: pa.Table) -> list[Person]:
    """Persons from an attribute table (record_key, given_name, family_name, full_name,
    birth_date, city)."""
    columns = [
        attributes.column(name).to_pylist()
        for name in ("record_key", "given_name", "family_name", "full_name", "birth_date", "city")
    ]
    return [person_of(*values) for values in zip(*columns, strict=True)]


def keys_table(people: Sequence[Person]) -> pa.Table:
    return pa.table(
        [
            [person.record_key for person in people],
            [person.given for person in people],
            [person.given_canon for person in people],
            [person.family for person in people],
            [person.birth_date for person in people],
            [person.city for person in people],
        ],
        schema=KEY_SCHEMA,
    )


def match(
    people: Sequence[Person],
    components: Sequence[int],
    blocks: Iterable[Sequence[int]],
    config: FuzzyConfig,
    facts: Mapping[int, ComponentFacts] | None = None,
) -> FuzzyRun:
    """Score the pairs of records in different components within each block (indexes into
    `people`); keep merges and reviews. `components[i]` is the component of `people[i]`;
    `facts` what each component knows. A pair met in several blocks is scored once."""
    started = time.perf_counter()
    facts = facts or {}
    run = FuzzyRun(records=len(people))
    seen: set[int] = set()  # low index << 32 | high index
    keys_a: list[str] = []
    keys_b: list[str] = []
    scores: list[float] = []
    decisions: list[str] = []
    for members in blocks:
        if len(members) < 2:
            continue
        if len(members) > config.max_block:
            run.skipped_blocks += 1
            continue
        run.blocks += 1
        for position, first in enumerate(members):
            for second in members[position + 1 :]:
                if components[first] == components[second]:
                    continue
                index_pair = first << 32 | second if first < second else second << 32 | first
                if index_pair in seen:
                    continue
                seen.add(index_pair)
                a, b = people[first], people[second]
                pair = (a.record_key, b.record_key)
                if b.record_key < a.record_key:
                    pair = (b.record_key, a.record_key)
                run.compared += 1
                value, mergeable = score(
                    a,
                    b,
                    config,
                    facts.get(components[first], NO_FACTS),
                    facts.get(components[second], NO_FACTS),
                )
                if value < config.review:
                    continue
                decision = "merge" if mergeable and value >= config.auto_merge else "review"
                keys_a.append(pair[0])
                keys_b.append(pair[1])
                scores.append(round(value, 6))
                decisions.append(decision)
    run.merged = decisions.count("merge")
    run.reviewed = decisions.count("review")
    run.pairs = pa.table([keys_a, keys_b, scores, decisions], schema=PAIR_SCHEMA)
    run.seconds = time.perf_counter() - started
    return run
