"""What SQL decides of a value, it decides as the Python normaliser does: for every value the
SQL of `sql_normalize.py` gives a value to, that value is the JSON text of what Python's
normaliser gives (and where Python rejects the value, SQL leaves it undecided)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from herald.imports.normalize import FieldSpec, NormalizeOptions, _FieldColumn
from herald.imports.sql_normalize import (
    PYTHON_WHITESPACE,
    TEXT_CHARACTER_RANGES,
    stepped_query,
    strip_sql,
    value_sql,
)
from herald.profiles.records import field_value_json

SPECS = {
    "string": FieldSpec("name"),
    "email": FieldSpec("email", identifier="email"),
    "phone": FieldSpec("phone", identifier="phone"),
    "date": FieldSpec("birthday", "date"),
    "datetime": FieldSpec("seen_at", "datetime"),
    "integer": FieldSpec("orders", "integer"),
    "float": FieldSpec("spent", "float"),
    "boolean": FieldSpec("subscribed", "boolean"),
    "enum": FieldSpec("tier", "enum", enum_values=("Gold", "Silver", "bronze", "Über")),
}


@pytest.fixture(scope="module")
def connection() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


def sql_decisions(
    connection: duckdb.DuckDBPyConnection,
    spec: FieldSpec,
    raws: Sequence[str],
    options: NormalizeOptions,
) -> list[str | None]:
    plan = value_sql("c0", "f0", spec, options)
    assert plan is not None
    query = stepped_query(
        "select * from unnest(?::varchar[]) with ordinality as t(c0, position)", [plan]
    )
    rows = connection.execute(
        f"select {plan.value} from ({query}) order by position", [list(raws)]
    ).fetchall()
    return [row[0] for row in rows]


def assert_sql_agrees(
    connection: duckdb.DuckDBPyConnection,
    kind: str,
    raws: Sequence[str],
    options: NormalizeOptions | None = None,
) -> int:
    """Check every value SQL decides against Python; return how many SQL decided."""
    options = options or NormalizeOptions()
    spec = SPECS[kind]
    column = _FieldColumn(spec, options)
    decided = 0
    for raw, sql_value in zip(raws, sql_decisions(connection, spec, raws, options), strict=True):
        if sql_value is None:
            continue
        decided += 1
        value, error = column.outcome(raw)
        assert error is None, (kind, raw, sql_value, error)
        assert sql_value == field_value_json(value), (kind, raw)
    return decided


COMMON = {
    "string": ["Иван", "Anna Lee", "O'Brien", 'say "hi"', "a\\b", "Zoë", "«Ромашка» — №1…", "x"],
    "email": ["User.1@Mail.RU", " a@b.ru", "user+tag@gmail.com", "o'brien@x.ie", "A@b.co"],
    "phone": [
        *("+7 916 123-45-67", "8 (916) 123-45-67", "89161234567", "79161234567"),
        *("9161234567", "+7(916)1234567", "8-916-123-45-67", "+7 916 123 45 67"),
    ],
    "date": [
        *("01.02.1990", "1990-02-01", "2024/2/3", "3/4/2024", "13/04/2024", "20240305"),
        *("29.02.2024", "04/13/2024", "1.2.1999", "2024.03.05"),
    ],
    "datetime": ["2024-03-05 13:22:00", "2024-03-05T13:22", "2024-12-31 23:59:59"],
    "integer": ["100", "1 000", "-0", "+5", "007", "999999999999999999"],
    "float": ["1 234,56", "1234.56", "0,0001", "-0,00", "12", "+3,10", "1,234", "000.5000"],
    "boolean": ["да", "нет", "Yes", "NO", "1", "0", "TRUE", "ДА", "Д", "ложь", "on"],
    "enum": ["gold", "GOLD", "Silver", "BRONZE", "bronze"],
}


@pytest.mark.parametrize("kind", sorted(COMMON))
def test_sql_decides_the_common_forms_as_python_does(connection, kind: str) -> None:  # type: ignore[no-untyped-def]
    raws = COMMON[kind]

    decided = assert_sql_agrees(connection, kind, raws)

    assert decided == len(raws)  # the common forms never need Python


@pytest.mark.parametrize("dayfirst", [True, False])
def test_ambiguous_dates_follow_the_dayfirst_option(connection, dayfirst: bool) -> None:  # type: ignore[no-untyped-def]
    raws = ["01/02/2024", "01-02-2024", "13/02/2024", "02/13/2024", "01.02.2024"]

    assert assert_sql_agrees(connection, "date", raws, NormalizeOptions(dayfirst=dayfirst)) == 5


@pytest.mark.parametrize("region", ["RU", "DE", "GB", "US", "KZ", "AR", "BY"])
def test_phones_of_other_regions_are_decided_only_as_python_decides(
    connection, region: str
) -> None:  # type: ignore[no-untyped-def]
    from herald.imports.normalize import _mobile_plan

    raws = ["+49 160 1234567", "0160 1234567", "49 160 1234567", "+44 7400 123456"]
    raws += ["07400 123456", "+1 650 253 0000", "650 253 0000", "+7 701 234 56 78"]
    raws += ["8 701 234 56 78", "+375 29 123-45-67", "8 029 123-45-67", "+54 9 11 1234-5678"]
    options = NormalizeOptions(region=region)
    if _mobile_plan(region) is None:
        assert value_sql("c0", "f0", SPECS["phone"], options) is None
        return

    assert_sql_agrees(connection, "phone", raws, options)


def near(kind: str) -> st.SearchStrategy[str]:
    """Text close to the values of a kind: their characters, shuffled and varied."""
    alphabet = "".join(sorted(set("".join(COMMON[kind])))) + " \u00a0\t+-.,/:T0123456789"
    return st.sampled_from(COMMON[kind]) | st.text(alphabet=alphabet, max_size=24)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
@pytest.mark.parametrize("kind", sorted(COMMON))
def test_sql_never_decides_otherwise_than_python(connection, kind: str, data) -> None:  # type: ignore[no-untyped-def]
    raws = data.draw(st.lists(near(kind) | st.text(max_size=16), min_size=1, max_size=40))

    assert_sql_agrees(connection, kind, raws)


def test_clean_text_characters_are_not_touched_by_nfc_alone_or_in_pairs() -> None:
    characters = [chr(code) for low, high in TEXT_CHARACTER_RANGES for code in range(low, high + 1)]
    for character in characters:
        assert not character.isspace() and unicodedata.category(character)[0] != "C"
        assert unicodedata.combining(character) == 0
        assert unicodedata.normalize("NFC", character) == character
    composing = [
        character
        for character in characters
        if any(
            unicodedata.normalize("NFC", character + other) != character + other
            for other in characters
        )
    ]
    assert composing == []


def test_strip_is_pythons_strip(connection) -> None:  # type: ignore[no-untyped-def]
    texts = [f"{a}x y{b}" for a in PYTHON_WHITESPACE for b in ("", *PYTHON_WHITESPACE[:3])]
    texts += ["", " ", PYTHON_WHITESPACE, "\u200bx"]
    rows = connection.execute(
        f"select {strip_sql('t')} from unnest(?::varchar[]) with ordinality as u(t, p) order by p",
        [texts],
    ).fetchall()

    assert [row[0] for row in rows] == [text.strip() for text in texts]
