"""`herald report ...`: funnels and cohort retention computed now, over the warehouse.

The warehouse is opened read-only (one query per report); the inputs are the segment inputs
that `herald materialize` builds (`profile_events`, `profile_orders`). Semantics are
documented in herald/reports/funnel.py and herald/reports/cohort.py.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

import typer

from herald.errors import HeraldError
from herald.i18n import N_
from herald.reports.funnel import parse_moment
from herald.settings import load_settings
from herald.warehouse.base import Warehouse

report_app = typer.Typer(
    help="Reports computed now over the warehouse: funnels and cohort retention.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class ReportFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class FunnelOrderChoice(StrEnum):
    ordered = "ordered"
    strict = "strict"
    any = "any"


class CohortBy(StrEnum):
    first_order = "first_order"
    first_seen = "first_seen"
    sign_up = "sign_up"


class CohortPeriod(StrEnum):
    day = "day"
    week = "week"
    month = "month"


@contextlib.contextmanager
def _reader() -> Iterator[Warehouse]:
    from herald.warehouse import open_warehouse

    settings = load_settings()
    url = settings.warehouse_url
    if url.engine == "duckdb" and url.path is not None and not url.path.exists():
        raise HeraldError(
            N_("the warehouse is empty") + "; " + N_("run `herald materialize` first")
        )
    warehouse = open_warehouse(settings, read_only=True)
    try:
        yield warehouse
    finally:
        warehouse.close()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    return str(value)


def _print(rows: list[dict[str, Any]], columns: list[str], output: ReportFormat) -> None:
    if output is ReportFormat.csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([["" if row[c] is None else row[c] for c in columns] for row in rows])
        typer.echo(buffer.getvalue(), nl=False)
        return
    cells = [[_cell(row[name]) for name in columns] for row in rows]
    widths = [max([len(name), *(len(line[i]) for line in cells)]) for i, name in enumerate(columns)]
    lines = [" | ".join(name.ljust(widths[i]) for i, name in enumerate(columns))]
    lines.append("-+-".join("-" * width for width in widths))
    lines += [" | ".join(value.ljust(widths[i]) for i, value in enumerate(line)) for line in cells]
    typer.echo("\n".join(lines))


STEP_HELP = (
    "A step: EVENT, or EVENT\\[property OP value, ...] with OP = != > >= < <= ~ (contains) "
    "!~ (does not contain); a=x|y means a is x or y. Properties: event columns (category, "
    "brand, price, path, url, utm_source, ...) or properties.<key> of the event's JSON. "
    "Repeat --step for each step, in order (1 to 30). Example: "
    "--step 'Product Viewed\\[category=Phones, price>=100]' --step 'Order Completed'."
)


@report_app.command()
def funnel(
    step: list[str] = typer.Option(..., "--step", "-s", help=STEP_HELP),
    window: str = typer.Option(
        "7d", "--window", "-w", help="Time to complete the funnel from step 1: 30m, 12h, 7d, 2w."
    ),
    order: FunnelOrderChoice = typer.Option(
        FunnelOrderChoice.ordered,
        "--order",
        help="ordered: each step after the previous (others may happen between); strict: "
        "no other event between steps; any: steps 2.. in any order after step 1.",
    ),
    breakdown: str | None = typer.Option(
        None, "--breakdown", "-b", help="Split by this property of the step-1 event."
    ),
    database: str | None = typer.Option(
        None, "--database", "--db", help="The profile database (default: the first)."
    ),
    since: str | None = typer.Option(None, "--since", help="Step 1 on or after (a day or time)."),
    until: str | None = typer.Option(
        None, "--until", help="Step 1 up to (a day: including it; a time: before it)."
    ),
    segment: str | None = typer.Option(
        None, "--segment", help="Only the current members of this segment."
    ),
    output: ReportFormat = typer.Option(ReportFormat.table, "--format", "-f"),
) -> None:
    """A funnel of events: per step, the profiles that reach it, conversion and drop-off,
    and the median time to get there. Each profile counts once, at its best attempt."""
    from herald.reports.funnel import funnel as compute_funnel
    from herald.reports.funnel import parse_step, parse_window

    steps = [parse_step(text) for text in step]
    span = parse_window(window)
    first, last = (
        parse_moment(since, "--since", end=False),
        parse_moment(until, "--until", end=True),
    )
    with _reader() as warehouse:
        result = compute_funnel(
            warehouse, database, steps, span, order.value, breakdown, first, last, segment
        )
    if output is ReportFormat.json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2, default=str))
        return
    columns = [
        "step",
        "event",
        "entered",
        "conversion_from_first",
        "conversion_from_previous",
        "dropped_off",
        "median_seconds_from_first",
        "median_seconds_from_previous",
    ]
    if breakdown is not None:
        columns.insert(0, "breakdown")
    _print([vars(row) for row in result.rows], columns, output)


@report_app.command()
def cohort(
    by: CohortBy = typer.Option(
        CohortBy.first_order,
        "--by",
        help="What puts a profile in a cohort: its first order (not cancelled), first seen "
        "(first event or order) or its 'Signed Up' event.",
    ),
    period: CohortPeriod = typer.Option(
        CohortPeriod.month, "--period", help="Cohort and activity periods (weeks from Monday)."
    ),
    event: str | None = typer.Option(
        None, "--event", "-e", help="Activity: this event (default: orders, not cancelled)."
    ),
    database: str | None = typer.Option(
        None, "--database", "--db", help="The profile database (default: the first)."
    ),
    since: str | None = typer.Option(
        None, "--since", help="Cohort events on or after (a day or time)."
    ),
    until: str | None = typer.Option(
        None, "--until", help="Cohort events up to (a day: including it; a time: before it)."
    ),
    segment: str | None = typer.Option(
        None, "--segment", help="Only the current members of this segment."
    ),
    output: ReportFormat = typer.Option(ReportFormat.table, "--format", "-f"),
) -> None:
    """Cohort retention: per cohort and period since, the share of its profiles active."""
    from herald.reports.cohort import ORDER_ACTIVITY, timed_cohort_retention

    first, last = (
        parse_moment(since, "--since", end=False),
        parse_moment(until, "--until", end=True),
    )
    with _reader() as warehouse:
        document = timed_cohort_retention(
            warehouse,
            database=database,
            by=by.value,
            period=period.value,
            activity=event if event is not None else ORDER_ACTIVITY,
            since=first,
            until=last,
            segment=segment,
        )
    if output is ReportFormat.json:
        typer.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    columns = ["cohort", "period_index", "cohort_size", "active", "retention"]
    _print(document["rows"], columns, output)
