"""The report pages in a real browser, on the run's shared report home
(tests.support.report_home: 500 profiles, seed 7, materialised) served by `herald serve ui`:
every report in English and Russian draws its plotly chart and shows its table with no console
errors, the funnel builder with three steps draws its funnel, and at phone width nothing sticks
out of the page."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from herald.i18n import translate
from herald.reports.catalog import REPORT_LIST
from herald.store.engine import create_store_engine
from herald.store.migrate import migrate
from herald.users import create_user
from tests.browser.conftest import PASSWORD, OpenPage, WebUI, log_in, served_ui
from tests.support.report_home import ReportHome

Screenshot = Callable[[Page, str], Path]
USERS = {"en": "ana", "ru": "anya"}  # analysts, so the builders open too
CHART_LIMIT_MS = 30_000


@pytest.fixture(scope="module")
def report_ui(report_home: ReportHome, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebUI]:
    """`herald serve ui` on the shared report home, with a store (an analyst per language)
    and session key of this module's own, so the shared home is only read."""
    folder = tmp_path_factory.mktemp("browser-reports")
    store_url = f"sqlite:///{folder / 'herald.sqlite'}"
    store = create_store_engine(store_url)
    migrate(store)
    for language, username in USERS.items():
        create_user(store, username, PASSWORD, role="analyst", language=language)
    store.dispose()
    env = {"HERALD_DATABASE": store_url, "HERALD_UI_SECRET": "browser report pages secret"}
    with served_ui(report_home.home, folder / "web-ui.log", env) as url:
        yield WebUI(url=url, home=report_home.home)


def expect_chart(page: Page, chart_id: str) -> None:
    """Plotly has drawn the chart: its div is a `.js-plotly-plot` with an svg inside."""
    chart = page.locator(f"#chart-{chart_id}.js-plotly-plot")
    expect(chart).to_have_count(1, timeout=CHART_LIMIT_MS)
    expect(chart.locator("svg.main-svg").first).to_be_visible(timeout=CHART_LIMIT_MS)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_every_report_page_draws_its_chart_and_shows_its_table(
    report_ui: WebUI, open_page: OpenPage, screenshot: Screenshot, language: str
) -> None:
    page = open_page(language)
    log_in(page, report_ui, USERS[language])
    for report in REPORT_LIST:
        page.goto(f"{report_ui.url}/reports/{report.slug}")
        expect(page.locator("html")).to_have_attribute("lang", language)
        expect(page.get_by_role("heading", level=1)).to_have_text(translate(report.title, language))
        expect_chart(page, report.slug)
        expect(page.locator(".report-table table").first).to_be_visible()
        assert page.locator(".report-table tbody tr").count() > 0
        if report.slug == "ltv":
            expect_chart(page, "predicted")
        screenshot(page, f"{report.slug}-{language}")


def test_the_reports_index_links_every_report(
    report_ui: WebUI, open_page: OpenPage, screenshot: Screenshot
) -> None:
    page = open_page("ru")
    log_in(page, report_ui, USERS["ru"])
    page.get_by_role("navigation", name="Главное меню").get_by_role("link", name="Отчёты").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Отчёты")
    expect(page.locator(".report-card")).to_have_count(len(REPORT_LIST) + 2)
    screenshot(page, "ru")


def test_the_funnel_builder_with_three_steps_draws_the_funnel(
    report_ui: WebUI, open_page: OpenPage, screenshot: Screenshot
) -> None:
    page = open_page("en")
    log_in(page, report_ui, USERS["en"])
    page.goto(f"{report_ui.url}/reports/funnel")
    for number, event in enumerate(("Product Viewed", "Product Added", "Order Completed"), 1):
        page.select_option(f"#step-{number}", event)
    page.fill("#where-1", "price>0")
    page.fill("#f-window", "30d")
    page.get_by_role("button", name="Build the funnel").click()
    page.wait_for_url("**/reports/funnel?**")
    expect_chart(page, "funnel")
    expect(page.locator(".report-table tbody tr")).to_have_count(3)
    expect(page.locator("#step-4")).to_be_visible()  # a row for another step
    screenshot(page, "en")


def test_the_cohort_builder_draws_a_heat_map(
    report_ui: WebUI, open_page: OpenPage, screenshot: Screenshot
) -> None:
    page = open_page("ru")
    log_in(page, report_ui, USERS["ru"])
    page.goto(f"{report_ui.url}/reports/cohorts")
    page.select_option("#f-period", "week")
    page.select_option("#f-by", "first_seen")
    page.get_by_role("button", name="Построить когорты").click()
    page.wait_for_url("**/reports/cohorts?**")
    expect_chart(page, "cohorts")
    screenshot(page, "ru")


@pytest.mark.parametrize("slug", ["communications", "traffic", "cohort-retention", "ltv"])
def test_at_phone_width_a_report_page_does_not_overflow(
    report_ui: WebUI, open_page: OpenPage, screenshot: Screenshot, slug: str
) -> None:
    page = open_page("ru", width=375, height=740)
    log_in(page, report_ui, USERS["ru"])
    page.goto(f"{report_ui.url}/reports/{slug}")
    expect_chart(page, slug)
    sizes = page.evaluate(
        """() => {
          const wrap = document.querySelector('.report-table');
          const chart = document.querySelector('.js-report-chart');
          return {
            viewport: window.innerWidth,
            document: document.documentElement.scrollWidth,
            body: document.body.scrollWidth,
            wrapRight: wrap.getBoundingClientRect().right,
            wrapScroll: wrap.scrollWidth,
            wrapClient: wrap.clientWidth,
            chartRight: chart.getBoundingClientRect().right,
          };
        }"""
    )
    assert sizes["document"] <= sizes["viewport"], sizes
    assert sizes["body"] <= sizes["viewport"], sizes
    assert sizes["wrapRight"] <= sizes["viewport"], sizes
    assert sizes["chartRight"] <= sizes["viewport"], sizes
    assert sizes["wrapScroll"] > sizes["wrapClient"], "the table scrolls inside its own box"
    screenshot(page, "ru")
