"""Loading and rendering the dbt-style project."""

from __future__ import annotations

from pathlib import Path

import pytest

from herald.errors import ModelError
from herald.models.build import model_order
from herald.models.data_tests import failing_rows_sql
from herald.models.project import DataTest, SqlProject
from herald.models.render import Renderer, Target, lint

DUCKDB = Target("duckdb", "main")
CLICKHOUSE = Target("clickhouse", "herald")


def make_project(
    root: Path, models: dict[str, str], macros: str = "", sources: str = ""
) -> SqlProject:
    (root / "macros").mkdir(parents=True)
    (root / "macros" / "m.sql").write_text(macros)
    (root / "sources.yml").write_text(sources or "sources: []\n")
    for path, text in models.items():
        file = root / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text)
    return SqlProject.load(root)


def test_the_repository_project_renders_and_parses_on_both_dialects() -> None:
    project = SqlProject.load()
    assert lint(project) == []
    assert {"events", "orders", "order_items", "message_events"} <= set(project.models)


def test_every_model_documents_every_column_it_returns() -> None:
    project = SqlProject.load()
    for model in project.models.values():
        assert model.doc.description, f"{model.name} has no description"
        assert all(column.description for column in model.doc.columns), model.name


def test_macros_dispatch_per_engine_with_a_default(tmp_path: Path) -> None:
    macros = """
{% macro default__greeting(x) %}hello({{ x }}){% endmacro %}
{% macro clickhouse__greeting(x) %}ch_hello({{ x }}){% endmacro %}
{% macro default__twice(x) %}{{ greeting(x) }} + {{ greeting(x) }}{% endmacro %}
{% macro plain(x) %}plain({{ x }}){% endmacro %}
"""
    project = make_project(
        tmp_path, {"marts/a.sql": "select {{ twice('n') }}, {{ plain(1) }}"}, macros
    )
    model = project.model("a")
    assert Renderer(project, DUCKDB).render(model).sql == "select hello(n) + hello(n), plain(1)"
    assert (
        Renderer(project, CLICKHOUSE).render(model).sql
        == "select ch_hello(n) + ch_hello(n), plain(1)"
    )


def test_ref_source_this_and_qualified_names(tmp_path: Path) -> None:
    sources = "sources:\n  - name: shop\n    tables:\n      - name: orders\n"
    project = make_project(
        tmp_path,
        {
            "staging/stg.sql": "select * from {{ source('shop', 'orders') }}",
            "marts/m.sql": "select * from {{ ref('stg') }} -- {{ this }}",
        },
        sources=sources,
    )
    rendered = Renderer(project, CLICKHOUSE).render(project.model("m"))
    assert rendered.sql == "select * from `herald`.`stg` -- `herald`.`m`"
    assert rendered.refs == {"stg"}
    staged = Renderer(project, DUCKDB).render(project.model("stg"))
    assert staged.sql == 'select * from "raw_orders"'
    assert staged.sources == {("shop", "orders")}
    assert model_order(project) == ["stg", "m"]


def test_config_in_sql_overrides_the_yml(tmp_path: Path) -> None:
    project = make_project(
        tmp_path,
        {
            "marts/m.sql": "{{ config(materialized='table', order_by=['id']) }}select 1 as id",
            "marts/m.yml": "config:\n  materialized: view\n",
        },
    )
    rendered = Renderer(project, DUCKDB).render(project.model("m"))
    assert rendered.config.materialized == "table"
    assert rendered.config.order_by == ("id",)


def test_var_reads_project_vars_and_defaults(tmp_path: Path) -> None:
    project = make_project(
        tmp_path, {"marts/m.sql": "select {{ var('days') }}, {{ var('other', 7) }}"}
    )
    (tmp_path / "project.yml").write_text("vars:\n  days: 30\n")
    project = SqlProject.load(tmp_path)
    assert Renderer(project, DUCKDB).render(project.model("m")).sql == "select 30, 7"


@pytest.mark.parametrize(
    ("models", "message"),
    [
        ({"marts/m.sql": "select * from {{ ref('missing') }}"}, "ref('missing') names no model"),
        ({"marts/m.sql": "select * from {{ source('x', 'y') }}"}, "unknown source x.y"),
        ({"marts/m.sql": "select {{ unknown_macro() }}"}, "m.sql"),
        ({"marts/m.sql": "select {{ var('nope') }}"}, "var 'nope' is not set"),
    ],
)
def test_rendering_errors_name_the_model_and_the_problem(
    tmp_path: Path, models: dict[str, str], message: str
) -> None:
    project = make_project(tmp_path, models)
    with pytest.raises(ModelError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Renderer(project, DUCKDB).render(project.model("m"))


def test_a_cycle_between_models_is_reported(tmp_path: Path) -> None:
    project = make_project(
        tmp_path,
        {
            "marts/a.sql": "select * from {{ ref('b') }}",
            "marts/b.sql": "select * from {{ ref('a') }}",
        },
    )
    with pytest.raises(ModelError, match="cycle"):
        model_order(project)


def test_a_bad_yml_names_the_file_and_the_field(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"m.yml: config.materialized"):
        make_project(
            tmp_path, {"marts/m.sql": "select 1", "marts/m.yml": "config:\n  materialized: cube\n"}
        )


def test_lint_reports_sql_that_does_not_parse(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"marts/m.sql": "select from where ((("})
    problems = lint(project)
    assert any("m.sql: sqlglot cannot parse" in problem for problem in problems)


def test_yml_tests_in_dbt_forms(tmp_path: Path) -> None:
    yml = """
columns:
  - name: id
    description: id
    tests:
      - unique
      - not_null
      - relationships: {to: ref('parent'), field: parent_id}
  - name: status
    description: s
    tests:
      - accepted_values: {values: [a, "it's"]}
tests:
  - expression: "amount >= 0"
"""
    project = make_project(
        tmp_path, {"marts/m.sql": "select 1", "marts/m.yml": yml, "marts/parent.sql": "select 1"}
    )
    tests = project.model("m").data_tests
    assert [test.kind for test in tests] == [
        "unique",
        "not_null",
        "relationships",
        "accepted_values",
        "expression",
    ]
    relationships = tests[2]
    assert (relationships.to, relationships.field_name) == ("parent", "parent_id")
    sql = failing_rows_sql(tests[3], "m", DUCKDB)
    assert "not in ('a', 'it''s')" in sql
    assert failing_rows_sql(DataTest(kind="expression", expression="x > 0"), "m", CLICKHOUSE) == (
        "select count(*) from `herald`.`m` where not (x > 0)"
    )
