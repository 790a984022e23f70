"""The web tracking snippet (tracking/static/t.js) on a real page in headless Chromium, against
the real tracker, RabbitMQ and loader.

A site on its own port (so CORS is real) serves tests/browser/pages/tracking_snippet.html,
which loads `<tracker>/t.js` with the write key and queues one call before the snippet loads.
A visitor lands from an e-mail link (UTM parameters and a signed `hrd_t` identify token),
clicks a `data-herald-event` button, completes a goal and submits a `data-herald-form` form,
which leads to a thank-you page that also runs the snippet. The loader then drains the queue,
and the tests read what landed: the events and the profile records.

How a session ends after 30 idle minutes and which domain the id cookie goes on are checked
on a made-up site (`www.shop.test`) whose pages and tracker Playwright answers itself, so the
stored session can be set to any age.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pyarrow.parquet as pq
import pytest
from playwright.sync_api import Browser, Route

from herald.tokens import TokenKeys, TrackingToken, sign_token
from tests.support.tracking import TrackingHome, accepted_total

pytestmark = pytest.mark.slow

PAGE = Path(__file__).parent / "pages" / "tracking_snippet.html"
THANKS = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Thank you</title>
<link rel="icon" href="data:,">
<script async src="{{tracker}}/t.js" data-write-key="{{write_key}}"></script>
</head><body><h1>Thank you</h1></body></html>
"""
LANDING_QUERY = "utm_source=newsletter&utm_medium=email&utm_campaign=c1"
EMAIL = "ana@example.com"
PASSWORD = "never-send-me-7391"
FULL_NAME = "Ana Example"
# identify, the landing page view, the queued call, the click, the goal, the form and the
# thank-you page view
EXPECTED_CALLS = 7
SENT_LIMIT_S = 30
SNIPPET_LIMIT_BYTES = 10 * 1024
SNIPPET = Path(__file__).resolve().parents[2] / "tracking" / "static" / "t.js"
MADE_UP_SITE = "http://www.shop.test"
MADE_UP_TRACKER = "http://tracker.test"


@dataclass(frozen=True)
class Visit:
    """What one visit sent, as the loader landed it, and what the browser kept."""

    events: list[dict[str, Any]]
    profile_fields: list[dict[str, Any]]  # the `fields` JSON of each landed profile record
    address_after_load: str
    cookie_anonymous_id: str | None
    stored_anonymous_id: str | None
    snippet_encoding: str | None
    snippet_gzipped_bytes: int
    page_problems: list[str]

    def one(self, event: str, path: str | None = None) -> dict[str, Any]:
        found = [
            row
            for row in self.events
            if row["event"] == event and (path is None or row["path"] == path)
        ]
        assert len(found) == 1, f"{len(found)} {event!r} events landed: {self.events}"
        return found[0]


def _render(template: str, tracker: str, write_key: str, title: str = "") -> bytes:
    return (
        template.replace("{{tracker}}", tracker)
        .replace("{{write_key}}", write_key)
        .replace("{{title}}", title)
        .encode("utf-8")
    )


@contextmanager
def served_site(tracker: str, write_key: str) -> Iterator[str]:
    """The site with the snippet installed, on a port of its own: GET /landing, POST /thanks."""
    landing = _render(PAGE.read_text("utf-8"), tracker, write_key, "Spring sale")
    thanks = _render(THANKS, tracker, write_key)

    class Site(BaseHTTPRequestHandler):
        def _html(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path.startswith("/landing"):
                self._html(landing)
            else:
                self.send_error(404)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._html(thanks)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def wait_until_accepted(tracker: str, count: int) -> None:
    deadline = time.monotonic() + SENT_LIMIT_S
    while (accepted := accepted_total(tracker)) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"the tracker accepted {accepted} of {count} calls in {SENT_LIMIT_S} s")
        time.sleep(0.2)


def landed_rows(paths: list[Path]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in paths:
        rows.extend(pq.read_table(path).to_pylist())
    return rows


@pytest.fixture(scope="module")
def visit(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Visit]:
    service = TrackingHome.create(tmp_path_factory.mktemp("tracking-snippet"))
    token = sign_token(
        TrackingToken(kind="identify", database="customers", profile_id="p1"),
        TokenKeys.parse(service.env["HERALD_TRACKING_KEYS"]),
    )
    problems: list[str] = []
    try:
        with (
            service.tracker(workers=1) as tracker,
            served_site(tracker, service.write_key) as site,
        ):
            snippet = httpx.get(f"{tracker}/t.js", headers={"Accept-Encoding": "gzip"})
            context = browser.new_context(locale="en-US")
            try:
                page = context.new_page()
                page.on(
                    "console",
                    lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None,
                )
                page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
                page.goto(f"{site}/landing?{LANDING_QUERY}&hrd_t={quote(token)}")
                page.wait_for_function("() => window.herald && window.herald.loaded === true")
                address = page.url
                page.click("#add-to-cart")
                page.evaluate("() => herald.goal('newsletter_signup', {list: 'weekly'})")
                page.fill("input[name=full_name]", FULL_NAME)
                page.fill("input[name=email]", EMAIL)
                page.fill("input[name=secret]", PASSWORD)
                with page.expect_navigation():
                    page.click("#signup button[type=submit]")
                page.wait_for_function("() => window.herald && window.herald.loaded === true")
                stored = page.evaluate("() => localStorage.getItem('hrd_aid')")
                cookies = {c["name"]: c["value"] for c in context.cookies()}
                wait_until_accepted(tracker, EXPECTED_CALLS)
            finally:
                context.close()
        service.load()
        yield Visit(
            events=landed_rows(service.landed("events")),
            profile_fields=[
                json.loads(row["fields"]) for row in landed_rows(service.landed("profile_records"))
            ],
            address_after_load=address,
            cookie_anonymous_id=cookies.get("hrd_aid"),
            stored_anonymous_id=stored,
            snippet_encoding=snippet.headers.get("content-encoding"),
            snippet_gzipped_bytes=int(snippet.headers["content-length"]),
            page_problems=problems,
        )
    finally:
        service.delete_queues()


def test_the_landing_page_view_arrives_with_its_page_campaign_and_ids(visit: Visit) -> None:
    view = visit.one("Page Viewed", path="/landing")
    assert view["type"] == "page"
    assert view["url"].endswith(f"/landing?{LANDING_QUERY}")
    assert view["title"] == "Spring sale"
    assert (view["utm_source"], view["utm_medium"], view["utm_campaign"]) == (
        "newsletter",
        "email",
        "c1",
    )
    assert view["session_id"]
    assert view["anonymous_id"] == visit.cookie_anonymous_id


def test_a_marked_click_is_tracked_with_its_data_attributes(visit: Visit) -> None:
    click = visit.one("Product Added")
    assert json.loads(click["properties"]) == {"product_id": "SKU-42", "category": "shoes"}
    assert (click["product_id"], click["category"]) == ("SKU-42", "shoes")


def test_a_goal_is_tracked_as_goal_completed(visit: Visit) -> None:
    goal = visit.one("Goal Completed")
    assert goal["goal"] == "newsletter_signup"
    assert json.loads(goal["properties"]) == {"list": "weekly", "goal": "newsletter_signup"}


def test_a_marked_form_sends_its_name_and_the_email_only(visit: Visit) -> None:
    form = visit.one("Form Submitted")
    assert json.loads(form["properties"]) == {"form_id": "newsletter", "email": EMAIL}
    everything = json.dumps(visit.events, default=str)
    assert PASSWORD not in everything
    assert FULL_NAME not in everything


def test_calls_queued_before_the_snippet_loaded_are_replayed(visit: Visit) -> None:
    queued = visit.one("Queued Before Load")
    assert json.loads(queued["properties"]) == {"plan": "pro"}


def test_every_event_has_the_browsers_one_anonymous_id_and_session(visit: Visit) -> None:
    assert len(visit.events) == EXPECTED_CALLS
    assert visit.cookie_anonymous_id
    assert visit.stored_anonymous_id == visit.cookie_anonymous_id
    assert {row["anonymous_id"] for row in visit.events} == {visit.cookie_anonymous_id}
    assert len({row["session_id"] for row in visit.events}) == 1


def test_the_campaign_is_kept_for_the_session(visit: Visit) -> None:
    thanks = visit.one("Page Viewed", path="/thanks")
    assert thanks["url"].endswith("/thanks")
    assert (thanks["utm_source"], thanks["utm_campaign"]) == ("newsletter", "c1")


def test_every_call_carries_the_segment_common_fields(visit: Visit) -> None:
    assert len({row["message_id"] for row in visit.events}) == EXPECTED_CALLS
    for row in visit.events:
        context = json.loads(row["context"])
        assert context["library"]["name"] == "herald.js"
        assert context["locale"] == "en-US"
        assert context["userAgent"] == row["user_agent"]
        assert context["page"]["path"] in ("/landing", "/thanks")
        assert row["sent_at"] is not None
        assert row["source"] == "web"


def test_the_email_link_token_links_the_anonymous_id_to_its_profile(visit: Visit) -> None:
    identify = visit.one("Identify")
    assert identify["herald_profile_id"] == "p1"
    assert "heraldToken" not in identify["context"]
    assert {"_profile_id": "p1", "anonymous_id": visit.cookie_anonymous_id} in (
        visit.profile_fields
    )


def test_the_token_leaves_the_address_bar(visit: Visit) -> None:
    assert "hrd_t" not in visit.address_after_load
    assert visit.address_after_load.endswith(f"/landing?{LANDING_QUERY}")


def test_the_snippet_is_served_gzipped_under_10_kb(visit: Visit) -> None:
    assert visit.snippet_encoding == "gzip"
    assert visit.snippet_gzipped_bytes <= SNIPPET_LIMIT_BYTES


def test_the_pages_logged_no_errors(visit: Visit) -> None:
    assert visit.page_problems == []


@dataclass(frozen=True)
class RoutedVisit:
    calls: list[dict[str, Any]]  # the bodies the snippet sent, in order
    cookies: list[dict[str, Any]]


def visit_made_up_site(browser: Browser, stored_session: dict[str, Any]) -> RoutedVisit:
    """Open www.shop.test/landing (no UTM parameters) with `stored_session` in localStorage;
    Playwright answers the page, t.js and the tracker's calls."""
    page_html = _render(PAGE.read_text("utf-8"), MADE_UP_TRACKER, "hwk_made_up", "Made up")
    calls: list[dict[str, Any]] = []

    def tracker(route: Route) -> None:
        if route.request.url.endswith("/t.js"):
            route.fulfill(body=SNIPPET.read_bytes(), content_type="application/javascript")
            return
        calls.append(json.loads(route.request.post_data or "{}"))
        route.fulfill(
            body='{"success":true}',
            content_type="application/json",
            headers={
                "access-control-allow-origin": MADE_UP_SITE,
                "access-control-allow-credentials": "true",
            },
        )

    context = browser.new_context()
    try:
        context.route(f"{MADE_UP_TRACKER}/**", tracker)
        context.route(
            f"{MADE_UP_SITE}/**",
            lambda route: route.fulfill(body=page_html, content_type="text/html"),
        )
        context.add_init_script(
            f"localStorage.setItem('hrd_session', {json.dumps(json.dumps(stored_session))});"
        )
        page = context.new_page()
        page.goto(f"{MADE_UP_SITE}/landing")
        page.wait_for_function("() => window.herald && window.herald.loaded === true")
        deadline = time.monotonic() + 10
        while len(calls) < 2 and time.monotonic() < deadline:  # the page view and queued call
            page.wait_for_timeout(50)
        return RoutedVisit(calls=calls, cookies=context.cookies())
    finally:
        context.close()


def _stored_session(idle_minutes: int) -> dict[str, Any]:
    last = int(time.time() * 1000) - idle_minutes * 60 * 1000
    return {"id": "earlier-session", "campaign": {"source": "newsletter"}, "last": last}


def test_a_session_idle_for_30_minutes_is_renewed_without_its_campaign(
    browser: Browser,
) -> None:
    routed = visit_made_up_site(browser, _stored_session(idle_minutes=31))
    contexts = [call["context"] for call in routed.calls]
    assert len(contexts) == 2
    assert {context["sessionId"] for context in contexts} != {"earlier-session"}
    assert len({context["sessionId"] for context in contexts}) == 1
    assert all("campaign" not in context for context in contexts)


def test_a_session_active_within_30_minutes_goes_on_with_its_campaign(
    browser: Browser,
) -> None:
    routed = visit_made_up_site(browser, _stored_session(idle_minutes=29))
    contexts = [call["context"] for call in routed.calls]
    assert len(contexts) == 2
    assert {context["sessionId"] for context in contexts} == {"earlier-session"}
    assert all(context["campaign"] == {"source": "newsletter"} for context in contexts)


def test_the_anonymous_id_cookie_is_first_party_on_the_sites_domain(browser: Browser) -> None:
    routed = visit_made_up_site(browser, _stored_session(idle_minutes=0))
    cookies = [(c["name"], c["domain"], c["sameSite"]) for c in routed.cookies]
    assert cookies == [("hrd_aid", ".shop.test", "Lax")]
    assert {call["anonymousId"] for call in routed.calls} == {routed.cookies[0]["value"]}
    expires_in_days = (routed.cookies[0]["expires"] - time.time()) / 86400
    assert 364 < expires_in_days <= 365
