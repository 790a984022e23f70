"""Locale-aware filters for message templates, on babel (CLDR data).

    {{ order.created_at|date }}                  26 нояб. 2026 г.      (ru)   Nov 26, 2026 (en)
    {{ order.created_at|datetime('short', tz='Europe/Moscow') }}
    {{ total|number(2) }}   {{ price|currency }}   {{ price|currency('USD') }}   {{ rate|percent }}
    {{ n }} {{ n|plural('товар', 'товара', 'товаров') }}         1 товар, 2 товара, 5 товаров
    {{ plural(n, 'item', 'items') }}                              1 item, 2 items

The locale is the render's (`MessageTemplate.render(context, locale=...)`, else the
recipient's `language` when it is a supported one, else English): the filters read it from
the running render's budget (herald.content.sandbox), so a template never passes it.

Values may be what the wire carries: ISO 8601 text for dates and times, numeric text for
numbers, as well as `date`, `datetime`, `int`, `float` and `Decimal`. A value that is none of
these raises `FilterValueError` naming the filter and the value. Naive datetimes are taken as
UTC. Results are cached per (value, options, locale): the same price or date across
recipients is formatted once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime, get_timezone
from babel.numbers import format_currency, format_decimal, format_percent

from herald.content.sandbox import _BUDGET
from herald.errors import HeraldError

SUPPORTED_LOCALES = ("en", "ru")
DEFAULT_LOCALE = "en"
_CACHE = 8192


class FilterValueError(HeraldError):
    """A filter was given a value it cannot format."""


def locale_for(context_language: Any, locale: str | None = None) -> str:
    """The locale a render uses: the one asked for, else the recipient's language when
    supported, else English."""
    if locale:
        return locale
    if isinstance(context_language, str) and context_language in SUPPORTED_LOCALES:
        return context_language
    return DEFAULT_LOCALE


@lru_cache(maxsize=64)
def _babel_locale(code: str) -> Locale:
    try:
        return Locale.parse(code.replace("-", "_"))
    except (ValueError, LookupError) as exc:
        raise FilterValueError(f"unknown locale {code!r}: use a code such as 'en' or 'ru'") from exc


def _current_locale() -> str:
    budget = _BUDGET.get()
    return budget.locale if budget is not None else DEFAULT_LOCALE


# --- values from the wire -----------------------------------------------------------------


def _as_number(name: str, value: Any) -> int | float | Decimal:
    if isinstance(value, bool):
        raise FilterValueError(f"{name}: expected a number, got {value!r}")
    if isinstance(value, (int, float, Decimal)):
        return value
    if isinstance(value, str):
        try:
            return Decimal(value.strip().replace(",", "."))
        except InvalidOperation:
            pass
    raise FilterValueError(f"{name}: expected a number or numeric text, got {value!r}")


def _as_datetime(name: str, value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise FilterValueError(f"{name}: expected a date or ISO 8601 text, got {value!r}")


def _as_date(name: str, value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return date.fromisoformat(text)
        except ValueError:
            try:
                return datetime.fromisoformat(text).date()
            except ValueError:
                pass
    raise FilterValueError(f"{name}: expected a date or ISO 8601 text, got {value!r}")


# --- the filters ----------------------------------------------------------------------------


def date_filter(value: Any, format: str = "medium") -> str:
    """A date in the render's locale: format 'short', 'medium', 'long', 'full' or a CLDR
    pattern ('d MMMM')."""
    locale = _current_locale()
    try:
        return _format_date_cached(value, format, locale)
    except TypeError:  # an unhashable value: formatted (or refused) without the cache
        return _format_date(value, format, locale)


def _format_date(value: Any, format: str, locale: str) -> str:
    try:
        return format_date(_as_date("date", value), format, locale=_babel_locale(locale))
    except (ValueError, KeyError, AttributeError) as exc:
        raise FilterValueError(f"date: cannot format {value!r} as {format!r}: {exc}") from None


@lru_cache(maxsize=_CACHE, typed=True)
def _format_date_cached(value: Any, format: str, locale: str) -> str:
    return _format_date(value, format, locale)


def datetime_filter(value: Any, format: str = "medium", tz: str | None = None) -> str:
    """A date and time in the render's locale, shown in time zone `tz` (an IANA name such
    as 'Europe/Moscow'; UTC when not given)."""
    locale = _current_locale()
    try:
        return _format_datetime_cached(value, format, tz, locale)
    except TypeError:
        return _format_datetime(value, format, tz, locale)


def _format_datetime(value: Any, format: str, tz: str | None, locale: str) -> str:
    moment = _as_datetime("datetime", value)
    try:
        zone = get_timezone(tz) if tz else UTC
    except LookupError:
        raise FilterValueError(
            f"datetime: unknown time zone {tz!r}; use an IANA name such as 'Europe/Moscow'"
        ) from None
    try:
        return format_datetime(moment, format, tzinfo=zone, locale=_babel_locale(locale))
    except (ValueError, KeyError, AttributeError) as exc:
        raise FilterValueError(f"datetime: cannot format {value!r} as {format!r}: {exc}") from None


@lru_cache(maxsize=_CACHE, typed=True)
def _format_datetime_cached(
    value: Any,
    format: str,
    tz: str | None,
    locale: str,
) -> str:
    return _format_datetime(value, format, tz, locale)


def number_filter(value: Any, digits: int | None = None) -> str:
    """A number with the locale's grouping and decimal sign; `digits` fixes the fraction
    digits (rounded half-even), else up to three are shown."""
    locale = _current_locale()
    try:
        return _format_number_cached(value, digits, locale)
    except TypeError:
        return _format_number(value, digits, locale)


def _format_number(value: Any, digits: int | None, locale: str) -> str:
    number = _as_number("number", value)
    if digits is None:
        return format_decimal(number, locale=_babel_locale(locale))
    if not isinstance(digits, int) or not 0 <= digits <= 20:
        raise FilterValueError(
            f"number: digits must be a whole number from 0 to 20, got {digits!r}"
        )
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(number, pattern, locale=_babel_locale(locale))


@lru_cache(maxsize=_CACHE, typed=True)
def _format_number_cached(value: Any, digits: int | None, locale: str) -> str:
    return _format_number(value, digits, locale)


def currency_filter(value: Any, code: str = "RUB") -> str:
    """An amount of money in currency `code` (ISO 4217), the locale's way: 1 234,50 ₽."""
    locale = _current_locale()
    try:
        return _format_currency_cached(value, code, locale)
    except TypeError:
        return _format_currency(value, code, locale)


def _format_currency(value: Any, code: str, locale: str) -> str:
    number = _as_number("currency", value)
    if not (isinstance(code, str) and len(code) == 3 and code.isalpha()):
        raise FilterValueError(f"currency: {code!r} is not a currency code such as 'RUB' or 'USD'")
    return format_currency(number, code.upper(), locale=_babel_locale(locale))


@lru_cache(maxsize=_CACHE, typed=True)
def _format_currency_cached(value: Any, code: str, locale: str) -> str:
    return _format_currency(value, code, locale)


def percent_filter(value: Any) -> str:
    """A fraction as a percentage: 0.256 is 26 %."""
    locale = _current_locale()
    try:
        return _format_percent_cached(value, locale)
    except TypeError:
        return format_percent(_as_number("percent", value), locale=_babel_locale(locale))


@lru_cache(maxsize=_CACHE, typed=True)
def _format_percent_cached(value: Any, locale: str) -> str:
    return format_percent(_as_number("percent", value), locale=_babel_locale(locale))


def plural(n: Any, one: str, few: str | None = None, many: str | None = None) -> str:
    """The word form for count `n` by the locale's plural rules (CLDR).

    English: plural(n, 'item', 'items'). Russian: plural(n, 'товар', 'товара', 'товаров')
    gives 1 товар, 2 товара, 5 товаров, 21 товар, 11 товаров; a fraction takes the `few`
    form (1,5 товара). A form not given falls back to the one before it.
    """
    number = _as_number("plural", n)
    category = _plural_category(number, _current_locale())
    few_form = few if few is not None else one
    if category == "one":
        return one
    if category == "many":
        return many if many is not None else few_form
    return few_form  # 'few', 'two', 'other'


@lru_cache(maxsize=_CACHE, typed=True)
def _plural_category(number: int | float | Decimal, locale: str) -> str:
    return str(_babel_locale(locale).plural_form(number))


FILTERS: dict[str, Callable[..., Any]] = {
    "date": date_filter,
    "datetime": datetime_filter,
    "number": number_filter,
    "currency": currency_filter,
    "percent": percent_filter,
    "plural": plural,
}
FUNCTIONS: dict[str, Callable[..., Any]] = {"plural": plural}
