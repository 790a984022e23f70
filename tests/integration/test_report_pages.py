"""The report pages of the web UI on the run's shared report home (tests.support.report_home:
500 profiles, seed 7, materialised on DuckDB and on chdb): every page in English and Russian
with its chart and table, CSV and XLSX exports with the page's rows, filters, friendly errors,
roles, and the same report rows from DuckDB and from chdb — through FastAPI's TestClient."""

import csv
import io
import json
import math
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from markupsafe import escape
from openpyxl import load_workbook

from herald.i18n import translate
from herald.reports.catalog import (
    REPORT_LIST,
    REPORTS,
    known_events,
    predicted_ltv,
    query_report,
)
from herald.settings import Settings, load_settings
from herald.store.engine import create_store_engine
from herald.users import create_user
from herald.warehouse.duckdb_engine import DuckDBWarehouse
from tests.support.cli import REPO
from tests.support.report_home import ReportHome
from ui.web import create_web_app

PASSWORD = "report pages password"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
FIGURE = re.compile(r'<script type="application/json" id="figure-([a-z-]+)">(.*?)</script>', re.S)
USERS = {
    "vera": ("viewer", "en"),
    "vika": ("viewer", "ru"),
    "ana": ("analyst", "en"),
    "anya": ("analyst", "ru"),
}
SLUGS = [report.slug for report in REPORT_LIST]
FUNNEL = (
    "/reports/funnel?step=Product+Viewed&step=Product+Added&step=Order+Completed"
    "&where=&where=&where=&window=30d"
)


def _environment(home: Path) -> dict[str, str]:
    environment = {**os.environ, "HERALD_HOME": str(home)}
    for name in ("HERALD_WAREHOUSE", "HERALD_DATABASE"):
        environment.pop(name, None)
    return environment


@pytest.fixture(scope="module")
def settings(report_home: ReportHome, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The shared report home's warehouse, with a store (users) and session key of this
    module's own, so the shared home is only read."""
    store = tmp_path_factory.mktemp("report-pages-store") / "herald.sqlite"
    return load_settings(
        home=report_home.home,
        database=f"sqlite:///{store}",
        ui_secret="report pages secret",
        warehouse="",
    )


@pytest.fixture(scope="module")
def app(settings: Settings) -> FastAPI:
    application = create_web_app(settings)  # migrates the store
    store = create_store_engine(settings.database_url)
    for username, (role, language) in USERS.items():
        create_user(store, username, PASSWORD, role=role, language=language)
    store.dispose()
    return application


def logged_in(app: FastAPI, username: str | None) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    if username is None:
        return client
    token = CSRF.search(client.get("/login").text)
    assert token is not None
    answer = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)},
    )
    assert answer.status_code == 303, answer.text
    return client


@pytest.fixture(scope="module")
def clients(app: FastAPI) -> dict[str, TestClient]:
    return {username: logged_in(app, username) for username in USERS}


def figures(html: str) -> dict[str, dict[str, Any]]:
    return {name: json.loads(text) for name, text in FIGURE.findall(html)}


def table_rows(html: str) -> list[list[str]]:
    """The cells of the first report table's body, as text."""
    body = html.split('<div class="table-wrap report-table">', 1)[1].split("</tbody>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>", 1)[1], re.S)
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in rows
    ]


def csv_rows(client: TestClient, path: str) -> list[list[str]]:
    answer = client.get(path)
    assert answer.status_code == 200, answer.text[:2000]
    assert answer.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))


# --- every page ------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["vera", "vika"])
@pytest.mark.parametrize("slug", SLUGS)
def test_every_report_page_renders_its_chart_and_table_for_a_viewer(
    clients: dict[str, TestClient], slug: str, username: str
) -> None:
    language = USERS[username][1]
    answer = clients[username].get(f"/reports/{slug}")
    assert answer.status_code == 200, answer.text[-2000:]
    definition = REPORTS[slug]
    assert f"<h1>{translate(definition.title, language)}</h1>" in answer.text
    figure = figures(answer.text)[slug]
    assert figure["data"], "the chart has no traces"
    assert "/static/vendor/plotly.min.js" in answer.text
    rows = table_rows(answer.text)
    assert rows and len(rows[0]) > 1
    for measure in definition.measures:
        assert translate(measure.title, language) in answer.text
    assert f"/assets/{definition.mart}" in answer.text
    if language == "ru":
        assert "Скачать CSV" in answer.text and "Download CSV" not in answer.text


def test_the_index_lists_every_report_and_the_builders_only_for_an_analyst(
    clients: dict[str, TestClient],
) -> None:
    viewer = clients["vera"].get("/reports").text
    for report in REPORT_LIST:
        assert f'href="/reports/{report.slug}"' in viewer
        assert escape(report.description[:30]) in viewer
    assert 'href="/reports/funnel"' not in viewer
    analyst = clients["anya"].get("/reports").text
    assert 'href="/reports/funnel"' in analyst and 'href="/reports/cohorts"' in analyst
    assert "Отчёты" in analyst


@pytest.mark.parametrize("username", ["ana", "anya"])
def test_the_funnel_builder_shows_the_funnel_of_three_steps(
    clients: dict[str, TestClient], username: str
) -> None:
    answer = clients[username].get(FUNNEL)
    assert answer.status_code == 200, answer.text[-2000:]
    figure = figures(answer.text)["funnel"]
    entered = figure["data"][0]["y"]
    assert len(table_rows(answer.text)) == 3
    assert "Product Added" in answer.text
    assert entered if isinstance(entered, list) else entered["bdata"]
    if USERS[username][1] == "ru":
        assert "Конверсия от первого шага" in answer.text


def test_the_funnel_builder_takes_filters_and_a_breakdown(clients: dict[str, TestClient]) -> None:
    answer = clients["ana"].get(
        "/reports/funnel?step=Product+Viewed&where=price>0&step=Order+Completed&where="
        "&breakdown=traffic_source&order=any&window=2w"
    )
    assert answer.status_code == 200, answer.text[-2000:]
    traces = figures(answer.text)["funnel"]["data"]
    assert len(traces) > 1  # one per traffic source
    assert "traffic_source" in answer.text


@pytest.mark.parametrize("username", ["ana", "anya"])
def test_the_cohort_builder_shows_a_heat_map(clients: dict[str, TestClient], username: str) -> None:
    answer = clients[username].get("/reports/cohorts?by=first_seen&period=week&activity=order")
    assert answer.status_code == 200, answer.text[-2000:]
    assert figures(answer.text)["cohorts"]["data"][0]["type"] == "heatmap"
    assert table_rows(answer.text)


def test_the_cohort_builder_default_matches_the_mart(clients: dict[str, TestClient]) -> None:
    """The builder lists the cells with someone active; the mart is dense (zeros too)."""
    built = table_rows(clients["ana"].get("/reports/cohorts").text)
    mart = csv_rows(clients["ana"], "/reports/cohort-retention.csv")
    active = [row for row in mart[1:] if int(row[4]) > 0]
    assert len(built) == len(active)
    assert sum(int(row[3].replace(",", "")) for row in built) == sum(int(row[4]) for row in active)


# --- exports ---------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", SLUGS)
def test_csv_and_xlsx_exports_have_the_rows_of_the_page(
    clients: dict[str, TestClient], slug: str
) -> None:
    client = clients["vika"]
    page = client.get(f"/reports/{slug}?by={REPORTS[slug].by[-1]}")
    shown = table_rows(page.text)
    exported = csv_rows(client, f"/reports/{slug}.csv?by={REPORTS[slug].by[-1]}")
    header, rows = exported[0], exported[1:]
    assert len(rows) == len(shown)
    assert header[0] == translate(REPORTS[slug].dimension(REPORTS[slug].by[-1]).title, "ru")
    workbook_answer = client.get(f"/reports/{slug}.xlsx?by={REPORTS[slug].by[-1]}")
    assert workbook_answer.status_code == 200
    sheet = load_workbook(io.BytesIO(workbook_answer.content)).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert [str(cell) for cell in values[0]] == header
    assert len(values) - 1 == len(rows)
    for csv_row, xlsx_row in zip(rows, values[1:], strict=True):
        first = xlsx_row[0]
        text = (
            first.date().isoformat()
            if hasattr(first, "date")
            else ("" if first is None else str(first))
        )
        assert text == csv_row[0]


def test_xlsx_numbers_have_number_formats(clients: dict[str, TestClient]) -> None:
    answer = clients["vera"].get("/reports/communications.xlsx?by=day")
    sheet = load_workbook(io.BytesIO(answer.content)).active
    assert sheet is not None
    header = [cell.value for cell in sheet[1]]
    row = sheet[2]
    assert row[header.index("Day")].number_format == "yyyy-mm-dd"
    assert row[header.index("Sent")].number_format == "#,##0"
    assert row[header.index("Open rate")].number_format == "0.0%"


# --- filters -----------------------------------------------------------------------------------


def test_a_channel_filter_leaves_only_that_channel(clients: dict[str, TestClient]) -> None:
    client = clients["vera"]
    everything = csv_rows(client, "/reports/communications.csv?by=channel")
    assert len(everything) - 1 > 1  # several channels
    email = csv_rows(client, "/reports/communications.csv?by=channel&channel=email")
    assert [row[0] for row in email[1:]] == ["email"]
    by_day = csv_rows(client, "/reports/communications.csv?by=day&channel=email")
    all_days = csv_rows(client, "/reports/communications.csv?by=day")
    assert sum(int(row[1]) for row in by_day[1:]) == int(email[1][1])
    assert sum(int(row[1]) for row in by_day[1:]) < sum(int(row[1]) for row in all_days[1:])


def test_a_period_filter_keeps_the_days_inside_it(clients: dict[str, TestClient]) -> None:
    client = clients["vera"]
    days = [row[0] for row in csv_rows(client, "/reports/traffic.csv?by=day")[1:]]
    start, end = days[len(days) // 4], days[len(days) // 2]
    kept = csv_rows(client, f"/reports/traffic.csv?by=day&from={start}&to={end}")[1:]
    assert kept and all(start <= row[0] <= end for row in kept)
    assert len(kept) < len(days)


def test_the_grain_of_client_growth_changes_the_periods(clients: dict[str, TestClient]) -> None:
    weeks = csv_rows(clients["vera"], "/reports/client-growth.csv?grain=week")[1:]
    months = csv_rows(clients["vera"], "/reports/client-growth.csv?grain=month")[1:]
    assert all(date.fromisoformat(row[0]).weekday() == 0 for row in weeks)
    assert all(row[0].endswith("-01") for row in months)
    assert len(weeks) > len(months)
    new_total = sum(int(row[1]) for row in weeks)
    assert new_total == sum(int(row[1]) for row in months)
    net = sum(int(row[4]) for row in months)
    assert int(months[-1][5]) == net  # the running total of net growth


def test_a_breakdown_splits_the_chart(clients: dict[str, TestClient]) -> None:
    answer = clients["vera"].get("/reports/traffic?by=day&breakdown=source")
    names = {trace["name"] for trace in figures(answer.text)["traffic"]["data"]}
    assert names >= {"direct"} and len(names) > 1


@pytest.mark.parametrize(
    "path",
    [
        "/reports/communications?channel=fax",
        "/reports/communications?campaign=no-such-campaign",
        "/reports/communications?by=weather",
        "/reports/communications?from=yesterday",
        "/reports/communications?from=2026-10-01&to=2026-01-01",
        "/reports/client-growth?grain=year",
        "/reports/traffic?breakdown=moon",
        "/reports/traffic?measure=happiness",
        "/reports/click-map?campaign=%27%3B+drop+table+report_bounces%3B+--",
        "/reports/communications.csv?channel=fax",
        "/reports/funnel?step=Product+Viewed&where=&window=forever",
        "/reports/funnel?step=Product+Viewed&where=colour%3Dred",
        "/reports/cohorts?by=zodiac",
    ],
)
def test_a_bad_filter_value_gives_a_friendly_400_page(
    clients: dict[str, TestClient], path: str
) -> None:
    answer = clients["ana"].get(path)
    assert answer.status_code == 400, answer.text[-2000:]
    assert 'role="alert"' in answer.text
    assert "Traceback" not in answer.text


def test_a_bad_filter_value_is_explained_in_russian(clients: dict[str, TestClient]) -> None:
    answer = clients["vika"].get("/reports/communications?channel=fax")
    assert answer.status_code == 400
    assert "в этом отчёте нет" in answer.text


def test_an_unknown_report_is_404(clients: dict[str, TestClient]) -> None:
    assert clients["vera"].get("/reports/horoscope").status_code == 404
    assert clients["vera"].get("/reports/communications.pdf").status_code == 404


# --- access -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/reports/funnel", "/reports/cohorts", FUNNEL])
def test_a_viewer_cannot_open_the_builders(clients: dict[str, TestClient], path: str) -> None:
    assert clients["vera"].get(path).status_code == 403


@pytest.mark.parametrize(
    "path", ["/reports", "/reports/communications", "/reports/traffic.csv", "/reports/funnel"]
)
def test_anonymous_visitors_are_sent_to_log_in(app: FastAPI, path: str) -> None:
    answer = logged_in(app, None).get(path)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=")


def test_the_menu_shows_reports_and_the_builders_to_whom_may_open_them(
    clients: dict[str, TestClient],
) -> None:
    viewer = clients["vera"].get("/").text
    assert 'href="/reports"' in viewer and 'href="/reports/funnel"' not in viewer
    analyst = clients["ana"].get("/").text
    assert 'href="/reports/funnel"' in analyst and 'href="/reports/cohorts"' in analyst


def test_a_home_without_a_warehouse_says_the_reports_are_not_built_yet(
    tmp_path: Path, settings: Settings
) -> None:
    empty = load_settings(home=tmp_path / "empty", database="", ui_secret="", warehouse="")
    application = create_web_app(empty)
    store = create_store_engine(empty.database_url)
    create_user(store, "nora", PASSWORD, role="analyst")
    store.dispose()
    client = TestClient(application, follow_redirects=False)
    token = CSRF.search(client.get("/login").text)
    assert token is not None
    client.post("/login", data={"username": "nora", "password": PASSWORD, "csrf_token": token[1]})
    for path in ("/reports/communications", "/reports/ltv", "/reports/funnel", "/reports/cohorts"):
        answer = client.get(path)
        assert answer.status_code == 200, answer.text[-1000:]
        assert "not built yet" in answer.text and "herald materialize" in answer.text


# --- engines -----------------------------------------------------------------------------------

ENGINE_CASES: list[tuple[str, dict[str, str]]] = [
    (slug, {"by": by}) for report in REPORT_LIST for slug in [report.slug] for by in report.by[:2]
] + [
    ("communications", {"by": "day", "breakdown": "channel", "channel": "email"}),
    ("traffic", {"by": "device", "from": "2025-06-01", "to": "2026-03-31"}),
    ("client-growth", {"grain": "week", "breakdown": "source"}),
]
_CHDB_SCRIPT = """
import json, sys
from datetime import date
from herald.reports.catalog import known_events, predicted_ltv, query_report
from herald.warehouse.chdb_engine import ChdbWarehouse
warehouse = ChdbWarehouse(sys.argv[1], read_only=True)
out = []
for slug, filters in json.loads(sys.argv[2]):
    rows = query_report(warehouse, slug, filters).rows
    out.append([[v.isoformat() if isinstance(v, date) else v for v in row] for row in rows])
predicted = predicted_ltv(warehouse, "customers")
events = known_events(warehouse)
print(json.dumps({"rows": out, "predicted": [predicted.profiles, [b[2] for b in predicted.bins]],
                  "events": events}))
"""


def _comparable(rows: list[list[Any]]) -> list[tuple[Any, ...]]:
    """Rows with dates as ISO text, in an order both engines agree on (NULL first)."""

    def plain(value: Any) -> Any:
        return value.isoformat() if isinstance(value, date) else value

    def order(row: tuple[Any, ...]) -> tuple[tuple[bool, Any], ...]:
        return tuple(
            (value is not None, round(value, 3) if isinstance(value, float) else value)
            for value in row
        )

    return sorted((tuple(plain(value) for value in row) for row in rows), key=order)


def _same_rows(first: list[tuple[Any, ...]], second: list[tuple[Any, ...]]) -> bool:
    """Equal rows, floats within 1e-9 relative (the engines sum in different orders)."""

    def same(a: Any, b: Any) -> bool:
        if isinstance(a, float) or isinstance(b, float):
            return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9)
        return bool(a == b)

    return len(first) == len(second) and all(
        len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
        for a, b in zip(first, second, strict=True)
    )


def test_query_report_gives_the_same_rows_on_duckdb_and_chdb(report_home: ReportHome) -> None:
    """chdb is read by a subprocess: this worker may hold another chdb path. The click map
    shows one campaign: the one with most clicks, named here since campaigns may tie."""
    duckdb = DuckDBWarehouse(report_home.duckdb_path, read_only=True)
    top_campaign = duckdb.scalar(
        "select campaign_id from report_email_click_map where campaign_id <> ''"
        " group by campaign_id order by sum(clicks) desc, campaign_id limit 1"
    )
    cases = [
        (slug, {**filters, "campaign": top_campaign} if slug == "click-map" else filters)
        for slug, filters in ENGINE_CASES
    ]
    with report_home.chdb_held():
        completed = subprocess.run(
            [
                sys.executable,
                "-c",
                _CHDB_SCRIPT,
                str(report_home.chdb_path),
                json.dumps(cases),
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
            env=_environment(report_home.home),
            timeout=300,
        )
    assert completed.returncode == 0, completed.stderr[-3000:]
    from_chdb = json.loads(completed.stdout.strip().splitlines()[-1])
    assert known_events(duckdb) == from_chdb["events"]
    predicted = predicted_ltv(duckdb, "customers")
    assert predicted is not None
    profiles, bins = from_chdb["predicted"]
    assert profiles == predicted.profiles == sum(bins) == sum(b[2] for b in predicted.bins)
    for (slug, filters), chdb_rows in zip(cases, from_chdb["rows"], strict=True):
        duck_rows = query_report(duckdb, slug, filters).rows
        assert duck_rows, (slug, filters)
        duck, chdb = _comparable(duck_rows), _comparable(chdb_rows)
        assert _same_rows(duck, chdb), (slug, filters, duck, chdb)
