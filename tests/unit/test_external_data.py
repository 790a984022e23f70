"""External data for templates: how the `data:` section is read, and how SQL sources render
their parameters, bind them and cache their answers (on a SQLite file; PostgreSQL and HTTP
are in tests/integration/test_external_data.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from herald.content.external import (
    ExternalData,
    ExternalDataError,
    HttpSource,
    SqlSource,
    parse_data_sources,
)

RECOMMENDATIONS = {
    "recommendations": {
        "sql": {
            "connection": "shop",
            "query": (
                "select title, price from recommendations "
                "where customer_id = :customer_id order by rank limit 5"
            ),
            "params": {"customer_id": "{{ external_id }}"},
            "timeout": 2,
        }
    }
}


def _sql(**settings: Any) -> dict[str, Any]:
    return {"source": {"sql": {"connection": "shop", "query": "select 1", **settings}}}


def _http(**settings: Any) -> dict[str, Any]:
    return {"source": {"http": {"url": "http://weather.local/v1", **settings}}}


def _parse_error(document: dict[str, Any]) -> str:
    with pytest.raises(ExternalDataError) as raised:
        parse_data_sources(document)
    return str(raised.value)


# --- reading the data: section -----------------------------------------------------------------


def test_a_sql_source_is_read_with_its_defaults() -> None:
    sources = parse_data_sources(RECOMMENDATIONS)

    assert sources == {
        "recommendations": SqlSource(
            name="recommendations",
            connection="shop",
            query=RECOMMENDATIONS["recommendations"]["sql"]["query"],
            params={"customer_id": "{{ external_id }}"},
            timeout=2.0,
            rows="many",
        )
    }


def test_an_http_source_is_read_with_its_method_in_capitals() -> None:
    sources = parse_data_sources(
        {
            "weather": {
                "http": {
                    "url": "http://weather.local/v1?city={{ city | urlencode }}",
                    "method": "post",
                    "headers": {"Authorization": "Bearer x"},
                    "json": {"city": "{{ city }}"},
                    "timeout": 1,
                    "retries": 0,
                }
            }
        }
    )

    assert sources["weather"] == HttpSource(
        name="weather",
        url="http://weather.local/v1?city={{ city | urlencode }}",
        method="POST",
        headers={"Authorization": "Bearer x"},
        json={"city": "{{ city }}"},
        timeout=1.0,
        retries=0,
    )


def test_no_data_section_means_no_sources() -> None:
    assert parse_data_sources(None) == {}
    assert parse_data_sources({}) == {}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (["recommendations"], "data: expected source names"),
        ({"bad name": {"sql": {}}}, "data.bad name: a source name is letters"),
        ({"source": {"sql": {}, "http": {}}}, "one of them, not both"),
        ({"source": {"mongo": {}}}, "unknown key mongo"),
        (_sql(colour="red"), "data.source.sql: unknown key colour; known: connection, query"),
        (_http(cache=True), "data.source.http: unknown key cache"),
        ({"source": {"sql": {"query": "select 1"}}}, "`connection` is missing"),
        ({"source": {"sql": {"connection": "shop"}}}, "`query` is missing"),
        ({"source": {"http": {"method": "GET"}}}, "`url` is missing"),
        (_sql(rows="all"), "rows 'all': use one"),
        (_sql(timeout=0), "timeout 0: give seconds above 0 and at most 30"),
        (_sql(timeout=31), "timeout 31: give seconds above 0 and at most 30"),
        (_http(timeout="fast"), "timeout 'fast'"),
        (_http(retries=9), "retries 9: give a whole number from 0 to 5"),
        (_http(method="DELETE"), "method 'DELETE': use GET, or POST"),
        (_http(json={"a": 1}), "a JSON body is sent with POST"),
        (_http(url="ftp://files.local/a"), "must start with http:// or https://"),
        (_http(url="http://{{ host }}/v1"), "templates may fill the path and the query"),
        (_http(url="http://weather.local/{{ city"), "a template does not compile"),
        (_http(headers={"X-Bad Name": "1"}), "is not a header name"),
    ],
)
def test_a_bad_document_gets_a_clear_error(document: Any, expected: str) -> None:
    assert expected in _parse_error(document)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("delete from recommendations", "must be a SELECT (or WITH ... SELECT), not DELETE"),
        ("update recommendations set price = 0", "not UPDATE"),
        ("select 1; drop table recommendations", "more than one statement"),
        ("select * into copy_of_it from recommendations", "may only read, but it holds INTO"),
        (
            "with gone as (delete from recommendations returning *) select * from gone",
            "may only read, but it holds DELETE",
        ),
        ("   ", "`query` is missing"),
    ],
)
def test_only_one_select_is_accepted(query: str, expected: str) -> None:
    assert expected in _parse_error(_sql(query=query))


def test_semicolons_and_keywords_inside_text_do_not_count() -> None:
    sources = parse_data_sources(
        _sql(query="select 'a; delete' as note, \"update\" from t -- insert; here\n;")
    )

    assert isinstance(sources["source"], SqlSource)


def test_every_bound_name_needs_a_parameter_and_every_parameter_a_bound_name() -> None:
    missing = _parse_error(_sql(query="select * from t where id = :id"))
    extra = _parse_error(_sql(query="select * from t where id = :id::int", params={"id": "1"}))

    assert "the query uses :id but `params` gives no value for it" in missing
    assert "write cast(:id as int) rather than :id::int" in extra


# --- fetching from a SQLite file ------------------------------------------------------------


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Path]:
    """A SQLite file with recommendations for customers c1 and c2."""
    path = tmp_path / "shop.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute(
            "create table recommendations (customer_id text, rank int, title text, price real)"
        )
        connection.executemany(
            "insert into recommendations values (?, ?, ?, ?)",
            [("c1", 1, "Kettle", 19.5), ("c1", 2, "Mug", 3.0), ("c2", 1, "Pan", 10.0)],
        )
    yield path


def _external(
    path: Path, document: dict[str, Any] = RECOMMENDATIONS, **options: Any
) -> ExternalData:
    urls = {"shop": f"sqlite:///{path}"}
    return ExternalData(parse_data_sources(document), connection_url=urls.__getitem__, **options)


def _set_price(path: Path, title: str, price: float) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute("update recommendations set price = ? where title = ?", (price, title))


def test_parameters_are_rendered_from_the_recipient(shop: Path) -> None:
    with _external(shop) as external:
        values = external.fetch({"external_id": "c1"})

    assert values == {
        "recommendations": [{"title": "Kettle", "price": 19.5}, {"title": "Mug", "price": 3.0}]
    }


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ("many", [{"title": "Kettle"}, {"title": "Mug"}]),
        ("one", {"title": "Kettle"}),
        ("value", "Kettle"),
    ],
)
def test_rows_gives_a_list_a_row_or_a_value(shop: Path, rows: str, expected: Any) -> None:
    document = _sql(
        query="select title from recommendations where customer_id = :id order by rank",
        params={"id": "{{ external_id }}"},
        rows=rows,
    )
    with _external(shop, document) as external:
        assert external.fetch({"external_id": "c1"}) == {"source": expected}


@pytest.mark.parametrize(("rows", "expected"), [("many", []), ("one", None), ("value", None)])
def test_no_rows_is_an_empty_list_or_none(shop: Path, rows: str, expected: Any) -> None:
    document = _sql(
        query="select title from recommendations where customer_id = :id",
        params={"id": "{{ external_id }}"},
        rows=rows,
    )
    with _external(shop, document) as external:
        assert external.fetch({"external_id": "nobody"}) == {"source": expected}


def test_a_second_fetch_with_the_same_parameters_answers_from_the_cache(shop: Path) -> None:
    with _external(shop) as external:
        external.fetch({"external_id": "c1"})
        _set_price(shop, "Kettle", 99.0)  # not seen: c1's answer is cached
        again = external.fetch({"external_id": "c1", "first_name": "Anna"})

        assert again["recommendations"][0] == {"title": "Kettle", "price": 19.5}
        assert external.stats["misses"] == 1
        assert external.stats["hits"] == 1


def test_other_parameters_query_again(shop: Path) -> None:
    with _external(shop) as external:
        external.fetch({"external_id": "c1"})
        _set_price(shop, "Pan", 12.0)
        other = external.fetch({"external_id": "c2"})

    assert other == {"recommendations": [{"title": "Pan", "price": 12.0}]}


def test_the_cache_keeps_only_the_most_recently_used_entries(shop: Path) -> None:
    with _external(shop, cache_entries=1) as external:
        external.fetch({"external_id": "c1"})
        external.fetch({"external_id": "c2"})  # pushes c1 out
        _set_price(shop, "Kettle", 99.0)
        again = external.fetch({"external_id": "c1"})

    assert again["recommendations"][0]["price"] == 99.0


def test_a_template_cannot_change_what_the_next_recipient_gets(shop: Path) -> None:
    with _external(shop) as external:
        first = external.fetch({"external_id": "c1"})
        first["recommendations"][0]["title"] = "changed"
        second = external.fetch({"external_id": "c1"})

    assert second["recommendations"][0]["title"] == "Kettle"


def test_an_injection_attempt_stays_a_bound_value(shop: Path) -> None:
    with _external(shop) as external:
        values = external.fetch({"external_id": "c1' or '1'='1"})
        external.fetch({"external_id": "c1'; drop table recommendations; --"})

    assert values == {"recommendations": []}
    with sqlite3.connect(shop) as connection:
        assert connection.execute("select count(*) from recommendations").fetchone() == (3,)


def test_a_lone_expression_keeps_its_type(shop: Path) -> None:
    document = _sql(
        query="select count(*) from recommendations where rank <= :rank",
        params={"rank": "{{ top }}"},
        rows="value",
    )
    with _external(shop, document) as external:
        assert external.fetch({"top": 1}) == {"source": 2}  # 1 bound as a number


def test_a_missing_field_is_an_error_naming_the_source_and_the_parameter(shop: Path) -> None:
    with _external(shop) as external, pytest.raises(ExternalDataError) as raised:
        external.fetch({"first_name": "Anna"})

    assert str(raised.value) == (
        "recommendations: parameter 'customer_id' cannot be rendered for this recipient: "
        "'external_id' is undefined"
    )
    assert raised.value.source == "recommendations"


def test_templates_run_sandboxed(shop: Path) -> None:
    document = _sql(
        query="select :x", params={"x": "{{ ''.__class__.__mro__[1].__subclasses__() }}"}
    )
    with _external(shop, document) as external, pytest.raises(ExternalDataError) as raised:
        external.fetch({})

    assert "unsafe" in str(raised.value)


def test_failures_are_not_cached(shop: Path) -> None:
    with _external(shop) as external:
        with pytest.raises(ExternalDataError):
            external.fetch({})
        external.fetch({"external_id": "c1"})

        assert external.stats["errors"] == 1
        assert external.stats["cached"] == 1


def test_sources_built_in_code_are_checked_as_well(shop: Path) -> None:
    with pytest.raises(ExternalDataError) as raised:
        ExternalData(
            {"source": SqlSource("source", "shop", "delete from recommendations")},
            connection_url=lambda _name: f"sqlite:///{shop}",
        )

    assert "source: the query must be a SELECT" in str(raised.value)


def test_an_unknown_connection_is_a_clear_error(shop: Path) -> None:
    document = _sql(connection="crm")
    with _external(shop, document) as external, pytest.raises(ExternalDataError) as raised:
        external.fetch({})

    assert "source: there is no database connection named 'crm'" in str(raised.value)


def test_a_missing_table_is_a_clear_error(shop: Path) -> None:
    document = _sql(query="select * from wishes")
    with _external(shop, document) as external, pytest.raises(ExternalDataError) as raised:
        external.fetch({})

    assert "source: the query fails on connection 'shop'" in str(raised.value)
    assert "no such table: wishes" in str(raised.value)


def test_a_slow_sqlite_query_is_interrupted_at_its_timeout(shop: Path) -> None:
    document = _sql(
        query=(
            "with recursive n(i) as (select 1 union all select i + 1 from n) select count(*) from n"
        ),
        rows="value",
        timeout=0.2,
    )
    with _external(shop, document) as external, pytest.raises(ExternalDataError) as raised:
        external.fetch({})

    assert str(raised.value).startswith("source: no answer within 0.2 s from connection 'shop'")


def test_a_link_local_address_is_never_fetched() -> None:
    sources = parse_data_sources(
        {"meta": {"http": {"url": "http://169.254.169.254/latest/meta-data/", "timeout": 0.5}}}
    )

    with (
        ExternalData(sources, connection_url=lambda name: "") as data,
        pytest.raises(ExternalDataError, match="link-local address"),
    ):
        data.fetch({})
