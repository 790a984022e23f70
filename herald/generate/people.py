"""True persons and the ways sources write down who they are.

A chunk of persons is a set of parallel numpy arrays. Names, cities and mailbox domains are
indices into small tables built from the vocabulary; each table holds every spelling variant
of every entry, so writing a record is one `take` per column. Email addresses and phone
numbers are unique per person (two persons share one only where a family shares a mailbox).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from herald.generate import text, vocabulary
from herald.generate.randomness import draw
from herald.generate.text import MS_PER_DAY

# Name spelling variants, in the order they are stored in a NameTable.
CANON, LATIN, LATIN_ALT, DIMINUTIVE, DIMINUTIVE_LATIN, TYPO, UPPER, LOWER, NO_YO = range(9)
NAME_VARIANTS = 9
# City spelling variants.
CITY_CANON, CITY_LOWER, CITY_PREFIXED, CITY_LATIN, CITY_OTHER, CITY_UPPER = range(6)
CITY_VARIANTS = 6
# Groups within the first-name table and the surname table.
RU_MALE, RU_FEMALE, EN_MALE, EN_FEMALE = range(4)

UNIQUE_MAILBOX_SPACE = 100_000_000  # unique for up to 100M persons
UNIQUE_PHONE_SPACE = 10_000_000


@dataclass(frozen=True)
class Window:
    """The two years of data: [start_ms, end_ms) in ms since the epoch, naive UTC."""

    start_ms: int
    end_ms: int

    @property
    def span_ms(self) -> int:
        return self.end_ms - self.start_ms


@dataclass(frozen=True)
class NameTable:
    """Every spelling variant of every entry: value of (variant, entry) at variant*size+entry."""

    values: pa.Array
    ascii: pa.Array  # lowercase ASCII spelling per entry, for mailbox names
    size: int
    group_offset: np.ndarray
    group_size: np.ndarray

    def spell(self, entries: np.ndarray, variants: np.ndarray | int) -> pa.Array:
        return text.pick(self.values, np.asarray(variants) * self.size + entries)

    def draw(self, rng: np.random.Generator, groups: np.ndarray) -> np.ndarray:
        """Entries drawn from each row's group, popular (early) entries more often."""
        share = rng.random(groups.shape[0]) ** 1.6
        return self.group_offset[groups] + (share * self.group_size[groups]).astype(np.int64)


def _name_table(groups: list[list[tuple[str, str]]], russian: list[bool]) -> NameTable:
    entries: list[tuple[str, str, bool]] = []
    offsets: list[int] = []
    sizes: list[int] = []
    for group, is_russian in zip(groups, russian, strict=True):
        offsets.append(len(entries))
        sizes.append(len(group))
        entries.extend((full, short, is_russian) for full, short in group)
    variants: list[list[str]] = [[] for _ in range(NAME_VARIANTS)]
    for full, short, is_russian in entries:
        latin = vocabulary.transliterate(full) if is_russian else full
        variants[CANON].append(full)
        variants[LATIN].append(latin)
        variants[LATIN_ALT].append(vocabulary.transliterate(full, alt=True) if is_russian else full)
        variants[DIMINUTIVE].append(short)
        variants[DIMINUTIVE_LATIN].append(vocabulary.transliterate(short) if is_russian else short)
        variants[TYPO].append(vocabulary.typo(full))
        variants[UPPER].append(full.upper())
        variants[LOWER].append(full.lower())
        variants[NO_YO].append(vocabulary.without_yo(full))
    flat = [value for variant in variants for value in variant]
    return NameTable(
        values=pa.array(flat, pa.string()),
        ascii=pa.array([vocabulary.ascii_local(full) for full, _s, _r in entries], pa.string()),
        size=len(entries),
        group_offset=np.array(offsets, dtype=np.int64),
        group_size=np.array(sizes, dtype=np.int64),
    )


@dataclass(frozen=True)
class CityTable:
    values: pa.Array  # (variant, city) at variant*size+city
    size: int
    ru_count: int
    ru_cdf: np.ndarray
    foreign_cdf: np.ndarray

    def spell(self, cities: np.ndarray, variants: np.ndarray | int) -> pa.Array:
        return text.pick(self.values, np.asarray(variants) * self.size + cities)


def _city_table() -> CityTable:
    variants: list[list[str]] = [[] for _ in range(CITY_VARIANTS)]
    for name, latin, _weight in vocabulary.RU_CITIES:
        variants[CITY_CANON].append(name)
        variants[CITY_LOWER].append(name.lower())
        variants[CITY_PREFIXED].append(f"г. {name}")
        variants[CITY_LATIN].append(latin)
        variants[CITY_OTHER].append(vocabulary.RU_CITY_SLANG.get(name, name))
        variants[CITY_UPPER].append(name.upper())
    for name, russian, _weight in vocabulary.FOREIGN_CITIES:
        variants[CITY_CANON].append(name)
        variants[CITY_LOWER].append(name.lower())
        variants[CITY_PREFIXED].append(name + " ")
        variants[CITY_LATIN].append(name)
        variants[CITY_OTHER].append(russian)
        variants[CITY_UPPER].append(name.upper())
    ru = np.array([weight for _n, _l, weight in vocabulary.RU_CITIES])
    foreign = np.array([weight for _n, _l, weight in vocabulary.FOREIGN_CITIES])
    return CityTable(
        values=pa.array([value for variant in variants for value in variant], pa.string()),
        size=len(ru) + len(foreign),
        ru_count=len(ru),
        ru_cdf=np.cumsum(ru / ru.sum()),
        foreign_cdf=np.cumsum(foreign / foreign.sum()),
    )


@dataclass(frozen=True)
class DomainTable:
    """Mailbox domains followed by their typo'd spellings."""

    values: pa.Array
    typo_of: np.ndarray  # domain number → number of its typo'd spelling
    ru_cdf: np.ndarray
    en_cdf: np.ndarray
    count: int  # real domains (typo'd ones follow)


def _domain_table() -> DomainTable:
    names: list[str] = []
    typos: list[str] = []
    for domain, _weight, typo in vocabulary.RU_DOMAINS + vocabulary.EN_DOMAINS:
        if domain not in names:
            names.append(domain)
            typos.append(typo)
    ru = np.zeros(len(names))
    en = np.zeros(len(names))
    for domain, weight, _t in vocabulary.RU_DOMAINS:
        ru[names.index(domain)] = weight
    for domain, weight, _t in vocabulary.EN_DOMAINS:
        en[names.index(domain)] = weight
    return DomainTable(
        values=pa.array(names + typos, pa.string()),
        typo_of=np.arange(len(names), dtype=np.int64) + len(names),
        ru_cdf=np.cumsum(ru / ru.sum()),
        en_cdf=np.cumsum(en / en.sum()),
        count=len(names),
    )


@dataclass(frozen=True)
class Vocabulary:
    first_names: NameTable
    surnames: NameTable
    cities: CityTable
    domains: DomainTable


def build_vocabulary() -> Vocabulary:
    female_surnames = [vocabulary.feminine_surname(s) for s in vocabulary.RU_SURNAMES]
    return Vocabulary(
        first_names=_name_table(
            [
                list(vocabulary.RU_MALE_FIRST),
                list(vocabulary.RU_FEMALE_FIRST),
                list(vocabulary.EN_MALE_FIRST),
                list(vocabulary.EN_FEMALE_FIRST),
            ],
            [True, True, False, False],
        ),
        surnames=_name_table(
            [
                [(s, s) for s in vocabulary.RU_SURNAMES],
                [(s, s) for s in female_surnames],
                [(s, s) for s in vocabulary.EN_SURNAMES],
                [(s, s) for s in vocabulary.EN_SURNAMES],
            ],
            [True, True, False, False],
        ),
        cities=_city_table(),
        domains=_domain_table(),
    )


# --- persons -------------------------------------------------------------------------------------
@dataclass
class People:
    """One chunk of true persons, as parallel arrays (row = person)."""

    global_index: np.ndarray
    russian: np.ndarray  # bool
    female: np.ndarray  # bool
    first_name: np.ndarray  # entry in Vocabulary.first_names
    surname: np.ndarray  # entry in Vocabulary.surnames
    birth_day: np.ndarray  # days since epoch
    city: np.ndarray  # entry in Vocabulary.cities
    phone_kind: np.ndarray
    phone_digits: np.ndarray  # (rows, 10) ASCII national number
    has_phone: np.ndarray
    mailbox: pa.Array  # local part of the main address
    domain: np.ndarray
    alt_mailbox: pa.Array  # a second address (work, old), where has_alt
    alt_domain: np.ndarray
    has_alt: np.ndarray
    first_seen: np.ndarray  # ms, first contact with the shop
    in_crm: np.ndarray
    in_web: np.ndarray
    in_shop: np.ndarray

    @property
    def size(self) -> int:
        return int(self.global_index.shape[0])

    def person_ids(self) -> pa.Array:
        return text.prefixed_id("P-", self.global_index + 1, width=8)


# Chance that a person is in each profile source, before people in none are given one;
# chosen so that the shares come out at about 60% / 50% / 45%.
_P_CRM, _P_WEB, _P_SHOP = 0.53, 0.44, 0.395
_FAMILY_SHARE = 0.005  # persons who write down a relative's mailbox


def _bijection(values: np.ndarray, space: int, multiplier: int, offset: int) -> np.ndarray:
    """A fixed scramble of 0..space-1 onto itself (multiplier coprime with space)."""
    return (values.astype(np.int64) % space * multiplier + offset) % space


def sample_people(
    vocab: Vocabulary, rng: np.random.Generator, first: int, count: int, seed: int, window: Window
) -> People:
    index = np.arange(first, first + count, dtype=np.int64)
    russian = rng.random(count) < 0.6
    female = rng.random(count) < 0.54
    # A few persons share a mailbox (and surname, city) with the person before them.
    family = (rng.random(count) < _FAMILY_SHARE) & (np.arange(count) > 0)
    owner = np.arange(count)
    owner[family] = owner[family] - 1
    russian = russian[owner]
    living_abroad = rng.random(count) < 0.03
    ru_city = draw(vocab.cities.ru_cdf, rng, count)
    foreign_city = vocab.cities.ru_count + draw(vocab.cities.foreign_cdf, rng, count)
    city = np.where(russian ^ living_abroad, ru_city, foreign_city)[owner]

    group = np.where(russian, RU_MALE, EN_MALE) + female.astype(np.int64)
    first_name = vocab.first_names.draw(rng, group)
    surname_group = np.where(russian, np.where(female, RU_FEMALE, RU_MALE), EN_MALE)
    surname_base = vocab.surnames.draw(rng, np.where(russian, RU_MALE, EN_MALE))
    surname_base = surname_base[owner]
    surname = surname_base - vocab.surnames.group_offset[np.where(russian, RU_MALE, EN_MALE)]
    surname = surname + vocab.surnames.group_offset[surname_group]

    age_years = 18.0 + 57.0 * rng.beta(2.0, 3.5, count)
    birth_day = (window.end_ms // MS_PER_DAY - (age_years * 365.25).astype(np.int64)).astype(
        np.int64
    )

    phone_kind = np.where(
        russian,
        vocabulary.PHONE_RU,
        rng.choice(
            [vocabulary.PHONE_UK_MOBILE, vocabulary.PHONE_UK_LONDON, vocabulary.PHONE_US],
            size=count,
            p=[0.5, 0.15, 0.35],
        ),
    )
    phone_digits = _phone_digits(rng, phone_kind, index, seed)
    has_phone = rng.random(count) < 0.9

    mailbox = _mailbox(vocab, rng, first_name, surname, birth_day, index, seed, 0)
    alt_mailbox = _mailbox(vocab, rng, first_name, surname, birth_day, index, seed, 1)
    domain = np.where(
        russian,
        draw(vocab.domains.ru_cdf, rng, count),
        draw(vocab.domains.en_cdf, rng, count),
    )
    alt_domain = np.where(
        russian,
        draw(vocab.domains.ru_cdf, rng, count),
        draw(vocab.domains.en_cdf, rng, count),
    )
    owner_array = pa.array(owner)
    mailbox = mailbox.take(owner_array)
    domain = domain[owner]
    has_alt = rng.random(count) < 0.15

    # First contact: spread over the two years, more of it recent (the shop grows).
    first_seen = window.start_ms + (rng.random(count) ** 0.75 * (window.span_ms - MS_PER_DAY))
    first_seen = first_seen.astype(np.int64)

    in_crm = rng.random(count) < _P_CRM
    in_web = rng.random(count) < _P_WEB
    in_shop = rng.random(count) < _P_SHOP
    nowhere = ~(in_crm | in_web | in_shop)
    chosen = rng.choice(3, size=count, p=[0.4, 0.32, 0.28])
    in_crm |= nowhere & (chosen == 0)
    in_web |= nowhere & (chosen == 1)
    in_shop |= nowhere & (chosen == 2)
    return People(
        global_index=index,
        russian=russian,
        female=female,
        first_name=first_name,
        surname=surname,
        birth_day=birth_day,
        city=city,
        phone_kind=phone_kind,
        phone_digits=phone_digits,
        has_phone=has_phone,
        mailbox=mailbox,
        domain=domain,
        alt_mailbox=alt_mailbox,
        alt_domain=alt_domain,
        has_alt=has_alt,
        first_seen=first_seen,
        in_crm=in_crm,
        in_web=in_web,
        in_shop=in_shop,
    )


def _phone_digits(
    rng: np.random.Generator, kind: np.ndarray, index: np.ndarray, seed: int
) -> np.ndarray:
    """Ten-digit national numbers: a three-digit prefix by kind and seven digits unique per
    person (for up to ten million persons)."""
    count = kind.shape[0]
    unique = _bijection(index, UNIQUE_PHONE_SPACE, 7_368_787, (seed * 1_000_003) % 9_999_991)
    prefix = np.empty(count, dtype=np.int64)
    ru = kind == vocabulary.PHONE_RU
    prefix[ru] = 900 + rng.integers(0, 100, size=int(ru.sum()))
    london = kind == vocabulary.PHONE_UK_LONDON
    prefix[london] = 200 + rng.choice([3, 7, 8], size=int(london.sum()))
    mobile = kind == vocabulary.PHONE_UK_MOBILE
    prefix[mobile] = 740 + rng.integers(0, 60, size=int(mobile.sum()))
    us = kind == vocabulary.PHONE_US
    prefix[us] = rng.choice(vocabulary.US_AREA_CODES, size=int(us.sum()))
    return text.digit_matrix(prefix * UNIQUE_PHONE_SPACE + unique, 10)


def _mailbox(
    vocab: Vocabulary,
    rng: np.random.Generator,
    first_name: np.ndarray,
    surname: np.ndarray,
    birth_day: np.ndarray,
    index: np.ndarray,
    seed: int,
    which: int,
) -> pa.Array:
    """Local parts like ivan.petrov482193: a name pattern and a number unique per person."""
    count = int(index.shape[0])
    number = _bijection(
        index,
        UNIQUE_MAILBOX_SPACE,
        (700_001, 524_287)[which],
        (seed * 7_919 + which * 104_729) % UNIQUE_MAILBOX_SPACE,
    )
    suffix = text.decimal(number)
    first = text.pick(vocab.first_names.ascii, first_name)
    last = text.pick(vocab.surnames.ascii, surname)
    initial = pc.utf8_slice_codeunits(first, 0, 1)
    year = pc.utf8_slice_codeunits(text.decimal(text.civil(birth_day)[0]), 2, 4)
    pattern = rng.choice(8, size=count, p=[0.25, 0.12, 0.12, 0.1, 0.1, 0.11, 0.1, 0.1])

    def build(group: int, rows: np.ndarray) -> pa.Array:
        taken = pa.array(rows)
        f, s, i, n = first.take(taken), last.take(taken), initial.take(taken), suffix.take(taken)
        if group == 0:
            return text.concat(f, ".", s, n)
        if group == 1:
            return text.concat(f, s, n)
        if group == 2:
            return text.concat(i, ".", s, n)
        if group == 3:
            return text.concat(s, ".", f, n)
        if group == 4:
            return text.concat(f, "_", s, n)
        if group == 5:
            return text.concat(s, n)
        if group == 6:
            return text.concat(f, year.take(taken), ".", n)
        return text.concat(s, "_", i, n)

    return text.assemble(pattern, build)


# --- how sources write identities ----------------------------------------------------------------
def email_text(
    vocab: Vocabulary,
    rng: np.random.Generator,
    mailbox: pa.Array,
    domain: np.ndarray,
    typo_share: float,
    upper_share: float,
    capitalised_share: float,
    spaces_share: float,
) -> tuple[pa.Array, np.ndarray]:
    """Addresses as a source stores them, and which rows carry a typo'd domain."""
    count = int(domain.shape[0])
    typo = rng.random(count) < typo_share
    written_domain = np.where(typo, vocab.domains.typo_of[domain], domain)
    address = text.concat(mailbox, "@", text.pick(vocab.domains.values, written_domain))
    case = rng.random(count)
    upper = case < upper_share
    capitalised = (case >= upper_share) & (case < upper_share + capitalised_share)
    if upper.any():
        address = text.where(upper, pc.utf8_upper(address), address)
    if capitalised.any():
        address = text.where(capitalised, pc.utf8_capitalize(address), address)
    spaced = rng.random(count) < spaces_share
    if spaced.any():
        padding = rng.integers(0, 3, size=count)
        before = text.pick(pa.array([" ", "", " "]), padding)
        after = text.pick(pa.array(["", " ", " "]), padding)
        address = text.where(spaced, text.concat(before, address, after), address)
    return address, typo


def phone_text(kind: np.ndarray, digits: np.ndarray, style: np.ndarray) -> pa.Array:
    """Phone numbers written in the given styles (see vocabulary.PHONE_TEMPLATES)."""
    groups = kind * 5 + style

    def build(group: int, rows: np.ndarray) -> pa.Array:
        template = vocabulary.PHONE_TEMPLATES[group // 5][group % 5]
        return text.fill_template(template, digits[rows])

    return text.assemble(groups, build)


def e164(kind: np.ndarray, digits: np.ndarray) -> pa.Array:
    return phone_text(kind, digits, np.full(kind.shape[0], vocabulary.PHONE_STYLE_E164))
