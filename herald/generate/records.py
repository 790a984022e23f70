"""Records of the three profile sources: CRM contacts, web sign-ups, shop customers.

Each source writes a person down its own way: the CRM export is hand-typed and messy, web
sign-ups are what people typed into a form, the shop trims and checks what it stores.
Identity text (names, addresses, phones) is made here; times that depend on the person's
web sessions (sign-up time, registration) are filled in once those are simulated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from herald.generate import people as p
from herald.generate import text
from herald.generate.people import People, Vocabulary, Window
from herald.generate.randomness import choose, later, uniform_between
from herald.generate.text import MS_PER_DAY, MS_PER_HOUR

# Records of one chunk are numbered chunk * ID_STRIDE + 1, + 2, … in order of creation.
ID_STRIDE = 1_000_000


def record_numbers(chunk: int, created_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order of records by creation time, and each record's number in that order."""
    order = np.argsort(created_ms, kind="stable")
    rank = np.empty(order.shape[0], dtype=np.int64)
    rank[order] = np.arange(order.shape[0])
    return order, chunk * ID_STRIDE + rank + 1


def _name(
    table: p.NameTable,
    rng: np.random.Generator,
    entries: np.ndarray,
    russian: np.ndarray,
    ru_shares: dict[int, float],
    en_shares: dict[int, float],
) -> pa.Array:
    count = entries.shape[0]
    variants = np.where(russian, choose(rng, count, ru_shares), choose(rng, count, en_shares))
    return table.spell(entries, variants)


def _mailboxes(
    person: People, rows: np.ndarray, use_alt: np.ndarray
) -> tuple[pa.Array, np.ndarray]:
    main = person.mailbox.take(pa.array(rows))
    domain = np.where(use_alt, person.alt_domain[rows], person.domain[rows])
    if not use_alt.any():
        return main, domain
    alt = person.alt_mailbox.take(pa.array(rows))
    return text.where(use_alt, alt, main), domain


# --- CRM contacts ------------------------------------------------------------------------------
@dataclass
class CrmContacts:
    person: np.ndarray  # row in the chunk's People, per record (records in id order)
    contact_id: pa.Array
    email: pa.Array  # as stored, null where empty
    email_normalised: pa.Array  # stripped and lowercased, null where empty
    email_domain: np.ndarray  # domain number as written (typo'd where email_typo)
    email_typo: np.ndarray
    has_email: np.ndarray
    has_phone: np.ndarray
    created_ms: np.ndarray
    table: pa.Table


def crm_contacts(
    vocab: Vocabulary, person: People, rng: np.random.Generator, window: Window, chunk: int
) -> CrmContacts:
    members = np.flatnonzero(person.in_crm)
    duplicated = rng.random(members.shape[0]) < 0.04
    rows = np.repeat(members, 1 + duplicated.astype(np.int64))
    count = rows.shape[0]
    is_second = np.zeros(count, dtype=bool)
    is_second[1:] = rows[1:] == rows[:-1]
    russian = person.russian[rows]

    created = uniform_between(
        rng, person.first_seen[rows], np.full(count, window.end_ms - MS_PER_HOUR)
    )
    order, numbers = record_numbers(chunk, created)
    rows, russian, is_second, created = (
        rows[order],
        russian[order],
        is_second[order],
        created[order],
    )
    numbers = numbers[order]

    first_name = _name(
        vocab.first_names,
        rng,
        person.first_name[rows],
        russian,
        {p.CANON: 84, p.NO_YO: 6, p.UPPER: 3, p.LATIN: 3, p.TYPO: 2, p.DIMINUTIVE: 2},
        {p.CANON: 90, p.UPPER: 3, p.LOWER: 3, p.TYPO: 2, p.DIMINUTIVE: 2},
    )
    first_name = text.null_where(first_name, rng.random(count) < 0.01)
    last_name = _name(
        vocab.surnames,
        rng,
        person.surname[rows],
        russian,
        {p.CANON: 86, p.NO_YO: 6, p.UPPER: 3, p.LATIN: 2, p.TYPO: 3},
        {p.CANON: 92, p.UPPER: 3, p.LOWER: 2, p.TYPO: 3},
    )
    last_name = text.null_where(last_name, rng.random(count) < 0.03)

    use_alt = person.has_alt[rows] & (rng.random(count) < np.where(is_second, 0.6, 0.3))
    mailbox, domain = _mailboxes(person, rows, use_alt)
    email, typo = p.email_text(vocab, rng, mailbox, domain, 0.01, 0.06, 0.04, 0.04)
    has_email = rng.random(count) >= 0.10
    email = text.null_where(email, ~has_email)
    normalised = text.null_where(pc.utf8_lower(pc.utf8_trim_whitespace(email)), ~has_email)
    written_domain = np.where(typo, vocab.domains.typo_of[domain], domain)

    has_phone = person.has_phone[rows] & (rng.random(count) < 0.85)
    style = choose(rng, count, {0: 30, 1: 15, 2: 20, 3: 25, 4: 10})
    phone = text.null_where(
        p.phone_text(person.phone_kind[rows], person.phone_digits[rows], style), ~has_phone
    )

    birth = person.birth_day[rows]
    birthday_style = choose(rng, count, {0: 65, 1: 35})
    birthday = text.assemble(
        birthday_style,
        lambda group, where: (
            text.fill_template("##.##.####", text.date_digits(birth[where], "dmy"))
            if group == 0
            else text.fill_template("####-##-##", text.date_digits(birth[where], "ymd"))
        ),
    )
    birthday = text.null_where(birthday, rng.random(count) < 0.15)

    city = vocab.cities.spell(
        person.city[rows],
        choose(
            rng,
            count,
            {
                p.CITY_CANON: 70,
                p.CITY_LOWER: 6,
                p.CITY_PREFIXED: 8,
                p.CITY_LATIN: 5,
                p.CITY_OTHER: 8,
                p.CITY_UPPER: 3,
            },
        ),
    )
    city = text.null_where(city, rng.random(count) < 0.10)

    female = person.female[rows]
    gender_style = np.where(
        russian, choose(rng, count, {0: 78, 1: 12, 2: 10}), choose(rng, count, {0: 88, 1: 12})
    )
    gender_code = np.where(gender_style == 1, 2, female.astype(np.int64) + 3 * (gender_style == 2))
    gender = text.pick(pa.array(["m", "f", None, "м", "ж"], pa.string()), gender_code)

    level = choose(rng, count, {-1: 35, 0: 35, 1: 20, 2: 10})
    loyalty_level = text.pick(pa.array(["bronze", "silver", "gold"], pa.string()), level)
    low = np.array([0, 1_000, 5_000])[np.maximum(level, 0)]
    high = np.array([999, 4_999, 30_000])[np.maximum(level, 0)]
    points = np.where(level >= 0, uniform_between(rng, low, high), 0)
    points_text = text.null_where(text.decimal(points), (level < 0) & (rng.random(count) < 0.8))

    never_updated = rng.random(count) < 0.35
    updated = np.where(
        never_updated, created, later(rng, created, 60 * MS_PER_DAY, window.end_ms - 1_000)
    )

    contact_id = text.prefixed_id("CRM-", numbers)
    table = pa.table(
        {
            "contact_id": contact_id,
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
            "phone": phone,
            "birthday": birthday,
            "city": city,
            "gender": gender,
            "loyalty_level": loyalty_level,
            "loyalty_points": points_text,
            "created_at": text.timestamp_text(created),
            "updated_at": text.timestamp_text(updated),
        }
    )
    return CrmContacts(
        person=rows,
        contact_id=contact_id,
        email=email,
        email_normalised=normalised,
        email_domain=written_domain,
        email_typo=typo & has_email,
        has_email=has_email,
        has_phone=has_phone,
        created_ms=created,
        table=table,
    )


# --- web sign-ups ---------------------------------------------------------------------------------
@dataclass
class WebSignups:
    person: np.ndarray  # per record, in person order until numbered
    email: pa.Array
    phone: pa.Array
    name: pa.Array
    city: pa.Array
    consent_email: np.ndarray
    consent_sms: np.ndarray
    signed_up_ms: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    traffic: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    numbers: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def size(self) -> int:
        return int(self.person.shape[0])

    def signup_ids(self) -> pa.Array:
        return text.prefixed_id("WEB-", self.numbers)


def web_signups(vocab: Vocabulary, person: People, rng: np.random.Generator) -> WebSignups:
    rows = np.flatnonzero(person.in_web)
    count = rows.shape[0]
    russian = person.russian[rows]
    first, last = person.first_name[rows], person.surname[rows]
    style = np.where(
        russian,
        choose(rng, count, {0: 60, 1: 20, 2: 10, 3: 5, 4: 5}),
        choose(rng, count, {0: 80, 2: 10, 3: 5, 4: 5}),
    )

    def build_name(group: int, where: np.ndarray) -> pa.Array:
        f, s = first[where], last[where]
        names, surnames = vocab.first_names, vocab.surnames
        if group == 0:
            return text.concat(names.spell(f, p.CANON), " ", surnames.spell(s, p.CANON))
        if group == 1:
            return text.concat(names.spell(f, p.LATIN), " ", surnames.spell(s, p.LATIN))
        if group == 2:
            return text.concat(names.spell(f, p.DIMINUTIVE), " ", surnames.spell(s, p.CANON))
        if group == 3:
            return text.concat(names.spell(f, p.LOWER), " ", surnames.spell(s, p.LOWER))
        return names.spell(f, p.CANON)

    name = text.assemble(style, build_name)
    use_alt = person.has_alt[rows] & (rng.random(count) < 0.15)
    mailbox, domain = _mailboxes(person, rows, use_alt)
    email, _typo = p.email_text(vocab, rng, mailbox, domain, 0.01, 0.01, 0.03, 0.01)
    has_phone = person.has_phone[rows] & (rng.random(count) < 0.55)
    phone_style = choose(rng, count, {1: 60, 0: 20, 3: 20})
    phone = text.null_where(
        p.phone_text(person.phone_kind[rows], person.phone_digits[rows], phone_style), ~has_phone
    )
    city = vocab.cities.spell(
        person.city[rows],
        choose(rng, count, {p.CITY_CANON: 60, p.CITY_LATIN: 30, p.CITY_LOWER: 10}),
    )
    city = text.null_where(city, rng.random(count) < 0.5)
    consent_email = rng.random(count) < 0.75
    consent_sms = has_phone & (rng.random(count) < 0.45)
    return WebSignups(rows, email, phone, name, city, consent_email, consent_sms)


# --- shop customers -------------------------------------------------------------------------------
@dataclass
class ShopCustomers:
    person: np.ndarray
    email: pa.Array
    phone: pa.Array
    first_name: pa.Array
    last_name: pa.Array
    birth_date: pa.Array
    city: pa.Array
    registered_ms: np.ndarray
    numbers: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def size(self) -> int:
        return int(self.person.shape[0])

    def customer_ids(self) -> pa.Array:
        return text.prefixed_id("SHOP-", self.numbers)


def shop_customers(
    vocab: Vocabulary, person: People, rng: np.random.Generator, window: Window
) -> ShopCustomers:
    members = np.flatnonzero(person.in_shop)
    second_account = rng.random(members.shape[0]) < 0.015
    rows = np.repeat(members, 1 + second_account.astype(np.int64))
    count = rows.shape[0]
    is_second = np.zeros(count, dtype=bool)
    is_second[1:] = rows[1:] == rows[:-1]
    russian = person.russian[rows]
    use_alt = is_second | (person.has_alt[rows] & (rng.random(count) < 0.2))
    mailbox, domain = _mailboxes(person, rows, use_alt)
    email, _typo = p.email_text(vocab, rng, mailbox, domain, 0.005, 0.02, 0.0, 0.0)
    has_phone = person.has_phone[rows] & (rng.random(count) < 0.8)
    phone_style = choose(rng, count, {0: 50, 1: 30, 2: 20})
    phone = text.null_where(
        p.phone_text(person.phone_kind[rows], person.phone_digits[rows], phone_style), ~has_phone
    )
    first_name = _name(
        vocab.first_names,
        rng,
        person.first_name[rows],
        russian,
        {p.CANON: 92, p.NO_YO: 5, p.TYPO: 1, p.LATIN: 2},
        {p.CANON: 97, p.TYPO: 1, p.LOWER: 2},
    )
    last_name = _name(
        vocab.surnames,
        rng,
        person.surname[rows],
        russian,
        {p.CANON: 92, p.NO_YO: 5, p.TYPO: 1, p.LATIN: 2},
        {p.CANON: 97, p.TYPO: 1, p.LOWER: 2},
    )
    birth_date = text.dates(person.birth_day[rows], mask=rng.random(count) < 0.4)
    city = vocab.cities.spell(
        person.city[rows], choose(rng, count, {p.CITY_CANON: 85, p.CITY_LATIN: 10, p.CITY_OTHER: 5})
    )
    city = text.null_where(city, rng.random(count) < 0.3)
    registered = uniform_between(
        rng, person.first_seen[rows], np.full(count, window.end_ms - MS_PER_HOUR)
    )
    return ShopCustomers(rows, email, phone, first_name, last_name, birth_date, city, registered)
