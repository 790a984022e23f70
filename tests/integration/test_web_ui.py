"""The web UI's base: log in and out, deny by default, roles, CSRF, languages, formatting,
error pages, and users made with the CLI — through FastAPI's TestClient on a SQLite store
in a temporary HERALD_HOME."""

import re
import stat
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from babel.dates import format_date
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from herald.i18n import N_
from herald.settings import Settings, load_settings
from herald.store.engine import create_store_engine
from herald.store.migrate import migrate
from herald.users import ROLES, at_least, can, create_user, disable, get_user
from tests.support.cli import run_herald
from ui.web import create_web_app
from ui.web.auth import SECRET_FILE, SESSION_COOKIE, access_guard
from ui.web.pages import NavItem, PageRouter, app_routes, is_public
from ui.web.rendering import render

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


# Building the app migrates a new store and every user costs an argon2 hash (a quarter of a
# second by design): the module shares one store and app; tests that add routes build their
# own app on it, and tests that change a user have a user of their own.
USERS = {
    "ada": ("admin", "en"),
    "vera": ("viewer", "en"),
    "ivan": ("marketer", "ru"),
    "dora": ("viewer", "en"),  # disabled by a test
    "lena": ("admin", "en"),  # switches her language in a test
}


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    home = tmp_path_factory.mktemp("web-ui") / "home"
    return load_settings(home=home, database="", ui_secret="")


@pytest.fixture(scope="module")
def store(settings: Settings) -> Iterator[Engine]:
    engine = create_store_engine(settings.database_url)
    migrate(engine)
    for username, (role, language) in USERS.items():
        create_user(engine, username, PASSWORD, role=role, language=language)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def app(settings: Settings, store: Engine) -> FastAPI:
    return create_web_app(settings)


@pytest.fixture
def own_app(settings: Settings, store: Engine) -> FastAPI:
    """An app of the test's own, for tests that add routes to it."""
    return create_web_app(settings)


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app, follow_redirects=False)


def csrf_of(client: TestClient, path: str = "/login") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = CSRF.search(page.text)
    assert found, f"no CSRF field on {path}"
    return found.group(1)


def log_in(client: TestClient, username: str, password: str = PASSWORD) -> None:
    answer = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(client)},
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/"


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "someone", path)


# --- logging in and out --------------------------------------------------------------------


def test_a_user_logs_in_and_sees_the_welcome_and_the_navigation(client: TestClient) -> None:
    log_in(client, "ada")
    home = client.get("/")
    assert home.status_code == 200
    assert "Welcome, ada!" in home.text
    assert 'href="/admin/users"' in home.text and "Log out" in home.text


def test_logging_out_ends_the_session(client: TestClient) -> None:
    log_in(client, "ada")
    out = client.post("/logout", data={"csrf_token": csrf_of(client, "/")})
    assert (out.status_code, out.headers["location"]) == (303, "/login")
    assert client.get("/").headers["location"] == "/login"


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(client: TestClient) -> None:
    answers = []
    for username, password in (("ada", "wrong password"), ("nobody", PASSWORD)):
        answer = client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": csrf_of(client)},
        )
        answers.append(answer)
        assert answer.status_code == 400
        assert "wrong username or password" in answer.text
    assert client.get("/").status_code == 303  # still anonymous
    messages = [re.search(r'role="alert">([^<]+)<', a.text).group(1) for a in answers]  # type: ignore[union-attr]
    assert messages[0] == messages[1]


def test_a_disabled_user_cannot_log_in_and_their_session_ends(
    client: TestClient, store: Engine
) -> None:
    log_in(client, "dora")
    disable(store, "dora")
    assert client.get("/").headers["location"] == "/login"
    answer = client.post(
        "/login",
        data={"username": "dora", "password": PASSWORD, "csrf_token": csrf_of(client)},
    )
    assert answer.status_code == 400 and "wrong username or password" in answer.text


def test_the_session_cookie_is_signed_http_only_and_same_site_lax(
    client: TestClient, settings: Settings
) -> None:
    page = client.get("/login")
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    secret = settings.home / SECRET_FILE
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    client.cookies.set(SESSION_COOKIE, '{"uid": 1}')  # forged: not signed
    assert client.get("/").headers["location"] == "/login"


def test_roles_are_ranked_and_a_higher_role_may_what_a_lower_one_may() -> None:
    assert ROLES == ("viewer", "analyst", "marketer", "admin")
    assert at_least("admin", "viewer") and at_least("marketer", "marketer")
    assert not at_least("analyst", "marketer") and not at_least("boss", "viewer")
    assert can("viewer", "ui.view") and not can("viewer", "users.manage")
    assert can("marketer", "campaigns.send") and not can("analyst", "campaigns.send")
    assert not can("admin", "no.such.permission")


# --- deny by default -------------------------------------------------------------------------


def test_every_route_but_the_public_ones_refuses_an_anonymous_visitor(
    app: FastAPI, client: TestClient
) -> None:
    routes = app_routes(app)
    public = sorted(
        (entry.path, method)
        for entry in routes
        if is_public(entry.path)
        for method in entry.methods
    )
    assert public == [
        ("/healthz", "GET"),
        ("/login", "GET"),
        ("/login", "POST"),
        ("/static/vendor/plotly.min.js", "GET"),
    ]
    checked = 0
    for entry in routes:
        if is_public(entry.path):
            continue
        assert access_guard in entry.dependencies, entry.path
        for method in entry.methods - {"HEAD"}:
            answer = client.request(method, concrete(entry.path), data={"csrf_token": "x"})
            assert answer.status_code == 303, (method, entry.path, answer.status_code)
            assert answer.headers["location"].startswith("/login"), (method, entry.path)
            checked += 1
    assert checked >= 6


def test_a_route_added_later_is_guarded_too(own_app: FastAPI) -> None:
    app = own_app
    client = TestClient(app, follow_redirects=False)
    api = PageRouter(min_role="viewer")

    @api.get("/api/v1/ping")
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    app.include_router(api)

    @app.get("/undeclared")  # not made by a PageRouter: the strictest role
    def undeclared() -> dict[str, str]:
        return {"secret": "yes"}

    anonymous = client.get("/api/v1/ping")
    assert anonymous.status_code == 401 and "error" in anonymous.json()
    assert client.get("/undeclared").status_code == 303
    log_in(client, "vera")
    assert client.get("/api/v1/ping").json() == {"pong": "yes"}
    assert client.get("/undeclared").status_code == 403


def test_a_viewer_gets_403_on_the_admin_pages_and_an_admin_gets_them(
    app: FastAPI, store: Engine
) -> None:
    viewer = TestClient(app, follow_redirects=False)
    log_in(viewer, "vera")
    page = viewer.get("/admin/users")
    assert page.status_code == 403
    assert "You do not have access to this page." in page.text and "Traceback" not in page.text
    token = csrf_of(viewer, "/")
    made = viewer.post(
        "/admin/users",
        data={"username": "eve", "password": PASSWORD, "role": "admin", "csrf_token": token},
    )
    assert made.status_code == 403
    assert 'href="/admin/users"' not in viewer.get("/").text  # not in the viewer's menu

    admin = TestClient(app, follow_redirects=False)
    log_in(admin, "ada")
    assert admin.get("/admin/users").status_code == 200


def test_an_admin_creates_a_user_who_can_then_log_in(app: FastAPI, store: Engine) -> None:
    admin = TestClient(app, follow_redirects=False)
    log_in(admin, "ada")
    made = admin.post(
        "/admin/users",
        data={
            "username": "olga",
            "password": PASSWORD,
            "role": "analyst",
            "language": "ru",
            "csrf_token": csrf_of(admin, "/admin/users"),
        },
    )
    assert made.status_code == 303
    listing = admin.get(made.headers["location"])
    assert "User olga created." in listing.text and "olga" in listing.text
    taken = admin.post(
        "/admin/users",
        data={
            "username": "olga",
            "password": PASSWORD,
            "role": "viewer",
            "csrf_token": csrf_of(admin, "/admin/users"),
        },
    )
    assert taken.status_code == 400 and "the user olga exists already" in taken.text
    olga = TestClient(app, follow_redirects=False)
    log_in(olga, "olga")
    assert "Добро пожаловать, olga!" in olga.get("/").text


# --- CSRF ------------------------------------------------------------------------------------


def test_a_form_without_the_csrf_token_is_refused(client: TestClient, store: Engine) -> None:
    no_token = client.post("/login", data={"username": "ada", "password": PASSWORD})
    assert no_token.status_code == 403
    assert "The form has expired" in no_token.text
    log_in(client, "ada")
    wrong = client.post("/account/language", data={"language": "ru", "csrf_token": "forged"})
    assert wrong.status_code == 403
    assert get_user(store, "ada").language == "en"


# --- languages and formatting ------------------------------------------------------------


def test_the_language_switch_turns_the_pages_russian(client: TestClient, store: Engine) -> None:
    log_in(client, "lena")
    assert "Welcome, lena!" in client.get("/").text
    switched = client.post(
        "/account/language",
        data={"language": "ru", "next": "/admin/users", "csrf_token": csrf_of(client, "/")},
    )
    assert (switched.status_code, switched.headers["location"]) == (303, "/admin/users")
    page = client.get("/")
    assert '<html lang="ru">' in page.text
    assert "Добро пожаловать, lena!" in page.text and "Выйти" in page.text
    assert "Welcome" not in page.text
    assert get_user(store, "lena").language == "ru"


def test_the_login_page_speaks_the_browser_language_or_the_one_picked(
    client: TestClient,
) -> None:
    assert "Вход в Herald" in client.get("/login", headers={"Accept-Language": "ru-RU"}).text
    assert "Log in to Herald" in client.get("/login", headers={"Accept-Language": "de"}).text
    picked = client.get("/login?lang=ru", headers={"Accept-Language": "en"})
    assert "Вход в Herald" in picked.text
    log_in(client, "ada")  # after login the user's own language counts
    assert "Welcome, ada!" in client.get("/").text


def test_numbers_and_dates_are_written_the_way_each_locale_writes_them(app: FastAPI) -> None:
    environment = app.state.templates
    template = environment.from_string(
        "{{ 1234567.891|number }} | {{ 1234.5|decimal }} | {{ 0.256|percent }} | "
        "{{ 1234.5|currency }} | {{ day|date }} | {{ moment|datetime('short') }}"
    )
    values = {"day": date(2026, 11, 26), "moment": datetime(2026, 11, 26, 14, 5, tzinfo=UTC)}
    from babel import Locale

    english = template.render(locale=Locale.parse("en"), **values)
    russian = template.render(locale=Locale.parse("ru"), **values)
    assert english == (
        "1,234,567.891 | 1,234.50 | 26% | RUB1,234.50 | Nov 26, 2026 | 11/26/26, 2:05\u202fPM"
    )
    assert russian == (
        "1\xa0234\xa0567,891 | 1\xa0234,50 | 26\xa0% | 1\xa0234,50\xa0₽ | "
        "26 нояб. 2026\u202fг. | 26.11.2026, 14:05"
    )


def test_the_home_page_writes_today_in_the_users_language(client: TestClient) -> None:
    log_in(client, "ivan")
    page = client.get("/")
    assert format_date(datetime.now(UTC), "long", locale="ru") in page.text
    assert "маркетолог" in page.text


# --- errors, health, static files, charts ----------------------------------------------


def test_errors_are_pages_in_the_users_language_without_a_stack_trace(
    own_app: FastAPI,
) -> None:
    app = own_app
    failing = PageRouter(min_role="viewer")

    @failing.get("/broken")
    def broken() -> None:
        raise RuntimeError("a bug with a secret inside")

    app.include_router(failing)
    client = TestClient(app, follow_redirects=False, raise_server_exceptions=False)
    log_in(client, "ivan")
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and "Такой страницы нет." in missing.text
    crashed = client.get("/broken")
    assert crashed.status_code == 500
    assert "Что-то пошло не так" in crashed.text
    assert "Traceback" not in crashed.text and "secret" not in crashed.text


def test_healthz_is_public_json(client: TestClient) -> None:
    answer = client.get("/healthz")
    assert (answer.status_code, answer.json()) == (200, {"status": "ok"})


def test_plotly_is_served_from_the_package_and_only_chart_pages_load_it(
    own_app: FastAPI,
) -> None:
    app = own_app
    client = TestClient(app, follow_redirects=False)
    import plotly

    script = client.get("/static/vendor/plotly.min.js")
    bundled = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    assert script.status_code == 200 and script.content == bundled.read_bytes()
    assert client.get("/static/herald.css").status_code == 200

    charts = PageRouter(min_role="viewer", nav=[NavItem("/chart", N_("Reports"))])

    @charts.get("/chart", response_class=HTMLResponse)
    def chart(request: Request) -> HTMLResponse:
        return render(request, "home.html", charts=True, now=datetime.now(UTC))

    app.include_router(charts)
    log_in(client, "ada")
    assert "plotly.min.js" not in client.get("/").text
    assert '<script src="/static/vendor/plotly.min.js"' in client.get("/chart").text


# --- the CLI -----------------------------------------------------------------------------------


def test_a_user_made_with_the_cli_logs_in(tmp_path: Path) -> None:
    home = tmp_path / "cli-home"
    made = run_herald(
        ["user", "create", "root", "--role", "admin", "--language", "ru", "--password-stdin"],
        home,
        stdin=PASSWORD + "\n",
    )
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == "created user root (admin, ru)"
    again = run_herald(
        ["user", "create", "root", "--role", "boss", "--password-stdin"], home, stdin="x\n"
    )
    assert again.returncode == 1 and "Traceback" not in again.stderr
    assert again.stderr.startswith("herald: unknown role boss")

    client = TestClient(
        create_web_app(load_settings(home=home, database="")), follow_redirects=False
    )
    log_in(client, "root")
    assert "Добро пожаловать, root!" in client.get("/").text
