"""The common value formats of `normalize.py` as DuckDB SQL, deciding only what is certain.

Each `*_sql` function takes a SQL expression for a raw cell (never NULL where it is used) and
returns a SQL expression for the JSON text of the clean value exactly as
`herald.profiles.records.field_value_json` writes the value Python's normaliser returns — or
NULL where SQL cannot be sure ("undecided"). Undecided values, valid or not, go to the Python
normalisers (once per distinct value), so the rules stay in one place and SQL only has to be
right about what it accepts. Every pattern here is narrower than its Python counterpart:

- text: already clean (no leading, trailing or repeated spaces, no other whitespace, no
  control or zero-width characters) and made only of characters from Latin, Latin-1,
  Cyrillic and general punctuation that NFC leaves as they are;
- email: ASCII addresses matching the Python fast path's pattern, lower-cased;
- phone: the Python fast path for plainly written mobile numbers of the default region,
  from the same `phonenumbers` metadata (`normalize._mobile_plan`);
- date: `YYYY-MM-DD`, `YYYY/MM/DD`, `YYYY.MM.DD`, `DD.MM.YYYY`, `DD/MM/YYYY` and
  `DD-MM-YYYY` with four-digit years from 1000, and `YYYYMMDD`;
- datetime: `YYYY-MM-DD HH:MM[:SS]` and the same with `T`;
- integer: up to 18 digits with an optional sign and spaces;
- float: up to 15 significant digits with one `.` or `,` whose Python repr is plain decimal;
- boolean: the ASCII and Cyrillic yes/no words; enum: ASCII spellings of the values.

Patterns are RE2 (DuckDB's regex engine), written to mean the same under Python's `re`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from herald.imports.normalize import (
    _FALSE,
    _SPECIAL_USE,
    _TRUE,
    FieldSpec,
    NormalizeOptions,
    _enum_index,
    _kind,
    _mobile_plan,
)

# The characters Python's str.strip() and str.split() take for whitespace.
PYTHON_WHITESPACE = "".join(chr(code) for code in range(0x110000) if chr(code).isspace())

# Characters a clean text value may hold besides single spaces between words: printable ASCII,
# Latin-1 without NBSP and the soft hyphen, Latin Extended-A, Cyrillic without its combining
# marks, general punctuation (dashes, quotes, ellipsis), the euro and numero signs. None is
# whitespace, zero-width, a control character or changed by NFC, alone or next to another
# (tests/unit/test_sql_normalize.py checks every one and every pair).
TEXT_CHARACTER_RANGES: tuple[tuple[int, int], ...] = (
    (0x21, 0x7E),
    (0xA1, 0xAC),
    (0xAE, 0x17F),
    (0x400, 0x482),
    (0x48A, 0x4FF),
    (0x2010, 0x2027),
    (0x20AC, 0x20AC),
    (0x2116, 0x2116),
)


def _character_class(ranges: tuple[tuple[int, int], ...]) -> str:
    parts = []
    for low, high in ranges:
        parts.append(f"\\x{{{low:X}}}" if low == high else f"\\x{{{low:X}}}-\\x{{{high:X}}}")
    return "[" + "".join(parts) + "]"


_WORD = _character_class(TEXT_CHARACTER_RANGES)
CLEAN_TEXT_PATTERN = f"{_WORD}+(?: {_WORD}+)*"

_LOCAL = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
EMAIL_PATTERN = (
    f"{_LOCAL}(?:\\.{_LOCAL})*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\\.)+"
    "[A-Za-z]{2,63}"
)
BOOLEAN_PATTERN = "[A-Za-z0-9+\\-\\x{410}-\\x{44F}\\x{401}\\x{451}]+"
ENUM_PATTERN = "[A-Za-z0-9_\\-]+"


def sql_text(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def json_string_sql(expression: str) -> str:
    """JSON text of a non-NULL string without control characters, as
    json.encoder.encode_basestring writes it. (DuckDB's concat() costs a fifth of a chain of
    `||`; it takes NULL for '', so every part here is never NULL.)"""
    escaped = f"replace(replace({expression}, '\\', '\\\\'), '\"', '\\\"')"
    return (
        f"(CASE WHEN contains({expression}, '\\') OR contains({expression}, '\"')"
        f" THEN concat('\"', {escaped}, '\"') ELSE concat('\"', {expression}, '\"') END)"
    )


def trim_sql(expression: str) -> str:
    """DuckDB's trim of spaces, taken only where there is a space to trim (it costs five
    times the test)."""
    return (
        f"(CASE WHEN starts_with({expression}, ' ') OR ends_with({expression}, ' ')"
        f" THEN trim({expression}) ELSE {expression} END)"
    )


def strip_sql(expression: str) -> str:
    """Python's str.strip(): DuckDB's trim with Python's whitespace characters, taken only
    where the first or last character is whitespace (that trim costs 20 times a plain one)."""
    codes = ", ".join(str(ord(char)) for char in PYTHON_WHITESPACE)
    return (
        f"(CASE WHEN unicode({expression}) IN ({codes})"
        f" OR unicode(right({expression}, 1)) IN ({codes})"
        f" THEN trim({expression}, {sql_text(PYTHON_WHITESPACE)}) ELSE {expression} END)"
    )


@dataclass
class SqlValue:
    """How SQL decides a field's cells: columns computed in steps (each step may use the
    columns of the steps before it, named `<field>_<what>`), then the value expression."""

    steps: list[dict[str, str]] = field(default_factory=list)
    value: str = "NULL"


def stepped_query(query: str, plans: Sequence[SqlValue]) -> str:
    """The query with the plans' intermediate columns added, step by step (a column computed
    once in a step and named, rather than repeated inside the expressions using it)."""
    for level in range(max((len(plan.steps) for plan in plans), default=0)):
        steps = [
            f"{expression} as {alias}"
            for plan in plans
            if level < len(plan.steps)
            for alias, expression in plan.steps[level].items()
        ]
        query = f"select *, {', '.join(steps)} from ({query})"
    return query


def text_sql(raw: str, name: str) -> SqlValue:
    del name
    return SqlValue(
        value=f"(CASE WHEN regexp_full_match({raw}, {sql_text(CLEAN_TEXT_PATTERN)})"
        f" THEN {json_string_sql(raw)} END)"
    )


def email_sql(raw: str, name: str) -> SqlValue:
    text, lowered = f"{name}_t", f"{name}_l"
    special = " AND ".join(
        f"NOT ends_with({lowered}, {sql_text('.' + domain)})" for domain in sorted(_SPECIAL_USE)
    )
    # No "--" anywhere, where Python forbids it only in the domain: an address with "--" in
    # its local part is left to Python.
    return SqlValue(
        [{text: trim_sql(raw)}, {lowered: f"lower({text})"}],
        f"(CASE WHEN strlen({text}) <= 254 AND NOT contains({text}, '--')"
        f" AND regexp_full_match({text}, {sql_text(EMAIL_PATTERN)})"
        f" AND strpos({text}, '@') <= 65 AND {special} THEN {json_string_sql(lowered)} END)",
    )


def _widths(pattern: str) -> tuple[int, int]:
    """The shortest and longest text a regular expression matches (Python's own parser)."""
    import re._parser as parser

    low, high = parser.parse(pattern).getwidth()
    return int(low), int(min(high, 10_000))


def phone_sql(raw: str, name: str, region: str) -> SqlValue | None:
    """`normalize._mobile_fast` in SQL, or None where the region has no fast path."""
    plan = _mobile_plan(region)
    if plan is None:
        return None
    text, digits, plus = f"{name}_t", f"{name}_d", f"{name}_p"
    code = plan.country_code
    mobile = sql_text(plan.mobile.pattern)
    shortest, longest = _widths(plan.mobile.pattern)

    def national(expression: str) -> str:
        # The length test first: it spares the regular expression most candidates.
        return (
            f"(CASE WHEN strlen({expression}) BETWEEN {max(shortest, 1)} AND {longest}"
            f" AND NOT starts_with({expression}, '0')"
            f" AND regexp_full_match({expression}, {mobile}) THEN {expression} END)"
        )

    after_code, after_prefix = f"{name}_dc", f"{name}_dp"
    starts_with_code = f"starts_with({digits}, {sql_text(code)})"
    cut = {after_code: f"substr({digits}, {len(code) + 1})"}
    candidates = {f"{name}_n": national(digits)}
    prefix = plan.national_prefix
    if prefix:
        cut[after_prefix] = f"substr({digits}, {len(prefix) + 1})"
        candidates[f"{name}_np"] = (
            f"(CASE WHEN starts_with({digits}, {sql_text(prefix)})"
            f" THEN {national(after_prefix)} END)"
        )
    candidates[f"{name}_nc"] = f"(CASE WHEN {starts_with_code} THEN {national(after_code)} END)"
    if plan.general is None:
        kept_national = "TRUE"
    else:
        low, high = _widths(plan.general.pattern)
        kept_national = (
            f"(strlen({digits}) BETWEEN {low} AND {high}"
            f" AND regexp_full_match({digits}, {sql_text(plan.general.pattern)}))"
        )
    first = f"coalesce({', '.join(candidates)})"
    one_match = " AND ".join(f"({item} IS NULL OR {item} = {first})" for item in candidates)
    quote = "'\"'"
    international = (
        f"(CASE WHEN {starts_with_code} AND {name}_nc IS NOT NULL"
        f" THEN concat('\"+{code}', {name}_nc, {quote}) END)"
    )
    national_number = (
        f"(CASE WHEN {starts_with_code} AND {kept_national} THEN NULL"
        f" WHEN {first} IS NOT NULL AND {one_match}"
        f" THEN concat('\"+{code}', {first}, {quote}) END)"
    )
    return SqlValue(
        [
            {text: trim_sql(raw)},
            {
                plus: f"starts_with({text}, '+')",
                # The characters Python's pattern allows, dropped as Python drops them; a `+`
                # after the first character is left to Python, and anything else among the
                # digits fails the mobile pattern (digits only), so Python decides it too.
                f"{name}_k": f"(CASE WHEN strlen({text}) <= 64"
                f" AND NOT contains(substr({text}, 2), '+') THEN {text} END)",
            },
            *_dropped(f"{name}_k", digits, "+ ().-"),
            cut,
            candidates,
        ],
        f"(CASE WHEN {digits} IS NULL THEN NULL WHEN {plus} THEN {international}"
        f" ELSE {national_number} END)",
    )


def _dropped(expression: str, name: str, characters: str) -> list[dict[str, str]]:
    """Steps leaving `expression` without the given characters and NBSP in the column `name`:
    a replace() where the character is there (half the cost of regexp_replace or translate;
    contains() costs a fifth of a replace())."""
    steps = []
    for number, character in enumerate(
        [*(sql_text(character) for character in characters), "chr(160)"]
    ):
        column = f"{name}{number}"
        steps.append(
            {
                column: f"(CASE WHEN contains({expression}, {character})"
                f" THEN replace({expression}, {character}, '') ELSE {expression} END)"
            }
        )
        expression = column
    steps.append({name: expression})
    return steps


_DATE_PARTS = "^([0-9]{1,4})([-/.])([0-9]{1,2})([-/.])([0-9]{1,4})$"


def date_sql(raw: str, name: str, dayfirst: bool) -> SqlValue:
    text, parts, iso = f"{name}_t", f"{name}_s", f"{name}_iso"
    a, s, b, s2, c = (f"{parts}.{part}" for part in ("a", "s", "b", "s2", "c"))
    same = f"{s} <> '' AND {s} = {s2}"
    first, second = f"try_cast({a} AS INTEGER)", f"try_cast({b} AS INTEGER)"
    day_first = (
        f"({s} = '.' OR ({first} > 12 AND {second} <= 12)"
        f" OR (NOT ({second} > 12 AND {first} <= 12) AND {'TRUE' if dayfirst else 'FALSE'}))"
    )
    day = f"(CASE WHEN {day_first} THEN {a} ELSE {b} END)"
    month = f"(CASE WHEN {day_first} THEN {b} ELSE {a} END)"
    iso_text = (
        f"(CASE WHEN {same} AND strlen({a}) = 4 AND {a} >= '1000' AND strlen({c}) <= 2"
        f" THEN concat({a}, '-', lpad({b}, 2, '0'), '-', lpad({c}, 2, '0'))"
        f" WHEN {same} AND strlen({a}) <= 2 AND strlen({c}) = 4 AND {c} >= '1000'"
        f" THEN concat({c}, '-', lpad({month}, 2, '0'), '-', lpad({day}, 2, '0'))"
        f" WHEN regexp_full_match({text}, '[1-9][0-9]{{7}}')"
        f" THEN concat(substr({text}, 1, 4), '-', substr({text}, 5, 2), '-', substr({text}, 7, 2))"
        " END)"
    )
    return SqlValue(
        [
            {text: trim_sql(raw)},
            {parts: f"regexp_extract({text}, {sql_text(_DATE_PARTS)}, ['a', 's', 'b', 's2', 'c'])"},
            {iso: iso_text},
        ],
        f"(CASE WHEN try_cast({iso} AS DATE) IS NOT NULL THEN concat('\"', {iso}, '\"') END)",
    )


_DATETIME_PATTERN = "[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2})?"


def datetime_sql(raw: str, name: str) -> SqlValue:
    text = f"{name}_t"
    seconds = f"(CASE WHEN strlen({text}) = 19 THEN substr({text}, 17, 3) ELSE ':00' END)"
    return SqlValue(
        [{text: trim_sql(raw)}],
        f"(CASE WHEN strlen({text}) IN (16, 19)"
        f" AND regexp_full_match({text}, {sql_text(_DATETIME_PATTERN)})"
        f" AND substr({text}, 12, 2) <= '23' AND substr({text}, 15, 2) <= '59'"
        f" AND (strlen({text}) = 16 OR substr({text}, 18, 2) <= '59')"
        f" AND try_cast(substr({text}, 1, 10) AS DATE) IS NOT NULL"
        f" THEN concat('\"', substr({text}, 1, 10), 'T', substr({text}, 12, 5), {seconds}, '\"')"
        " END)",
    )


def integer_sql(raw: str, name: str) -> SqlValue:
    text = f"{name}_t"
    return SqlValue(
        [{text: f"replace({raw}, ' ', '')"}],
        f"(CASE WHEN regexp_full_match({text}, '[+-]?[0-9]{{1,18}}')"
        f" THEN CAST(CAST({text} AS BIGINT) AS VARCHAR) END)",
    )


_FLOAT_PARTS = "^([+-]?)([0-9]+)(?:[.,]([0-9]+))?$"


def float_sql(raw: str, name: str) -> SqlValue:
    text, parts = f"{name}_t", f"{name}_s"
    digits, decimals = f"{name}_i", f"{name}_f"
    sign, whole, fraction = (f"{parts}.{part}" for part in ("sign", "whole", "fraction"))
    plain = (
        f"({digits} <> '' OR {fraction} = '' OR regexp_full_match({fraction}, '0{{0,3}}[1-9].*')"
        f" OR regexp_full_match({fraction}, '0*'))"
    )
    return SqlValue(
        [
            {text: f"replace({raw}, ' ', '')"},
            {
                parts: f"regexp_extract({text}, {sql_text(_FLOAT_PARTS)},"
                " ['sign', 'whole', 'fraction'])"
            },
            {digits: f"ltrim({whole}, '0')", decimals: f"rtrim({fraction}, '0')"},
        ],
        f"(CASE WHEN {whole} <> '' AND strlen({digits}) + strlen({fraction}) <= 15 AND {plain}"
        f" THEN concat(CASE WHEN {sign} = '-' THEN '-' ELSE '' END,"
        f" CASE WHEN {digits} = '' THEN '0' ELSE {digits} END, '.',"
        f" CASE WHEN {decimals} = '' THEN '0' ELSE {decimals} END) END)",
    )


def _words(values: frozenset[str]) -> str:
    ascii_or_cyrillic = re.compile(r"[a-z0-9+\-а-яё]+")
    chosen = sorted(word for word in values if ascii_or_cyrillic.fullmatch(word))
    return ", ".join(sql_text(word) for word in chosen)


def boolean_sql(raw: str, name: str) -> SqlValue:
    text, lowered = f"{name}_t", f"{name}_l"
    return SqlValue(
        [{text: trim_sql(raw)}, {lowered: f"lower({text})"}],
        f"(CASE WHEN regexp_full_match({text}, {sql_text(BOOLEAN_PATTERN)}) THEN"
        f" (CASE WHEN {lowered} IN ({_words(_TRUE)}) THEN 'true'"
        f" WHEN {lowered} IN ({_words(_FALSE)}) THEN 'false' END) END)",
    )


def enum_sql(raw: str, name: str, allowed: tuple[str, ...]) -> SqlValue | None:
    from herald.profiles.records import field_value_json

    del name
    plain = re.compile(r"[a-z0-9_\-]+")
    entries = [(key, value) for key, value in _enum_index(allowed).items() if plain.fullmatch(key)]
    if not entries:
        return None
    cases = " ".join(
        f"WHEN {sql_text(key)} THEN {sql_text(field_value_json(value))}" for key, value in entries
    )
    return SqlValue(
        value=f"(CASE WHEN regexp_full_match({raw}, {sql_text(ENUM_PATTERN)})"
        f" THEN (CASE lower({raw}) {cases} END) END)"
    )


def value_sql(raw: str, name: str, spec: FieldSpec, options: NormalizeOptions) -> SqlValue | None:
    """How SQL decides a non-empty raw cell of the field (its intermediate columns named
    after `name`), or None where it decides nothing."""
    kind = _kind(spec)
    builders: dict[str, Callable[[], SqlValue | None]] = {
        "string": lambda: text_sql(raw, name),
        "email": lambda: email_sql(raw, name),
        "phone": lambda: phone_sql(raw, name, options.region),
        "date": lambda: date_sql(raw, name, options.dayfirst),
        "datetime": lambda: datetime_sql(raw, name),
        "integer": lambda: integer_sql(raw, name),
        "float": lambda: float_sql(raw, name),
        "boolean": lambda: boolean_sql(raw, name),
        "enum": lambda: enum_sql(raw, name, spec.enum_values),
    }
    builder = builders.get(kind)
    return builder() if builder is not None else None


__all__ = [
    "CLEAN_TEXT_PATTERN",
    "PYTHON_WHITESPACE",
    "TEXT_CHARACTER_RANGES",
    "SqlValue",
    "sql_text",
    "stepped_query",
    "strip_sql",
    "value_sql",
]
