"""The official browser SDKs, unchanged, configured only with Herald's URL and a write key, send
from a real page in headless Chromium to the real tracker, RabbitMQ and loader.

A site on its own port (so CORS is real) serves each SDK's browser bundle from the npm package
(tests/browser/sdk, installed by `deploy/browser-sdks.sh ensure`) and a page that loads it:

- Segment's analytics-next (UMD bundle), `AnalyticsBrowser.load({writeKey, cdnURL: tracker})`:
  it reads its settings from `<tracker>/v1/projects/<key>/settings`, which point its Segment.io
  destination at the tracker;
- RudderStack's JavaScript SDK v3 (UMD build with its plugins bundled),
  `load(writeKey, tracker, {configUrl: tracker})`: it reads `<tracker>/sourceConfig/`.

On each page the test calls page(), track("Product Viewed", …) and identify("u-1", …), waits
until the tracker has accepted them, runs the loader and reads the events that landed. The
browser must not have asked anything of a host other than this machine.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow.parquet as pq
import pytest
from playwright.sync_api import Browser

from tests.support.tracking import TrackingHome, accepted_total

pytestmark = pytest.mark.slow

BROWSER_TESTS = Path(__file__).parent
MODULES = BROWSER_TESTS / "sdk" / "node_modules"


@dataclass(frozen=True)
class Sdk:
    name: str
    page: Path  # the page that loads the SDK, with {{tracker}}, {{write_key}}, {{title}}
    bundle: str  # the browser bundle the page loads, under node_modules
    library: str  # context.library.name of what it sends
    title: str


SDKS = {
    "segment": Sdk(
        name="segment",
        page=BROWSER_TESTS / "pages" / "segment_analytics_next.html",
        bundle="@segment/analytics-next/dist/umd/index.js",
        library="analytics.js",
        title="Shoe shop (analytics-next)",
    ),
    "rudderstack": Sdk(
        name="rudderstack",
        page=BROWSER_TESTS / "pages" / "rudderstack_analytics_js.html",
        bundle="@rudderstack/analytics-js/dist/npm/modern/bundled/umd/index.js",
        library="RudderLabs JavaScript SDK",
        title="Shoe shop (RudderStack)",
    ),
}
PRODUCT = {"product_id": "SKU-42", "price": 19.9}
USER_ID = "u-1"
TRAITS = {"email": "ana@example.com"}
CALLS_PER_SDK = 3  # page, track, identify
SENT_LIMIT_S = 30
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
# What the test does in the page, the same for both SDKs (analytics-next's calls return
# promises settled on delivery, RudderStack's return nothing: `await` suits both).
SEND = """async ({event, properties, userId, traits}) => {
    await window.sdkReady;
    await sdk.page();
    await sdk.track(event, properties);
    await sdk.identify(userId, traits);
    return await window.sdkAnonymousId();
}"""


@dataclass(frozen=True)
class Visit:
    """What one SDK sent from its page, as the loader landed it, and what the browser did."""

    page_url: str
    anonymous_id: str  # as the SDK in the browser reports it
    events: list[dict[str, Any]]
    requested: list[str]  # every URL the browser asked for
    page_problems: list[str]

    def one(self, kind: str) -> dict[str, Any]:
        found = [row for row in self.events if row["type"] == kind]
        assert len(found) == 1, f"{len(found)} {kind!r} events landed: {self.events}"
        return found[0]


def _missing_bundles() -> list[str]:
    return [sdk.bundle for sdk in SDKS.values() if not (MODULES / sdk.bundle).is_file()]


@contextmanager
def served_site(tracker: str, write_key: str) -> Iterator[str]:
    """The site, on a port of its own: GET /<sdk>/shop (a page), GET /sdk/<file> (node_modules)."""
    pages = {
        f"/{sdk.name}/shop": sdk.page.read_text("utf-8")
        .replace("{{tracker}}", tracker)
        .replace("{{write_key}}", write_key)
        .replace("{{title}}", sdk.title)
        .encode("utf-8")
        for sdk in SDKS.values()
    }
    modules = MODULES.resolve()

    class Site(BaseHTTPRequestHandler):
        def _send(self, body: bytes, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path in pages:
                self._send(pages[path], "text/html; charset=utf-8")
                return
            if path.startswith("/sdk/"):
                file = (modules / path.removeprefix("/sdk/")).resolve()
                if file.is_relative_to(modules) and file.suffix == ".js" and file.is_file():
                    self._send(file.read_bytes(), "application/javascript; charset=utf-8")
                    return
            self.send_error(404)

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


def wait_until_accepted(tracker: str, count: int, sdk: Sdk, problems: list[str]) -> None:
    deadline = time.monotonic() + SENT_LIMIT_S
    while (accepted := accepted_total(tracker)) < count:
        if time.monotonic() > deadline:
            pytest.fail(
                f"{sdk.name}: the tracker accepted {accepted} of {count} calls in "
                f"{SENT_LIMIT_S} s; the page logged: {problems}"
            )
        time.sleep(0.2)


def visit(browser: Browser, site: str, tracker: str, sdk: Sdk, expected_total: int) -> Visit:
    """Open the SDK's page, make its three calls and wait until the tracker has them."""
    problems: list[str] = []
    requested: list[str] = []
    context = browser.new_context(locale="en-US")
    try:
        context.on("request", lambda request: requested.append(request.url))
        page = context.new_page()
        page.on(
            "console",
            lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page_url = f"{site}/{sdk.name}/shop"
        page.goto(page_url)
        anonymous_id = page.evaluate(
            SEND,
            {"event": "Product Viewed", "properties": PRODUCT, "userId": USER_ID, "traits": TRAITS},
        )
        wait_until_accepted(tracker, expected_total, sdk, problems)
    finally:
        context.close()
    return Visit(
        page_url=page_url,
        anonymous_id=anonymous_id,
        events=[],
        requested=requested,
        page_problems=problems,
    )


def _library(row: dict[str, Any]) -> str | None:
    library = json.loads(row["context"] or "{}").get("library") or {}
    return library.get("name") if isinstance(library, dict) else None


@pytest.fixture(scope="module")
def visits(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Visit]]:
    missing = _missing_bundles()
    if missing:
        pytest.skip(
            f"the browser SDKs are not installed ({', '.join(missing)} missing): run "
            "`deploy/browser-sdks.sh ensure` (npm ci into tests/browser/sdk)"
        )
    service = TrackingHome.create(tmp_path_factory.mktemp("tracking-browser-sdks"))
    try:
        found: dict[str, Visit] = {}
        with (
            service.tracker(workers=1) as tracker,
            served_site(tracker, service.write_key) as site,
        ):
            for number, sdk in enumerate(SDKS.values(), start=1):
                found[sdk.name] = visit(browser, site, tracker, sdk, number * CALLS_PER_SDK)
        service.load()
        rows = [row for path in service.landed("events") for row in pq.read_table(path).to_pylist()]
        libraries = {sdk.library: sdk.name for sdk in SDKS.values()}
        unknown = {_library(row) for row in rows} - set(libraries)
        assert not unknown, f"events from unexpected libraries {unknown}: {rows}"
        yield {
            name: replace(
                seen, events=[row for row in rows if libraries.get(_library(row) or "") == name]
            )
            for name, seen in found.items()
        }
    finally:
        service.delete_queues()


@pytest.fixture(params=list(SDKS))
def sent(request: pytest.FixtureRequest, visits: dict[str, Visit]) -> Visit:
    """What one SDK sent (the tests run once per SDK)."""
    return visits[request.param]


def test_each_call_lands_once(sent: Visit) -> None:
    assert sorted(row["type"] for row in sent.events) == ["identify", "page", "track"]


def test_the_page_view_lands_with_the_pages_url_and_title(sent: Visit) -> None:
    view = sent.one("page")
    assert view["event"] == "Page Viewed"
    assert view["url"] == sent.page_url
    assert view["path"] == urlsplit(sent.page_url).path
    assert view["title"] in {sdk.title for sdk in SDKS.values()}


def test_the_track_call_lands_with_its_name_and_properties(sent: Visit) -> None:
    viewed = sent.one("track")
    assert viewed["event"] == "Product Viewed"
    assert json.loads(viewed["properties"]) == PRODUCT
    assert (viewed["product_id"], viewed["price"]) == ("SKU-42", 19.9)


def test_identify_lands_with_the_user_id_and_traits(sent: Visit) -> None:
    identify = sent.one("identify")
    assert identify["event"] == "Identify"
    assert identify["user_id"] == USER_ID
    assert json.loads(identify["traits"])["email"] == TRAITS["email"]


def test_every_event_has_the_browsers_anonymous_id(sent: Visit) -> None:
    assert sent.anonymous_id
    assert {row["anonymous_id"] for row in sent.events} == {sent.anonymous_id}
    assert [row["user_id"] for row in sent.events if row["type"] != "identify"] == [None, None]


def test_every_event_carries_the_page_and_the_sdks_send_time(sent: Visit) -> None:
    assert len({row["message_id"] for row in sent.events}) == CALLS_PER_SDK
    for row in sent.events:
        context = json.loads(row["context"])
        assert context["page"]["url"] == sent.page_url
        assert "Chrome" in row["user_agent"]
        assert row["sent_at"] is not None
        assert row["source"] == "web"


def test_the_browser_asked_nothing_of_another_host(sent: Visit) -> None:
    assert sent.requested
    outside = [url for url in sent.requested if urlsplit(url).hostname not in LOCAL_HOSTS]
    assert outside == []


def test_the_page_logged_no_errors(sent: Visit) -> None:
    assert sent.page_problems == []
