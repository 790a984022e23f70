"""The marketers' reports: an index, one page per report mart (herald/reports/catalog.py)
with filters, a plotly chart, a table and CSV/XLSX exports, and two builders that compute
on demand (funnels: herald/reports/funnel.py; cohorts: herald/reports/cohort.py).

Roles: a viewer may open every mart page, since they only read small aggregated tables
(`report_*`) that Dagster has already built; the funnel and cohort builders need an analyst,
because every request runs a query over the whole event history (`profile_events`) whose cost
grows with the steps and the data. The builders' router is listed first, so `/reports/funnel`
is not taken for a report named "funnel".

Filters are GET parameters (a page's URL can be shared); exports take the same parameters
(`/reports/<slug>.csv`, `.xlsx`). The warehouse is opened read-only for each request.
"""

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

import plotly.graph_objects as go
from babel.dates import format_timedelta
from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from herald.errors import HeraldError, WarehouseBusy, WarehouseError
from herald.i18n import N_, translate, translate_reason
from herald.reports.catalog import (
    FILTERS,
    PREDICTED_COLUMNS,
    REPORT_LIST,
    ROW_LIMIT,
    Column,
    ReportDefinition,
    ReportFilterError,
    ReportNotBuilt,
    ReportResult,
    UnknownReport,
    filter_options,
    known_events,
    open_report_warehouse,
    predicted_ltv,
    profile_databases,
    query_report,
    report_definition,
    value_title,
)
from herald.reports.cohort import COHORT_BY, ORDER_ACTIVITY, PERIODS, cohort_retention
from herald.reports.funnel import (
    EVENT_PROPERTIES,
    FUNNEL_ORDERS,
    MAX_STEPS,
    FunnelResult,
    FunnelStep,
    ReportInputsMissing,
    funnel,
    parse_step,
)
from herald.settings import Settings
from herald.users import at_least
from herald.warehouse.base import Warehouse
from ui.web.auth import CurrentUser, page_language
from ui.web.pages import NavItem, PageRouter
from ui.web.rendering import render

SECTION = N_("Reports")
EXPORTS = ("csv", "xlsx")
DEFAULT_FUNNEL_STEPS = 3

builders = PageRouter(min_role="analyst")
viewing = PageRouter(
    min_role="viewer",
    nav=[
        NavItem("/reports", N_("Reports"), section=SECTION, icon="chart"),
        NavItem("/reports/funnel", N_("Funnels"), section=SECTION, min_role="analyst"),
        NavItem("/reports/cohorts", N_("Cohorts"), section=SECTION, min_role="analyst"),
    ],
)
routers = [builders, viewing]

BUILDERS = (
    ("/reports/funnel", N_("Funnels"), N_(
        "Build a funnel from the events customers do: up to 30 steps, with property filters, "
        "a conversion window and a breakdown."
    )),
    ("/reports/cohorts", N_("Cohort builder"), N_(
        "Cohorts by first order, first visit or sign-up, by day, week or month, retained by "
        "orders or by any event."
    )),
)  # fmt: skip
_COHORT_BY_TITLES = {
    "first_order": N_("First order"),
    "first_seen": N_("First seen"),
    "sign_up": N_("Sign-up"),
}
_ORDER_TITLES = {
    "ordered": N_("In this order"),
    "strict": N_("Strictly one after another"),
    "any": N_("In any order"),
}


def _report_warehouse(request: Request) -> Iterator[Warehouse | None]:
    """The warehouse opened read-only for one request; None when it is not there yet."""
    settings: Settings = request.app.state.settings
    try:
        opened = open_report_warehouse(settings)
    except ReportNotBuilt:
        yield None
        return
    try:
        yield opened
    finally:
        opened.close()


ReportWarehouse = Annotated[Warehouse | None, Depends(_report_warehouse)]


# --- formatting --------------------------------------------------------------------------------


def _label(value: Any, column: Column, language: str) -> str:
    """A dimension value as a person reads it (translated mart words, ISO dates)."""
    if isinstance(value, date):
        return value.isoformat()
    if column.translate_values:
        return translate(value_title(value), language)
    return "" if value is None else str(value)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _link(url: str) -> str:
    """A link as a legend shows it: host and path, without the scheme and the query."""
    if not url:
        return "–"
    bare = url.split("://", 1)[-1].removeprefix("www.")
    path, _, query = bare.partition("?")
    content = next((part for part in query.split("&") if part.startswith("utm_content=")), "")
    label = path + (f" ({content.removeprefix('utm_content=')})" if content else "")
    return _short(label, 48)


def _plotly(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    return value


def _layout(language: str, x_title: str, y_title: str, percent: bool) -> dict[str, Any]:
    return {
        "margin": {"l": 56, "r": 16, "t": 40, "b": 56},
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        "separators": ", " if language == "ru" else ".,",
        "xaxis": {"title": {"text": x_title}, "automargin": True},
        "yaxis": {
            "title": {"text": y_title},
            "automargin": True,
            "tickformat": ".0%" if percent else ",d",
            "rangemode": "tozero",
        },
        "hovermode": "closest",
        "height": 420,
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
    }


def report_figure(result: ReportResult, language: str) -> dict[str, Any] | None:
    """The chart of a report as plotly figure JSON (built here, drawn by Plotly.newPlot)."""
    definition = result.definition

    def tr(text: str) -> str:
        return translate(text, language)

    by = result.columns[0]
    figure = go.Figure()
    if result.chart_kind == "heatmap" and result.heatmap is not None:
        breakdown = result.columns[1]
        measure = result.chart_measure or definition.measures[0]
        heat = result.heatmap
        figure.add_trace(
            go.Heatmap(
                x=heat["x"],
                y=[_label(value, by, language) for value in heat["y"]],
                z=heat["z"],
                colorscale="Blues",
                zmin=0,
                zmax=1 if measure.kind == "percent" else None,
                hovertemplate="%{y} · %{x}: %{z:.1%}<extra></extra>",
                colorbar={"tickformat": ".0%"},
            )
        )
        layout = _layout(language, tr(breakdown.title), tr(by.title), False)
        layout["yaxis"].update({"type": "category", "autorange": "reversed", "tickformat": ""})
        layout["xaxis"]["dtick"] = 1
        layout["height"] = max(420, 22 * len(heat["y"]) + 120)
        figure.update_layout(**layout)
        return dict(json.loads(figure.to_json()))
    if not result.series or not result.rows:
        return None
    measures = (
        [result.chart_measure]
        if result.chart_measure
        else [definition.measure(name) for name in definition.chart_measures]
    )
    percent = all(measure.kind == "percent" for measure in measures)
    categorical = by.kind not in ("date", "int")
    split = result.filters.get("breakdown") is not None
    for series in result.series:
        if split and result.columns[1].name == "url":
            name = _link(series.name)
        elif split:
            name = tr(value_title(series.name)) if series.translate_name else series.name
        else:
            name = tr(series.name)
        x = [
            _short(_label(value, by, language)) if categorical else _plotly(value)
            for value in series.x
        ]
        if result.chart_kind == "line":
            figure.add_trace(go.Scatter(x=x, y=series.y, name=name, mode="lines+markers"))
        else:
            figure.add_trace(go.Bar(x=x, y=series.y, name=name))
    axis = definition.chart_axis if len(measures) > 1 else None
    y_title = tr(axis) if axis else tr(measures[0].title)
    layout = _layout(language, tr(by.title), y_title, percent)
    if not percent and any(measure.kind != "int" for measure in measures):
        layout["yaxis"]["tickformat"] = ""  # plotly chooses (decimals, k, M)
    elif not percent:
        highest = max((float(y or 0) for series in result.series for y in series.y), default=0)
        if highest < 10:
            layout["yaxis"]["dtick"] = 1  # whole numbers: no 0.5 ticks shown as 0 and 1
    if result.chart_kind == "stacked_bar":
        layout["barmode"] = "stack"
    else:
        layout["barmode"] = "group"
    if by.kind == "date":
        layout["xaxis"]["tickformat"] = "%d.%m.%Y" if language == "ru" else "%Y-%m-%d"
    if by.kind == "int":
        layout["xaxis"]["dtick"] = 1 if len(result.rows) <= 40 else None
    figure.update_layout(**layout)
    return dict(json.loads(figure.to_json()))


# --- pages -----------------------------------------------------------------------------------


def _error_text(exc: Exception, language: str) -> str:
    return translate_reason(str(exc), language)


def _query(request: Request) -> dict[str, str]:
    return {key: value[:500] for key, value in request.query_params.items()}


def _asset_url(request: Request, mart: str) -> str:
    settings: Settings = request.app.state.settings
    return f"{settings.dagster_ui_url.rstrip('/')}/assets/{mart}"


@viewing.get("/reports", response_class=HTMLResponse)
def reports_index(request: Request, user: CurrentUser) -> HTMLResponse:
    builders_shown = BUILDERS if at_least(user.role, "analyst") else ()
    return render(request, "reports/index.html", reports=REPORT_LIST, builders=builders_shown)


def _report_page(
    request: Request,
    definition: ReportDefinition,
    *,
    status_code: int = 200,
    result: ReportResult | None = None,
    error: str | None = None,
    not_built: bool = False,
    **context: Any,
) -> HTMLResponse:
    language = page_language(request)
    query = _query(request)
    export_query = request.url.query
    return render(
        request,
        "reports/report.html",
        status_code=status_code,
        charts=result is not None,
        definition=definition,
        result=result,
        figure=report_figure(result, language) if result is not None else None,
        error=error,
        not_built=not_built,
        query=query,
        filters_titles=FILTERS,
        export_query=export_query,
        asset_url=_asset_url(request, definition.mart),
        label=lambda value, column: _label(value, column, language),
        value_title=value_title,
        row_limit=ROW_LIMIT,
        **context,
    )


@viewing.get("/reports/{name}", response_class=HTMLResponse)
def report_page(request: Request, user: CurrentUser, name: str, wh: ReportWarehouse) -> Response:
    slug, _, extension = name.partition(".")
    try:
        definition = report_definition(slug)
    except UnknownReport:
        return render(
            request,
            "error.html",
            status_code=404,
            status=404,
            message=N_("There is no such page."),
        )
    if extension and extension not in EXPORTS:
        return render(
            request, "error.html", status_code=404, status=404, message=N_("There is no such page.")
        )
    language = page_language(request)
    if wh is None:
        return _report_page(request, definition, not_built=True)
    try:
        with wh.held():  # one connection for the page's few queries
            result = query_report(wh, slug, _query(request))
            database = result.filters.get("database")
            predicted = predicted_ltv(wh, database) if slug == "ltv" else None
    except ReportNotBuilt:
        return _report_page(request, definition, not_built=True)
    except ReportFilterError as exc:
        return _report_page(
            request,
            definition,
            status_code=400,
            error=_error_text(exc, language),
            options=filter_options(wh, definition),
        )
    except WarehouseBusy as exc:
        return _report_page(request, definition, status_code=503, error=str(exc))
    except WarehouseError as exc:
        return _report_page(
            request, definition, status_code=503, error=_warehouse_problem(exc, language)
        )
    if extension == "csv":
        return _csv_response(definition, result, language)
    if extension == "xlsx":
        return _xlsx_response(definition, result, language)
    return _report_page(
        request,
        definition,
        result=result,
        predicted=predicted,
        predicted_columns=PREDICTED_COLUMNS,
        predicted_figure=_predicted_figure(predicted, language) if predicted else None,
    )


def _warehouse_problem(exc: Exception, language: str) -> str:
    return translate(N_("The warehouse cannot be read now: {problem}"), language, problem=exc)


# --- exports ---------------------------------------------------------------------------------


def _header(result: ReportResult, language: str) -> list[str]:
    return [translate(column.title, language) for column in result.columns]


def _filename(definition: ReportDefinition, extension: str) -> str:
    return f"{definition.slug}-{datetime.now(UTC):%Y%m%d}.{extension}"


def _csv_response(definition: ReportDefinition, result: ReportResult, language: str) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(_header(result, language))
    for row in result.rows:
        writer.writerow([_csv_value(value) for value in row])
    return Response(
        "\ufeff" + buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{_filename(definition, "csv")}"'},
    )


# A spreadsheet runs a cell that starts with one of these as a formula; text from tracked
# events (UTM tags, URLs) may, so exports keep it text (OWASP's CSV injection advice).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


_XLSX_FORMATS = {
    "date": "yyyy-mm-dd",
    "int": "#,##0",
    "number": "#,##0.00",
    "money": "#,##0.00",
    "percent": "0.0%",
}


def _xlsx_response(definition: ReportDefinition, result: ReportResult, language: str) -> Response:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = translate(definition.title, language)[:31]
    sheet.append(_header(result, language))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in result.rows:
        sheet.append(list(row))
        for cell in sheet[sheet.max_row]:
            if cell.data_type == "f":  # text that looks like a formula stays text
                cell.data_type = "s"
    for position, column in enumerate(result.columns, start=1):
        letter = get_column_letter(position)
        number_format = _XLSX_FORMATS.get(column.kind)
        if number_format:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=position, max_col=position):
                cell.number_format = number_format
        width = max(len(translate(column.title, language)), 12 if column.kind != "text" else 18)
        sheet.column_dimensions[letter].width = min(width + 2, 60)
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return Response(
        buffer.getvalue(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{_filename(definition, "xlsx")}"'},
    )


# --- predicted LTV ---------------------------------------------------------------------------


def _predicted_figure(predicted: Any, language: str) -> dict[str, Any]:
    figure = go.Figure(
        go.Bar(
            x=[(low + high) / 2 for low, high, _ in predicted.bins],
            y=[count for _, _, count in predicted.bins],
            width=[(high - low) * 0.95 for low, high, _ in predicted.bins],
            name=translate(N_("Profiles"), language),
        )
    )
    layout = _layout(
        language,
        translate(N_("Predicted value, 12 months"), language),
        translate(N_("Profiles"), language),
        False,
    )
    layout["xaxis"]["tickformat"] = ",.0f"
    layout["height"] = 320
    figure.update_layout(**layout)
    return dict(json.loads(figure.to_json()))


# --- builders (analyst) ----------------------------------------------------------------------


def _moment(text: str | None, end: bool) -> datetime | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ReportFilterError(
            N_("{value} is not a date like 2026-10-01").format(value=repr(text[:40]))
        ) from None
    moment = datetime.combine(day, time(), tzinfo=UTC)
    return moment + timedelta(days=1) if end else moment


def _duration(seconds: float | None, language: str) -> str:
    if seconds is None:
        return ""
    if seconds < 1:
        return "0"
    return format_timedelta(
        timedelta(seconds=seconds), threshold=1.5, format="short", locale=language
    )


def funnel_figure(result: FunnelResult, language: str) -> dict[str, Any]:
    def tr(text: str) -> str:
        return translate(text, language)

    figure = go.Figure()
    labels = [f"{index}. {_short(step.event, 28)}" for index, step in enumerate(result.steps, 1)]
    if result.breakdown is None:
        rows = result.rows
        figure.add_trace(
            go.Bar(
                x=labels,
                y=[row.entered for row in rows],
                name=tr(N_("Converted")),
                text=[
                    "" if row.conversion_from_first is None else f"{row.conversion_from_first:.0%}"
                    for row in rows
                ],
                textposition="auto",
            )
        )
        figure.add_trace(
            go.Bar(
                x=labels,
                y=[row.dropped_off for row in rows],
                name=tr(N_("Dropped off")),
                marker={"color": "#c9cfda"},
            )
        )
        barmode = "stack"
    else:
        values: list[Any] = []
        for row in result.rows:
            if row.breakdown not in values:
                values.append(row.breakdown)
        for value in values[:10]:
            rows = [row for row in result.rows if row.breakdown == value]
            figure.add_trace(
                go.Bar(
                    x=labels,
                    y=[row.entered for row in rows],
                    name=tr(N_("(none)")) if value is None else _short(str(value), 30),
                )
            )
        barmode = "group"
    layout = _layout(language, tr(N_("Step")), tr(N_("Profiles")), False)
    layout["barmode"] = barmode
    figure.update_layout(**layout)
    return dict(json.loads(figure.to_json()))


def _builder_failure(exc: HeraldError, language: str) -> tuple[int, str | None]:
    """How a builder page answers a failure: its status and message (None: the inputs are not
    built yet, which the page says in its own words)."""
    if isinstance(exc, ReportNotBuilt | ReportInputsMissing):
        return 200, None
    if isinstance(exc, WarehouseBusy):
        return 503, str(exc)
    if isinstance(exc, WarehouseError):
        return 503, _warehouse_problem(exc, language)
    return 400, _error_text(exc, language)


def computed_segments(warehouse: Warehouse) -> list[str]:
    """The segments a builder may narrow to: those computed at least once."""
    if not warehouse.exists("segment_sizes"):
        return []
    table = warehouse.query_arrow(
        f"select distinct segment_id from {warehouse.qualify('segment_sizes')} order by 1"
    )
    return [str(name) for name in table.column(0).to_pylist()]


@builders.get("/reports/funnel", response_class=HTMLResponse)
def funnel_page(
    request: Request,
    user: CurrentUser,
    wh: ReportWarehouse,
    step: Annotated[list[str], Query(max_length=500)] = [],  # noqa: B006 - FastAPI's way
    where: Annotated[list[str], Query(max_length=1000)] = [],  # noqa: B006
    window: Annotated[str, Query(max_length=20)] = "7d",
    order: Annotated[str, Query(max_length=20)] = "ordered",
    breakdown: Annotated[str, Query(max_length=200)] = "",
    database: Annotated[str, Query(max_length=200)] = "",
    segment: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    language = page_language(request)
    query = _query(request)
    entries = [
        (event.strip(), (where[index] if index < len(where) else "").strip())
        for index, event in enumerate(step[:MAX_STEPS])
    ]
    chosen = [(event, condition) for event, condition in entries if event]
    context: dict[str, Any] = {
        "rows_shown": min(MAX_STEPS, max(DEFAULT_FUNNEL_STEPS, len(chosen) + 1)),
        "chosen": chosen,
        "window": window,
        "order": order,
        "breakdown": breakdown,
        "database": database,
        "segment": segment,
        "segments": [],
        "query": query,
        "orders": [(name, _ORDER_TITLES[name]) for name in FUNNEL_ORDERS],
        "properties": list(EVENT_PROPERTIES),
        "max_steps": MAX_STEPS,
        "events": [],
        "databases": [],
        "result": None,
        "figure": None,
        "error": None,
        "not_built": False,
        "durations": {},
    }
    status = 200
    if wh is None:
        context["not_built"] = True
        return render(request, "reports/funnel.html", **context)
    try:
        with wh.held():
            context["events"] = known_events(wh)
            context["databases"] = profile_databases(wh)
            context["segments"] = computed_segments(wh)
            if chosen:
                steps = [
                    parse_step(f"{event}[{condition}]") if condition else FunnelStep(event)
                    for event, condition in chosen
                ]
                result = funnel(
                    wh,
                    database or None,
                    steps,
                    window,
                    order=order,
                    breakdown=breakdown or None,
                    since=_moment(query.get("from"), end=False),
                    until=_moment(query.get("to"), end=True),
                    segment=segment or None,
                )
                context["result"] = result
                context["figure"] = funnel_figure(result, language)
                context["durations"] = {
                    (row.step, row.breakdown): (
                        _duration(row.median_seconds_from_previous, language),
                        _duration(row.median_seconds_from_first, language),
                    )
                    for row in result.rows
                }
    except HeraldError as exc:
        status, context["error"] = _builder_failure(exc, language)
        context["not_built"] = context["error"] is None
    return render(
        request,
        "reports/funnel.html",
        status_code=status,
        charts=context["figure"] is not None,
        **context,
    )


def cohort_figure(rows: list[Any], language: str) -> dict[str, Any]:
    xs = sorted({row.period_index for row in rows})
    ys = sorted({row.cohort for row in rows})
    cells = {(row.cohort, row.period_index): row.retention for row in rows}
    figure = go.Figure(
        go.Heatmap(
            x=xs,
            y=[day.isoformat() for day in ys],
            z=[[cells.get((y, x), 0.0) for x in xs] for y in ys],
            colorscale="Blues",
            zmin=0,
            zmax=1,
            hovertemplate="%{y} · %{x}: %{z:.1%}<extra></extra>",
            colorbar={"tickformat": ".0%"},
        )
    )
    layout = _layout(
        language,
        translate(N_("Periods since the cohort started"), language),
        translate(N_("Cohort"), language),
        False,
    )
    layout["yaxis"].update({"type": "category", "autorange": "reversed", "tickformat": ""})
    layout["height"] = max(420, 22 * len(ys) + 120)
    figure.update_layout(**layout)
    return dict(json.loads(figure.to_json()))


@builders.get("/reports/cohorts", response_class=HTMLResponse)
def cohort_page(
    request: Request,
    user: CurrentUser,
    wh: ReportWarehouse,
    by: Annotated[str, Query(max_length=20)] = "first_order",
    period: Annotated[str, Query(max_length=20)] = "month",
    activity: Annotated[str, Query(max_length=500)] = ORDER_ACTIVITY,
    database: Annotated[str, Query(max_length=200)] = "",
    segment: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    language = page_language(request)
    query = _query(request)
    context: dict[str, Any] = {
        "by": by,
        "period": period,
        "activity": activity,
        "database": database,
        "segment": segment,
        "segments": [],
        "query": query,
        "by_choices": [(name, _COHORT_BY_TITLES[name]) for name in COHORT_BY],
        "periods": PERIODS,
        "events": [],
        "databases": [],
        "rows": None,
        "figure": None,
        "error": None,
        "not_built": False,
        "order_activity": ORDER_ACTIVITY,
        "truncated": False,
        "row_limit": ROW_LIMIT,
    }
    status = 200
    if wh is None:
        context["not_built"] = True
        return render(request, "reports/cohorts.html", **context)
    try:
        with wh.held():
            context["events"] = known_events(wh)
            context["databases"] = profile_databases(wh)
            context["segments"] = computed_segments(wh)
            rows = cohort_retention(
                wh,
                database or None,
                by=by,
                period=period,
                activity=activity or ORDER_ACTIVITY,
                since=_moment(query.get("from"), end=False),
                until=_moment(query.get("to"), end=True),
                segment=segment or None,
            )
            context["rows"] = rows[:ROW_LIMIT]  # the heat map shows them all
            context["truncated"] = len(rows) > ROW_LIMIT
            context["figure"] = cohort_figure(rows, language) if rows else None
    except HeraldError as exc:
        status, context["error"] = _builder_failure(exc, language)
        context["not_built"] = context["error"] is None
    return render(
        request,
        "reports/cohorts.html",
        status_code=status,
        charts=context["figure"] is not None,
        **context,
    )
