"""A running web UI and a headless Chromium to drive it.

The web UI runs as `python -m herald.cli serve ui --port <free port>` in a subprocess on a
temporary HERALD_HOME with an admin (`admin`) and a viewer (`viewer`). The browser is Debian's
Chromium at /usr/bin/chromium (HERALD_CHROMIUM overrides; `deploy/browser.sh ensure`
installs it); without it the browser tests are skipped, saying so. Every test fails if the
page logs a console error or throws; screenshots go to
var/test-artifacts/screenshots/<test>-<language>.png.
"""

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from herald.settings import load_settings
from herald.store.engine import create_store_engine
from herald.store.migrate import migrate
from herald.users import create_user

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "var" / "test-artifacts" / "screenshots"
PASSWORD = "browser test password"
SERVER_START_LIMIT_S = 60


def chromium_path() -> Path:
    return Path(os.environ.get("HERALD_CHROMIUM") or "/usr/bin/chromium")


@dataclass(frozen=True)
class WebUI:
    url: str
    home: Path
    password: str = PASSWORD


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def served_ui(home: Path, log_path: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """`herald serve ui` on HERALD_HOME=home in a subprocess (any HERALD_WAREHOUSE,
    HERALD_DATABASE or HERALD_UI_SECRET of the test environment dropped, then `env` set),
    logging to log_path; yields its URL once it answers."""
    port = _free_port()
    environment = {**os.environ, "HERALD_HOME": str(home)}
    for name in ("HERALD_WAREHOUSE", "HERALD_DATABASE", "HERALD_UI_SECRET"):
        environment.pop(name, None)
    environment.update(env or {})
    log = log_path.open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "herald.cli", "serve", "ui", "--port", str(port)],
        cwd=REPO,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_LIMIT_S
        while True:
            if server.poll() is not None:
                pytest.fail(f"herald serve ui exited: {log_path.read_text()}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"herald serve ui did not answer: {log_path.read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="session")
def web_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebUI]:
    """The web UI served by `herald serve ui` in a subprocess, with two users."""
    home = tmp_path_factory.mktemp("browser") / "home"
    settings = load_settings(home=home, database="", ui_secret="")
    store = create_store_engine(settings.database_url)
    migrate(store)
    create_user(store, "admin", PASSWORD, role="admin")
    create_user(store, "viewer", PASSWORD, role="viewer")
    store.dispose()
    with served_ui(home, home / "web-ui.log") as url:
        yield WebUI(url=url, home=home)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = chromium_path()
    if not executable.is_file():
        pytest.skip(
            f"no Chromium at {executable}: run `bash deploy/browser.sh ensure` (installs "
            "Debian's chromium) or set HERALD_CHROMIUM"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(executable),
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        yield launched
        launched.close()


@dataclass
class PageProblems:
    """Console errors and uncaught exceptions of the pages a test opened."""

    errors: list[str] = field(default_factory=list)
    expected: list[re.Pattern[str]] = field(default_factory=list)

    def expect(self, pattern: str) -> None:
        """A console error the test causes on purpose (say, a 403 answer) is not a problem."""
        self.expected.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.expected)]


@pytest.fixture
def problems() -> PageProblems:
    return PageProblems()


OpenPage = Callable[..., Page]


@pytest.fixture
def open_page(browser: Browser, problems: PageProblems) -> Iterator[OpenPage]:
    """`open_page(language="ru", width=375)`: a page in a fresh browser context (no cookies)
    whose console errors and page errors fail the test."""
    contexts = []

    def opener(language: str = "en", width: int = 1280, height: int = 800) -> Page:
        context = browser.new_context(
            locale={"en": "en-US", "ru": "ru-RU"}[language],
            viewport={"width": width, "height": height},
        )
        contexts.append(context)
        page = context.new_page()

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                problems.errors.append(f"console: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: problems.errors.append(f"page error: {error}"))
        return page

    yield opener
    for context in contexts:
        context.close()
    unexpected = problems.unexpected()
    if unexpected:
        pytest.fail("the page logged errors:\n" + "\n".join(unexpected))


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[Page, str], Path]:
    """`screenshot(page, "ru")` saves var/test-artifacts/screenshots/<test>-ru.png."""

    def take(page: Page, language: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        path = SCREENSHOTS / f"{name}-{language}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def log_in(page: Page, web_ui: WebUI, username: str) -> None:
    page.goto(f"{web_ui.url}/login")
    page.fill("#username", username)
    page.fill("#password", web_ui.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{web_ui.url}/")
