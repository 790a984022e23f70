"""The marketers' reports over the SQL report marts (sql/reports), declared once each.

    definition = REPORTS["communications"]
    result = query_report(warehouse, "communications", {"by": "campaign", "channel": "email"})
    result.columns, result.rows, result.series   # what the page, the chart and exports show

A report reads one mart. Its definition names the mart, the date column the period filter
applies to, the filters it supports (`FILTERS`), its dimensions (what a table row may be
grouped by: `by`, and a second one to split the chart by: `breakdown`), its measures (each an
aggregate over the mart's rows, so the rows are summed over the dimensions not selected) and
its chart kind. Rates are recomputed from their summed numerator and denominator, never
summed; counts of distinct visitors or recipients (distinct within a mart row) are not
offered, since they cannot be added up across rows.

Every value a person typed reaches SQL through `warehouse.literal()` after it has been
checked against what the mart holds; an unknown value is a `ReportFilterError` (a HeraldError
whose message is marked for translation). A mart that was never materialised is a
`ReportNotBuilt`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from herald.errors import HeraldError
from herald.i18n import N_
from herald.settings import Settings
from herald.warehouse.base import Warehouse

ColumnKind = Literal["text", "date", "int", "number", "money", "percent"]
ChartKind = Literal["line", "bar", "stacked_bar", "heatmap", "table"]
ROW_LIMIT = 1000  # rows of a table (and of its exports); the page says when there are more
SERIES_LIMIT = 10  # chart lines or bars: the largest ones
OPTION_LIMIT = 500  # choices of a filter's list
GRAINS = ("day", "week", "month")
# The filters a report may support, with their labels.
FILTERS: dict[str, str] = {
    "period": N_("Period"),
    "channel": N_("Channel"),
    "campaign": N_("Campaign"),
    "database": N_("Profile database"),
    "grain": N_("Grain"),
    "source": N_("Source"),
    "breakdown": N_("Breakdown"),
}
# Words the marts hold as values, shown in the page's language.
VALUE_TITLES: dict[str, str] = {
    "email": N_("email"),
    "sms": N_("SMS"),
    "push": N_("push"),
    "paid": N_("paid"),
    "search": N_("search"),
    "social": N_("social"),
    "referral": N_("referral"),
    "direct": N_("direct"),
    "offline": N_("offline"),
    "hard": N_("hard"),
    "soft": N_("soft"),
    "unknown": N_("unknown"),
    "permanent": N_("permanent"),
    "transient": N_("transient"),
    "other": N_("other"),
    "addressing": N_("addressing"),
    "mailbox": N_("mailbox"),
    "mail system": N_("mail system"),
    "network and routing": N_("network and routing"),
    "mail delivery protocol": N_("mail delivery protocol"),
    "message content": N_("message content"),
    "security or policy": N_("security or policy"),
    "failed": N_("failed"),
    "deferred": N_("deferred"),
    "expired": N_("expired"),
    "web": N_("web"),
    "day": N_("day"),
    "week": N_("week"),
    "month": N_("month"),
    "": N_("(none)"),
}


class ReportNotBuilt(HeraldError):
    """The report's mart (or the warehouse) does not exist yet."""


class ReportFilterError(HeraldError):
    """A filter value the report cannot take; the message says which and why."""


class UnknownReport(HeraldError):
    """No report has this name."""


@dataclass(frozen=True)
class Column:
    """A dimension (`sql` a mart column) or a measure (`sql` an aggregate over mart rows)."""

    name: str
    title: str
    kind: ColumnKind
    sql: str
    translate_values: bool = False  # the values are words of VALUE_TITLES

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "number", "money", "percent")


@dataclass(frozen=True)
class ReportDefinition:
    slug: str
    title: str
    description: str
    mart: str
    date_column: str | None
    filters: tuple[str, ...]
    filter_columns: Mapping[str, str]  # filter -> mart column
    dimensions: tuple[Column, ...]
    measures: tuple[Column, ...]
    chart: ChartKind
    chart_measures: tuple[str, ...]  # plotted when the page does not pick one
    by: tuple[str, ...]  # dimensions a row may be grouped by; the first is the default
    breakdowns: tuple[str, ...] = ()  # dimensions the chart may be split by
    default_breakdown: str | None = None
    fixed_breakdown: bool = False  # the breakdown is part of the report (heat map, curves)
    default_sort: tuple[str, bool] | None = None  # (column, descending); None: by `by`
    required: Mapping[str, str] = field(default_factory=dict)  # filter -> default ("" = first)
    note: str | None = None
    option_order: Mapping[str, str] = field(default_factory=dict)  # filter -> order expression
    breakdown_first: bool = False  # table rows ordered by the breakdown, then by `by`
    # Running totals over the periods shown (when rows are grouped by the date dimension):
    # each Column's `sql` names the measure it adds up.
    running_totals: tuple[Column, ...] = ()
    chart_axis: str | None = None  # the y axis's title when it shows several measures

    def dimension(self, name: str) -> Column:
        return next(column for column in self.dimensions if column.name == name)

    def measure(self, name: str) -> Column:
        return next(column for column in self.measures if column.name == name)


@dataclass(frozen=True)
class Series:
    """One line, bar group or heat-map row set of a chart: `name` is a value of the
    breakdown (or a measure's title); `x` values of the grouped dimension."""

    name: str
    x: list[Any]
    y: list[Any]
    translate_name: bool = False


@dataclass
class ReportResult:
    definition: ReportDefinition
    filters: dict[str, Any]  # the filters applied, defaults filled in
    columns: list[Column]
    rows: list[list[Any]]
    series: list[Series]
    chart_measure: Column | None
    chart_kind: ChartKind
    truncated: bool = False
    options: dict[str, list[str]] = field(default_factory=dict)  # filter -> choices
    heatmap: dict[str, Any] | None = None  # x, y, z for a heat map


def _sum(column: str) -> str:
    return f"cast(sum({column}) as bigint)"


def _money(column: str) -> str:
    return f"cast(sum({column}) as double)"


def _rate(numerator: str, denominator: str) -> str:
    return f"cast(sum({numerator}) as double) / nullif(cast(sum({denominator}) as double), 0)"


def _count(name: str, title: str, column: str | None = None) -> Column:
    return Column(name, title, "int", _sum(column or name))


def _day(column: str = "report_date") -> Column:
    return Column("day", N_("Day"), "date", column)


CAMPAIGN = Column("campaign", N_("Campaign"), "text", "campaign_id")
CHANNEL = Column("channel", N_("Channel"), "text", "channel", translate_values=True)

REPORT_LIST: tuple[ReportDefinition, ...] = (
    ReportDefinition(
        slug="communications",
        title=N_("Communications"),
        description=N_(
            "Messages of every channel by campaign or by send day: sent, delivered, opened, "
            "clicked, unsubscribed, bounced, and the orders and revenue attributed to them."
        ),
        mart="report_communications_daily",
        date_column="report_date",
        filters=("period", "channel", "campaign", "breakdown"),
        filter_columns={"channel": "channel", "campaign": "campaign_id"},
        dimensions=(_day(), CAMPAIGN, CHANNEL),
        measures=(
            _count("sent", N_("Sent")),
            _count("delivered", N_("Delivered")),
            _count("opened", N_("Opened"), "opened_unique"),
            _count("clicked", N_("Clicked"), "clicked_unique"),
            _count("unsubscribed", N_("Unsubscribed")),
            _count("complaints", N_("Complaints")),
            Column(
                "bounced", N_("Bounced"), "int", "cast(sum(soft_bounces + hard_bounces) as bigint)"
            ),
            _count("failed", N_("Failed")),
            _count("orders", N_("Attributed orders"), "attributed_orders"),
            Column("revenue", N_("Attributed revenue"), "money", _money("attributed_revenue")),
            Column("delivery_rate", N_("Delivery rate"), "percent", _rate("delivered", "sent")),
            Column("open_rate", N_("Open rate"), "percent", _rate("opened_unique", "delivered")),
            Column("click_rate", N_("Click rate"), "percent", _rate("clicked_unique", "delivered")),
            Column(
                "click_to_open_rate",
                N_("Click-to-open rate"),
                "percent",
                _rate("clicked_unique", "opened_unique"),
            ),
            Column(
                "unsubscribe_rate",
                N_("Unsubscribe rate"),
                "percent",
                _rate("unsubscribed", "delivered"),
            ),
            Column(
                "bounce_rate",
                N_("Bounce rate"),
                "percent",
                _rate("soft_bounces + hard_bounces", "sent"),
            ),
            Column(
                "conversion_rate",
                N_("Conversion rate"),
                "percent",
                _rate("attributed_orders", "delivered"),
            ),
        ),
        chart="line",
        chart_measures=("sent", "delivered", "opened", "clicked"),
        chart_axis=N_("Messages"),
        by=("campaign", "day", "channel"),
        breakdowns=("channel", "campaign"),
        default_sort=("sent", True),
        note=N_(
            "Every event of a message counts on the day the message was sent. An order is "
            "attributed to the last message its customer clicked within the attribution window."
        ),
    ),
    ReportDefinition(
        slug="traffic",
        title=N_("Traffic"),
        description=N_(
            "Web and app sessions by traffic source, UTM source, medium and campaign, landing "
            "page and device: page views, bounces and converted sessions."
        ),
        mart="report_traffic_daily",
        date_column="report_date",
        filters=("period", "source", "breakdown"),
        filter_columns={"source": "traffic_source"},
        dimensions=(
            _day(),
            Column("source", N_("Traffic source"), "text", "traffic_source", True),
            Column("utm_source", N_("UTM source"), "text", "utm_source", True),
            Column("utm_medium", N_("UTM medium"), "text", "utm_medium", True),
            Column("utm_campaign", N_("UTM campaign"), "text", "utm_campaign", True),
            Column("landing_page", N_("Landing page"), "text", "landing_page", True),
            Column("device", N_("Device"), "text", "device", True),
        ),
        measures=(
            _count("sessions", N_("Sessions")),
            _count("page_views", N_("Page views")),
            _count("bounces", N_("Bounces")),
            _count("converted_sessions", N_("Converted sessions")),
            Column("bounce_rate", N_("Bounce rate"), "percent", _rate("bounces", "sessions")),
            Column(
                "conversion_rate",
                N_("Conversion rate"),
                "percent",
                _rate("converted_sessions", "sessions"),
            ),
        ),
        chart="line",
        chart_measures=("sessions", "converted_sessions"),
        chart_axis=N_("Sessions"),
        by=("source", "day", "utm_source", "utm_medium", "utm_campaign", "landing_page", "device"),
        breakdowns=("source", "device", "utm_medium"),
        default_sort=("sessions", True),
        note=N_(
            "Visitors are counted within one row of the data and cannot be added up across "
            "days or sources, so the report shows sessions."
        ),
    ),
    ReportDefinition(
        slug="client-growth",
        title=N_("Client growth"),
        description=N_(
            "New, unsubscribed and churned profiles per day, week or month and acquisition "
            "source, and the net growth."
        ),
        mart="report_client_growth",
        date_column="period_start",
        filters=("period", "database", "grain", "source", "breakdown"),
        filter_columns={"database": "database", "grain": "grain", "source": "source"},
        dimensions=(
            Column("period", N_("Period"), "date", "period_start"),
            Column("source", N_("Source"), "text", "source", True),
        ),
        measures=(
            _count("new_profiles", N_("New profiles")),
            _count("unsubscribed", N_("Unsubscribed")),
            _count("churned", N_("Churned")),
            _count("net_growth", N_("Net growth")),
        ),
        chart="stacked_bar",
        chart_measures=("new_profiles", "unsubscribed", "churned"),
        chart_axis=N_("Profiles"),
        by=("period", "source"),
        breakdowns=("source",),
        required={"grain": "month", "database": ""},
        running_totals=(
            Column("net_growth_to_date", N_("Net growth to date"), "int", "net_growth"),
        ),
        note=N_(
            "A profile is new when first seen; its source is the traffic source of its first "
            "event (offline without one). It churns after a long time without events or orders."
        ),
    ),
    ReportDefinition(
        slug="cohort-retention",
        title=N_("Cohort retention"),
        description=N_(
            "Customers grouped by the month of their first order: the share of each cohort that "
            "ordered again in every month since."
        ),
        mart="report_cohort_retention",
        date_column="cohort",
        filters=("period", "database"),
        filter_columns={"database": "database"},
        dimensions=(
            Column("cohort", N_("Cohort"), "date", "cohort"),
            Column("period_index", N_("Months since the first order"), "int", "period_index"),
        ),
        measures=(
            Column("retention", N_("Retention"), "percent", _rate("active", "cohort_size")),
            _count("cohort_size", N_("Cohort size")),
            _count("active", N_("Active customers"), "active"),
        ),
        chart="heatmap",
        chart_measures=("retention",),
        by=("cohort",),
        breakdowns=("period_index",),
        default_breakdown="period_index",
        fixed_breakdown=True,
        required={"database": ""},
    ),
    ReportDefinition(
        slug="ltv",
        title=N_("Customer lifetime value"),
        description=N_(
            "Cumulative revenue per customer by the month of the first order, and the value "
            "every customer is predicted to bring in the next twelve months."
        ),
        mart="report_ltv_cohort",
        date_column="cohort",
        filters=("period", "database"),
        filter_columns={"database": "database"},
        dimensions=(
            Column("months", N_("Months since the first order"), "int", "months_since_first_order"),
            Column("cohort", N_("Cohort"), "date", "cohort"),
        ),
        measures=(
            Column(
                "ltv_per_customer",
                N_("LTV per customer"),
                "money",
                _rate("cumulative_revenue", "customers"),
            ),
            _count("customers", N_("Customers")),
            _count("orders", N_("Orders")),
            Column("revenue", N_("Revenue"), "money", _money("revenue")),
            Column(
                "cumulative_revenue",
                N_("Cumulative revenue"),
                "money",
                _money("cumulative_revenue"),
            ),
            Column(
                "average_order_value",
                N_("Average order value"),
                "money",
                _rate("cumulative_revenue", "cumulative_orders"),
            ),
            Column(
                "purchase_frequency",
                N_("Purchase frequency"),
                "number",
                _rate("cumulative_orders", "customers"),
            ),
        ),
        chart="line",
        chart_measures=("ltv_per_customer",),
        by=("months",),
        breakdowns=("cohort",),
        default_breakdown="cohort",
        fixed_breakdown=True,
        breakdown_first=True,
        required={"database": ""},
    ),
    ReportDefinition(
        slug="goals",
        title=N_("Goals"),
        description=N_(
            "Goal completions on the website and in the apps by goal and traffic source."
        ),
        mart="report_goals_daily",
        date_column="report_date",
        filters=("period", "source", "breakdown"),
        filter_columns={"source": "traffic_source"},
        dimensions=(
            _day(),
            Column("goal", N_("Goal"), "text", "goal", True),
            Column("source", N_("Traffic source"), "text", "traffic_source", True),
            Column("utm_source", N_("UTM source"), "text", "utm_source", True),
            Column("utm_campaign", N_("UTM campaign"), "text", "utm_campaign", True),
        ),
        measures=(_count("completions", N_("Completions")),),
        chart="line",
        chart_measures=("completions",),
        by=("goal", "day", "source", "utm_source", "utm_campaign"),
        breakdowns=("goal", "source"),
        default_sort=("completions", True),
        note=N_(
            "Visitors are counted within one row of the data and cannot be added up, so the "
            "report shows completions."
        ),
    ),
    ReportDefinition(
        slug="bounces",
        title=N_("Bounces"),
        description=N_(
            "Bounced messages by kind, RFC 3463 class and subject, receiving domain, mailbox "
            "provider and campaign."
        ),
        mart="report_bounces",
        date_column="report_date",
        filters=("period", "channel", "campaign", "breakdown"),
        filter_columns={"channel": "channel", "campaign": "campaign_id"},
        dimensions=(
            _day(),
            Column("bounce_type", N_("Kind"), "text", "bounce_type", True),
            Column("status_class", N_("Class"), "text", "status_class", True),
            Column("status_subject", N_("Subject"), "text", "status_subject", True),
            Column("smtp_status", N_("Status code"), "text", "smtp_status", True),
            Column("domain", N_("Domain"), "text", "recipient_domain", True),
            Column("provider", N_("Mailbox provider"), "text", "mailbox_provider", True),
            CAMPAIGN,
            CHANNEL,
        ),
        measures=(
            _count("bounces", N_("Bounces")),
            _count("messages", N_("Bounced messages"), "messages"),
        ),
        chart="line",
        chart_measures=("bounces",),
        by=(
            "status_subject",
            "day",
            "bounce_type",
            "status_class",
            "smtp_status",
            "domain",
            "provider",
            "campaign",
            "channel",
        ),
        breakdowns=("bounce_type", "status_class", "channel"),
        default_sort=("bounces", True),
    ),
    ReportDefinition(
        slug="non-deliveries",
        title=N_("Non-deliveries"),
        description=N_(
            "Messages not delivered for a reason other than a bounce: failed, deferred and "
            "expired, with the provider's reason."
        ),
        mart="report_non_deliveries",
        date_column="report_date",
        filters=("period", "channel", "campaign", "breakdown"),
        filter_columns={"channel": "channel", "campaign": "campaign_id"},
        dimensions=(
            _day(),
            Column("outcome", N_("Outcome"), "text", "outcome", True),
            Column("reason", N_("Reason"), "text", "reason", True),
            Column("provider", N_("Provider"), "text", "provider", True),
            Column("smtp_status", N_("Status code"), "text", "smtp_status", True),
            CAMPAIGN,
            CHANNEL,
        ),
        measures=(_count("events", N_("Events")), _count("messages", N_("Messages"))),
        chart="line",
        chart_measures=("messages",),
        by=("outcome", "day", "reason", "provider", "smtp_status", "campaign", "channel"),
        breakdowns=("outcome", "channel"),
        default_sort=("messages", True),
    ),
    ReportDefinition(
        slug="click-map",
        title=N_("Email click map"),
        description=N_(
            "The links of a campaign's email by their position in the message: clicks, unique "
            "clicks and each link's share of the campaign's clicks."
        ),
        mart="report_email_click_map",
        date_column=None,
        filters=("campaign",),
        filter_columns={"campaign": "campaign_id"},
        dimensions=(
            Column("position", N_("Position"), "int", "link_position"),
            Column("url", N_("Link"), "text", "url", True),
        ),
        measures=(
            _count("clicks", N_("Clicks")),
            _count("unique_clicks", N_("Unique clicks")),
            Column("share_of_clicks", N_("Share of clicks"), "percent", "sum(share_of_clicks)"),
            Column("click_rate", N_("Click rate"), "percent", "sum(click_rate)"),
        ),
        chart="stacked_bar",
        chart_measures=("clicks",),
        by=("position",),
        breakdowns=("url",),
        default_breakdown="url",
        fixed_breakdown=True,
        required={"campaign": ""},
        option_order={"campaign": "sum(clicks) desc, value"},
    ),
    ReportDefinition(
        slug="forms",
        title=N_("Forms"),
        description=N_("Form submissions per day and form: the sign-up form and every other form."),
        mart="report_form_submissions_daily",
        date_column="report_date",
        filters=("period", "breakdown"),
        filter_columns={},
        dimensions=(_day(), Column("form", N_("Form"), "text", "form", True)),
        measures=(_count("submissions", N_("Submissions")),),
        chart="line",
        chart_measures=("submissions",),
        by=("form", "day"),
        breakdowns=("form",),
        default_sort=("submissions", True),
    ),
)
REPORTS: dict[str, ReportDefinition] = {report.slug: report for report in REPORT_LIST}


# --- opening the warehouse ---------------------------------------------------------------------


def open_report_warehouse(settings: Settings) -> Warehouse:
    """The warehouse opened read-only for one request (DuckDB readers wait briefly while a
    writer holds the file); ReportNotBuilt when it does not exist yet."""
    from herald.warehouse import open_warehouse

    url = settings.warehouse_url
    if url.engine == "duckdb" and url.path is not None and not url.path.exists():
        raise ReportNotBuilt(_not_built())
    return open_warehouse(settings, read_only=True)


def _not_built() -> str:
    return N_("This report is not built yet: run `herald materialize`.")


def require_table(warehouse: Warehouse, table: str) -> None:
    if not warehouse.exists(table):
        raise ReportNotBuilt(_not_built())


# --- filters -----------------------------------------------------------------------------------


def _text(filters: Mapping[str, Any], name: str) -> str | None:
    value = filters.get(name)
    if value is None:
        return None
    text = str(value).strip()
    return text if text else None


def _day_value(filters: Mapping[str, Any], name: str) -> date | None:
    text = _text(filters, name)
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ReportFilterError(
            N_("{value} is not a date like 2026-10-01").format(value=repr(text[:40]))
        ) from None


def filter_options(warehouse: Warehouse, definition: ReportDefinition) -> dict[str, list[str]]:
    """The values each list filter of the report may take (what the mart holds)."""
    options: dict[str, list[str]] = {}
    table = warehouse.qualify(definition.mart)
    for name, column in definition.filter_columns.items():
        if name == "grain":
            options[name] = list(GRAINS)
            continue
        quoted = warehouse.quote(column)
        order = definition.option_order.get(name, "value")
        rows = warehouse.query_arrow(
            f"select {quoted} as value from {table} group by {quoted} "
            f"order by {order} limit {OPTION_LIMIT}"
        ).to_pylist()
        options[name] = [str(row["value"]) for row in rows if row["value"] is not None]
    return options


def resolve_filters(
    definition: ReportDefinition, filters: Mapping[str, Any], options: Mapping[str, list[str]]
) -> dict[str, Any]:
    """The filters checked against the report and the mart, with the defaults filled in."""
    resolved: dict[str, Any] = {}
    by = _text(filters, "by") or definition.by[0]
    if by not in definition.by:
        raise ReportFilterError(
            N_("the report cannot be grouped by {value} (choose one of: {choices})").format(
                value=repr(by[:40]), choices=", ".join(definition.by)
            )
        )
    resolved["by"] = by
    breakdown = _text(filters, "breakdown") or definition.default_breakdown
    if definition.fixed_breakdown:
        breakdown = definition.default_breakdown
    if breakdown is not None:
        if breakdown not in definition.breakdowns:
            raise ReportFilterError(
                N_("the chart cannot be split by {value} (choose one of: {choices})").format(
                    value=repr(breakdown[:40]), choices=", ".join(definition.breakdowns)
                )
            )
        if breakdown == by:
            breakdown = None
    resolved["breakdown"] = breakdown
    measure = _text(filters, "measure")
    if measure is not None and measure not in {m.name for m in definition.measures}:
        raise ReportFilterError(
            N_("the report has no measure {value}").format(value=repr(measure[:40]))
        )
    resolved["measure"] = measure
    if "period" in definition.filters:
        start, end = _day_value(filters, "from"), _day_value(filters, "to")
        if start is not None and end is not None and end < start:
            raise ReportFilterError(N_("the period ends before it starts"))
        resolved["from"], resolved["to"] = start, end
    for name in definition.filter_columns:
        value = _text(filters, name)
        choices = options.get(name, [])
        if value is None and name in definition.required:
            value = definition.required[name] or (choices[0] if choices else None)
        if value is not None and value not in choices:
            raise ReportFilterError(
                N_("there is no {filter} {value} in this report").format(
                    filter=name, value=repr(value[:80])
                )
            )
        resolved[name] = value
    return resolved


# --- the query ---------------------------------------------------------------------------------


def report_sql(
    warehouse: Warehouse, definition: ReportDefinition, resolved: Mapping[str, Any]
) -> str:
    """One grouped query over the mart: the `by` dimension (and the breakdown), every
    measure; the filters' values as literals of the engine."""
    by = definition.dimension(resolved["by"])
    breakdown = resolved.get("breakdown")
    dimensions = [by] + ([definition.dimension(breakdown)] if breakdown else [])
    selected = [f"{column.sql} as d_{column.name}" for column in dimensions]
    selected += [f"{column.sql} as m_{column.name}" for column in definition.measures]
    where: list[str] = []
    if definition.date_column is not None:
        column = warehouse.quote(definition.date_column)
        if resolved.get("from") is not None:
            day = warehouse.literal(resolved["from"].isoformat())
            where.append(f"{column} >= cast({day} as date)")
        if resolved.get("to") is not None:
            day = warehouse.literal(resolved["to"].isoformat())
            where.append(f"{column} <= cast({day} as date)")
    for name, column_name in definition.filter_columns.items():
        value = resolved.get(name)
        if value is not None:
            where.append(f"{warehouse.quote(column_name)} = {warehouse.literal(str(value))}")
    groups = ", ".join(f"d_{column.name}" for column in dimensions)
    if by.kind in ("date", "int") or definition.default_sort is None:
        ordered = dimensions[::-1] if definition.breakdown_first else dimensions
        order = ", ".join(f"d_{column.name}" for column in ordered)
    else:
        sort, descending = definition.default_sort
        order = f"m_{sort} {'desc' if descending else 'asc'}, " + ", ".join(
            f"d_{column.name}" for column in dimensions
        )
    condition = (" where " + " and ".join(where)) if where else ""
    return (
        f"select {', '.join(selected)} from {warehouse.qualify(definition.mart)}{condition} "
        f"group by {groups} order by {order} limit {ROW_LIMIT + 1}"
    )


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def report_definition(name: str) -> ReportDefinition:
    definition = REPORTS.get(name)
    if definition is None:
        raise UnknownReport(N_("there is no report {name}").format(name=repr(name[:80])))
    return definition


def query_report(
    warehouse: Warehouse, name: str, filters: Mapping[str, Any] | None = None
) -> ReportResult:
    """The report `name` with `filters` (by, breakdown, measure, from, to, channel, campaign,
    database, grain, source — those it supports): its table and its chart's series."""
    definition = report_definition(name)
    with warehouse.held():
        require_table(warehouse, definition.mart)
        options = filter_options(warehouse, definition)
        resolved = resolve_filters(definition, filters or {}, options)
        raw = warehouse.query_arrow(report_sql(warehouse, definition, resolved)).to_pylist()
    truncated = len(raw) > ROW_LIMIT
    raw = raw[:ROW_LIMIT]
    by = definition.dimension(resolved["by"])
    breakdown = definition.dimension(resolved["breakdown"]) if resolved["breakdown"] else None
    dimensions = [by] + ([breakdown] if breakdown else [])
    columns = dimensions + list(definition.measures)
    keys = [f"d_{c.name}" for c in dimensions] + [f"m_{c.name}" for c in definition.measures]
    rows = [[_plain(row[key]) for key in keys] for row in raw]
    if definition.running_totals and by.kind == "date":
        for total in definition.running_totals:
            _add_running_total(columns, rows, total, len(dimensions))
    chart_measure = definition.measure(resolved["measure"]) if resolved["measure"] else None
    chart_kind: ChartKind = definition.chart
    if chart_kind in ("line", "stacked_bar") and by.kind not in ("date", "int"):
        chart_kind = "bar"
    result = ReportResult(
        definition=definition,
        filters=resolved,
        columns=columns,
        rows=rows,
        series=[],
        chart_measure=chart_measure,
        chart_kind=chart_kind,
        truncated=truncated,
        options=options,
    )
    _fill_chart(result, by, breakdown)
    return result


def _add_running_total(
    columns: list[Column], rows: list[list[Any]], total: Column, dimensions: int
) -> None:
    """Append `total`: the running sum of the measure it names over the rows (ordered by
    period), per breakdown value when there is one."""
    at = next(index for index, column in enumerate(columns) if column.name == total.sql)
    sums: dict[Any, int] = {}
    for row in rows:
        key = row[1] if dimensions > 1 else None
        sums[key] = sums.get(key, 0) + int(row[at] or 0)
        row.append(sums[key])
    columns.append(total)


def _fill_chart(result: ReportResult, by: Column, breakdown: Column | None) -> None:
    definition = result.definition
    index = {column.name: position for position, column in enumerate(result.columns)}
    x_at = index[by.name]
    if breakdown is None:
        measures = (
            [result.chart_measure]
            if result.chart_measure
            else [definition.measure(name) for name in definition.chart_measures]
        )
        rows = result.rows
        if by.kind not in ("date", "int"):
            rows = rows[:50]  # a categorical axis shows the largest groups
        for measure in measures:
            at = index[measure.name]
            result.series.append(
                Series(
                    measure.title,
                    [row[x_at] for row in rows],
                    [row[at] for row in rows],
                    translate_name=True,
                )
            )
        return
    measure = result.chart_measure or definition.measure(definition.chart_measures[0])
    result.chart_measure = measure
    at, b_at = index[measure.name], index[breakdown.name]
    if result.chart_kind == "heatmap":
        xs = sorted({row[b_at] for row in result.rows})
        ys = sorted({row[x_at] for row in result.rows})
        cells = {(row[x_at], row[b_at]): row[at] for row in result.rows}
        result.heatmap = {
            "x": xs,
            "y": ys,
            "z": [[cells.get((y, x)) for x in xs] for y in ys],
        }
        return
    totals: dict[Any, float] = {}
    for row in result.rows:
        totals[row[b_at]] = totals.get(row[b_at], 0.0) + float(row[at] or 0)
    if breakdown.kind == "date":
        keep = sorted(totals)[-SERIES_LIMIT:]
    else:
        keep = sorted(totals, key=lambda value: (-totals[value], str(value)))[:SERIES_LIMIT]
    for value in sorted(keep, key=lambda v: (v is None, v)) if breakdown.kind == "date" else keep:
        points = [row for row in result.rows if row[b_at] == value]
        result.series.append(
            Series(
                "" if value is None else str(value),
                [row[x_at] for row in points],
                [row[at] for row in points],
                translate_name=breakdown.translate_values,
            )
        )


# --- predicted LTV ---------------------------------------------------------------------------

PREDICTED_TABLE = "profile_ltv_predicted"
HISTOGRAM_BINS = 20
TOP_PROFILES = 20


@dataclass
class PredictedLtv:
    database: str | None
    profiles: int
    total_ltv: float
    average_ltv: float
    average_probability_alive: float | None
    expected_purchases: float
    as_of: datetime | None
    bins: list[tuple[float, float, int]]  # from, to, profiles
    top: list[dict[str, Any]]


PREDICTED_COLUMNS: tuple[Column, ...] = (
    Column("profile_id", N_("Profile"), "text", "profile_id"),
    Column("orders", N_("Orders"), "int", "orders"),
    Column("monetary_value", N_("Average repeat order"), "money", "monetary_value"),
    Column("probability_alive", N_("Probability still a customer"), "percent", "probability_alive"),
    Column("expected_purchases_12m", N_("Expected purchases, 12 months"), "number",
           "expected_purchases_12m"),
    Column("predicted_ltv_12m", N_("Predicted value, 12 months"), "money", "predicted_ltv_12m"),
)  # fmt: skip


def predicted_ltv(warehouse: Warehouse, database: str | None) -> PredictedLtv | None:
    """The fitted totals, a distribution and the top profiles of `profile_ltv_predicted`
    for one profile database; None when the table is not built (or empty)."""
    if not warehouse.exists(PREDICTED_TABLE):
        return None
    table = warehouse.qualify(PREDICTED_TABLE)
    where = f" where database = {warehouse.literal(database)}" if database else ""
    totals = warehouse.query_arrow(
        "select count(*) as profiles, cast(sum(predicted_ltv_12m) as double) as total, "
        "cast(avg(predicted_ltv_12m) as double) as average, "
        "cast(avg(probability_alive) as double) as alive, "
        "cast(sum(expected_purchases_12m) as double) as purchases, "
        "cast(min(predicted_ltv_12m) as double) as low, "
        "cast(max(predicted_ltv_12m) as double) as high, max(as_of) as as_of "
        f"from {table}{where}"
    ).to_pylist()[0]
    profiles = int(totals["profiles"] or 0)
    if not profiles:
        return None
    low, high = float(totals["low"] or 0.0), float(totals["high"] or 0.0)
    width = (high - low) / HISTOGRAM_BINS if high > low else 1.0
    bucket = (
        f"least(cast(floor((predicted_ltv_12m - {low!r}) / {width!r}) as bigint), "
        f"{HISTOGRAM_BINS - 1})"
    )
    counted = warehouse.query_arrow(
        f"select {bucket} as bucket, count(*) as profiles from {table}{where} "
        "group by bucket order by bucket"
    ).to_pylist()
    per_bucket = {int(row["bucket"]): int(row["profiles"]) for row in counted}
    bins = [
        (low + width * index, low + width * (index + 1), per_bucket.get(index, 0))
        for index in range(HISTOGRAM_BINS if high > low else 1)
    ]
    names = ", ".join(column.sql for column in PREDICTED_COLUMNS)
    top = warehouse.query_arrow(
        f"select {names} from {table}{where} "
        f"order by predicted_ltv_12m desc, profile_id limit {TOP_PROFILES}"
    ).to_pylist()
    as_of = totals["as_of"]
    return PredictedLtv(
        database=database,
        profiles=profiles,
        total_ltv=float(totals["total"] or 0.0),
        average_ltv=float(totals["average"] or 0.0),
        average_probability_alive=(float(totals["alive"]) if totals["alive"] is not None else None),
        expected_purchases=float(totals["purchases"] or 0.0),
        as_of=as_of if isinstance(as_of, datetime) else None,
        bins=bins,
        top=[{key: _plain(value) for key, value in row.items()} for row in top],
    )


def known_events(warehouse: Warehouse, limit: int = OPTION_LIMIT) -> list[str]:
    """The event names of `profile_events` (the funnel and cohort builders' choices)."""
    require_table(warehouse, "profile_events")
    rows = warehouse.query_arrow(
        f"select distinct event_name from {warehouse.qualify('profile_events')} "
        f"where event_name is not null order by event_name limit {limit}"
    ).to_pylist()
    return [str(row["event_name"]) for row in rows]


def profile_databases(warehouse: Warehouse) -> list[str]:
    """The profile databases the warehouse has report inputs for."""
    prefix = "segment_profiles__"
    return sorted(
        info.name.removeprefix(prefix)
        for info in warehouse.list_tables()
        if info.name.startswith(prefix)
    )


def value_title(value: Any) -> str:
    """The English word for a mart value (translate it with herald.i18n.translate)."""
    text = "" if value is None else str(value)
    return VALUE_TITLES.get(text, text)


__all__ = [
    "FILTERS",
    "REPORTS",
    "REPORT_LIST",
    "Column",
    "PredictedLtv",
    "ReportDefinition",
    "ReportFilterError",
    "ReportNotBuilt",
    "ReportResult",
    "Series",
    "UnknownReport",
    "known_events",
    "open_report_warehouse",
    "predicted_ltv",
    "profile_databases",
    "query_report",
    "value_title",
]
