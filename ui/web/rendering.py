"""Templates and locale formatting: `render(request, template, **context)`.

Every template gets `user` (a herald.users.UserInfo or None), `language` ("en" or "ru"),
`locale` (a babel Locale), `_` (`_("Hello, {name}", name=user.username)`: the text in the
page's language through herald.i18n's catalogs), `nav` (the menu sections the user may
open), `csrf_token` (put it in every POST form: `{{ csrf_field() }}`), `charts` (true: the
page loads plotly.min.js) and `request`; and these filters, formatted for the page's locale
with Babel: `number` (1,234 / 1 234), `decimal` (digits=2), `percent` (0.25 -> 25%),
`currency` (code="RUB"), `date` and `datetime` (format="medium"; "short", "long" or a
pattern).
"""

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup, escape

from herald.i18n import translate

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
Number = int | float | Decimal


def _locale(context: Context) -> Locale:
    locale = context.get("locale")
    return locale if isinstance(locale, Locale) else Locale.parse("en")


def format_number(value: Number, locale: Locale | str) -> str:
    return format_decimal(value, format="#,##0.###", locale=locale)


def format_fixed(value: Number, locale: Locale | str, digits: int = 2) -> str:
    pattern = "#,##0." + "0" * digits if digits > 0 else "#,##0"
    return format_decimal(value, format=pattern, locale=locale, decimal_quantization=True)


def format_share(value: Number, locale: Locale | str, digits: int = 0) -> str:
    """0.256 -> 26% (en), 26 % (ru); `digits` after the decimal point."""
    pattern = Locale.parse(locale).percent_formats[None].pattern
    if digits > 0:
        pattern = pattern.replace("0", "0." + "0" * digits, 1)
    return format_percent(value, format=pattern, locale=locale)


def format_money(value: Number, locale: Locale | str, code: str = "RUB") -> str:
    return format_currency(value, code, locale=locale)


def format_day(value: date, locale: Locale | str, format: str = "medium") -> str:
    return format_date(value, format=format, locale=locale)


def format_moment(value: datetime, locale: Locale | str, format: str = "medium") -> str:
    return format_datetime(value, format=format, locale=locale)


def _filter(function: Callable[..., str]) -> Callable[..., str]:
    @pass_context
    def apply(context: Context, value: Any, *args: Any, **kwargs: Any) -> str:
        if value is None or value == "":
            return ""
        return function(value, _locale(context), *args, **kwargs)

    return apply


def _csrf_field(token: str) -> Callable[[], Markup]:
    def field() -> Markup:
        return Markup('<input type="hidden" name="csrf_token" value="{}">').format(escape(token))

    return field


def build_environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        number=_filter(format_number),
        decimal=_filter(format_fixed),
        percent=_filter(format_share),
        currency=_filter(format_money),
        date=_filter(format_day),
        datetime=_filter(format_moment),
    )
    return environment


def translator(language: str) -> Callable[..., str]:
    def gettext(message: str, **values: Any) -> str:
        return translate(message, language, **values)

    return gettext


def render(
    request: Request, template: str, *, status_code: int = 200, charts: bool = False, **context: Any
) -> HTMLResponse:
    """The HTML page `template` (under ui/web/templates) for this request's user and language."""
    from ui.web.auth import csrf_token, page_language, request_user
    from ui.web.pages import navigation

    user = request_user(request)
    language = page_language(request)
    token = csrf_token(request)
    environment: Environment = request.app.state.templates
    values: dict[str, Any] = {
        "request": request,
        "user": user,
        "language": language,
        "locale": Locale.parse(language),
        "_": translator(language),
        "nav": navigation(request.app.state.nav, user.role) if user else [],
        "csrf_token": token,
        "csrf_field": _csrf_field(token),
        "charts": charts,
        "path": request.url.path,
    }
    values.update(context)
    html = environment.get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code, headers={"Content-Language": language})
