"""Locale-aware template filters (herald/content/filters.py) in English and Russian."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from herald.templates import MessageTemplate, MessageTemplateError


def render(source: str, context: dict | None = None, locale: str | None = None) -> str:
    template = MessageTemplate.from_spec({"subject": source})
    return template.render(context or {}, locale=locale)["subject"]


@pytest.mark.parametrize(
    ("n", "word"),
    [
        (1, "товар"),
        (2, "товара"),
        (5, "товаров"),
        (11, "товаров"),
        (21, "товар"),
        (22, "товара"),
        (111, "товаров"),
        (0, "товаров"),
        ("3", "товара"),
    ],
)
def test_russian_plural_forms(n, word):
    assert render("{{ plural(n, 'товар', 'товара', 'товаров') }}", {"n": n}, "ru") == word


@pytest.mark.parametrize(("n", "word"), [(1, "item"), (0, "items"), (2, "items"), (21, "items")])
def test_english_plural_forms(n, word):
    assert render("{{ n|plural('item', 'items') }}", {"n": n}, "en") == word


def test_a_russian_fraction_takes_the_few_form():
    assert render("{{ plural(1.5, 'товар', 'товара', 'товаров') }}", locale="ru") == "товара"


def test_the_locale_falls_back_to_the_recipients_language_then_english():
    source = "{{ plural(5, 'item', 'items', 'товаров') }}"
    assert render(source, {"language": "ru"}) == "товаров"
    assert render(source, {"language": "de"}) == "items"
    assert render(source, {}) == "items"


def test_dates_from_iso_text_and_objects():
    assert render("{{ d|date }}", {"d": "2026-11-26"}, "en") == "Nov 26, 2026"
    assert render("{{ d|date }}", {"d": date(2026, 11, 26)}, "ru") == "26 нояб. 2026\u202fг."
    assert (
        render("{{ d|date('long') }}", {"d": "2026-11-26T10:00:00Z"}, "ru")
        == "26 ноября 2026\u202fг."
    )


def test_datetimes_are_shown_in_the_time_zone_asked_for():
    moment = "2026-11-26T10:05:00+00:00"
    shown = render("{{ t|datetime('short', tz='Europe/Moscow') }}", {"t": moment}, "ru")
    assert shown == "26.11.2026, 13:05"
    naive = datetime(2026, 11, 26, 10, 5)  # taken as UTC
    assert render("{{ t|datetime('short') }}", {"t": naive}, "en") == "11/26/26, 10:05\u202fAM"
    aware = datetime(2026, 11, 26, 10, 5, tzinfo=UTC)
    assert "10:05" in render("{{ t|datetime }}", {"t": aware}, "en")


def test_numbers_currency_and_percent():
    assert render("{{ v|number }}", {"v": 1234.5678}, "en") == "1,234.568"
    assert render("{{ v|number(2) }}", {"v": "1234.5"}, "ru") == "1\xa0234,50"
    assert render("{{ v|currency }}", {"v": Decimal("1234.5")}, "ru") == "1\xa0234,50\xa0₽"
    assert render("{{ v|currency('USD') }}", {"v": 1234.5}, "en") == "$1,234.50"
    assert render("{{ v|percent }}", {"v": 0.256}, "ru") == "26\xa0%"
    assert render("{{ v|percent }}", {"v": "0.5"}, "en") == "50%"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ 'soon'|date }}", "date: expected a date or ISO 8601 text, got 'soon'"),
        ("{{ 'lots'|number }}", "number: expected a number or numeric text, got 'lots'"),
        ("{{ 5|currency('rubles') }}", "not a currency code"),
        ("{{ '2026-11-26'|datetime(tz='Mars/Olympus') }}", "unknown time zone 'Mars/Olympus'"),
        ("{{ plural('many', 'a', 'b') }}", "plural: expected a number"),
    ],
)
def test_a_bad_value_is_a_clear_error(source, message):
    with pytest.raises(MessageTemplateError, match="the subject part fails") as error:
        render(source)
    assert message in str(error.value)


def test_filters_work_in_html_with_autoescape():
    template = MessageTemplate.from_spec({"html": "<b>{{ price|currency }}</b>"})
    assert template.render({"price": 10}, locale="ru")["html"] == "<b>10,00\xa0₽</b>"
