"""A segment definition Herald refuses is explained in the marketer's language: the place
(a file, a key, a path like where.all[0].op) stays as written, the problem is translated."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from herald.i18n import translate_reason
from herald.segments.compiler import SegmentCompiler
from herald.segments.definition import SegmentDefinitionError, parse_definition
from herald.warehouse.duckdb_engine import DuckDBWarehouse
from tests.fixtures.segments import SHOP_SCHEMA
from tests.support.cli import run_herald


def refusal(document: dict[str, Any], source: str | None = None) -> str:
    with pytest.raises(SegmentDefinitionError) as refused:
        parse_definition({"name": "vip", "database": "shop", **document}, source)
    return str(refused.value)


@pytest.mark.parametrize(
    ("document", "english", "russian"),
    [
        (
            {"where": {"all": [{"field": "level", "op": "foo"}]}},
            "where.all[0].field.op: 'foo' is not one of equals, not_equals,",
            "where.all[0].field.op: 'foo' — не из допустимых значений: equals, not_equals,",
        ),
        (
            {"where": {"nope": 1}},
            "where: unknown condition 'nope'; a condition starts with one of all, any,",
            "where: неизвестное условие 'nope'; условие начинается с одного из ключей: all, any,",
        ),
        (
            {"where": {"goal": "signup", "period": {"between": ["2026-02-01", "2026-01-01"]}}},
            "where.goal.period.between: 2026-02-01 is after 2026-01-01",
            "where.goal.period.between: 2026-02-01 позже, чем 2026-01-01",
        ),
    ],
)
def test_a_refused_definition_reads_in_russian(
    document: dict[str, Any], english: str, russian: str
) -> None:
    message = refusal(document)
    assert message.startswith(english)
    assert translate_reason(message, "ru").startswith(russian)
    assert translate_reason(message, "en") == message


def test_the_file_of_a_refused_definition_stays_in_front_of_the_translation() -> None:
    message = refusal({"kind": "static", "where": {"field": "city", "op": "empty"}}, "vip.yml")
    assert translate_reason(message, "ru") == (
        "vip.yml: where: статический сегмент — это список профилей, условий у него нет"
    )


def test_a_field_the_database_lacks_reads_in_russian(tmp_path: Path) -> None:
    compiler = SegmentCompiler(
        DuckDBWarehouse(tmp_path / "warehouse.duckdb"), SHOP_SCHEMA, as_of=datetime.now(UTC)
    )
    definition = parse_definition(
        {"name": "big-feet", "database": "shop", "where": {"field": "shoe_size", "op": "empty"}}
    )
    with pytest.raises(SegmentDefinitionError) as refused:
        compiler.check(definition)
    message = str(refused.value)
    assert message.startswith("where.field: database 'shop' has no field 'shoe_size' (fields: ")
    assert translate_reason(message, "ru").startswith(
        "where.field: в базе 'shop' нет поля 'shoe_size' (поля: "
    )


def test_the_command_says_why_in_herald_language(tmp_path: Path) -> None:
    definition = tmp_path / "vip.yml"
    definition.write_text("name: vip\ndatabase: shop\nkind: frozen\n")
    for language, said in [
        ("ru", "kind: 'frozen' — не dynamic и не static"),
        ("en", "kind: 'frozen' is not dynamic or static"),
    ]:
        done = run_herald(
            ["segment", "create", "--file", str(definition)],
            tmp_path / "home",
            env={"HERALD_LANGUAGE": language},
        )
        assert done.returncode == 1
        assert done.stderr == f"herald: {definition}: {said}\n"


def test_a_date_the_calendar_does_not_have_is_a_clear_error() -> None:
    from herald.segments.definition import SegmentDefinitionError, parse_definition_text

    text = "name: d\ndatabase: shop\nwhere: {field: born, op: equals, value: 2026-02-30}\n"
    with pytest.raises(SegmentDefinitionError, match=r"d\.yml: not valid YAML or JSON: day is out"):
        parse_definition_text(text, source="d.yml")
