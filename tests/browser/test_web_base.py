"""The web UI's base in a real browser: the login page in both languages, logging in, the
navigation at desktop and phone widths, and the 403 page — with no console errors."""

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import OpenPage, PageProblems, WebUI, log_in

Screenshot = Callable[[Page, str], Path]


def test_the_login_page_renders_in_english_and_in_russian(
    web_ui: WebUI, open_page: OpenPage, screenshot: Screenshot
) -> None:
    for language, heading, button in (
        ("en", "Log in to Herald", "Log in"),
        ("ru", "Вход в Herald", "Войти"),
    ):
        page = open_page(language)
        page.goto(f"{web_ui.url}/login")
        expect(page.locator("html")).to_have_attribute("lang", language)
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        expect(page.get_by_role("button", name=button)).to_be_visible()
        screenshot(page, language)


def test_an_admin_logs_in_and_sees_the_navigation(
    web_ui: WebUI, open_page: OpenPage, screenshot: Screenshot
) -> None:
    page = open_page("en")
    log_in(page, web_ui, "admin")
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, admin!")
    navigation = page.get_by_role("navigation", name="Main menu")
    expect(navigation).to_be_visible()
    expect(navigation.get_by_role("link", name="Users")).to_be_visible()
    expect(page.locator(".menu-toggle")).to_be_hidden()
    screenshot(page, "en")


def test_at_phone_width_the_menu_folds_behind_its_button(
    web_ui: WebUI, open_page: OpenPage, screenshot: Screenshot
) -> None:
    page = open_page("en", width=375, height=740)
    log_in(page, web_ui, "admin")
    toggle = page.locator(".menu-toggle")
    navigation = page.locator("#site-nav")
    expect(toggle).to_be_visible()
    expect(navigation).to_be_hidden()
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(navigation).to_be_visible()
    expect(navigation.get_by_role("link", name="Users")).to_be_visible()
    screenshot(page, "en")


def test_a_viewer_opening_the_users_admin_gets_the_403_page(
    web_ui: WebUI, open_page: OpenPage, problems: PageProblems, screenshot: Screenshot
) -> None:
    problems.expect(r"status of 403")  # the browser reports the refused page itself
    page = open_page("en")
    log_in(page, web_ui, "viewer")
    expect(page.get_by_role("link", name="Users")).to_have_count(0)
    answer = page.goto(f"{web_ui.url}/admin/users")
    assert answer is not None and answer.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "You do not have access to this page."
    )
    screenshot(page, "en")
