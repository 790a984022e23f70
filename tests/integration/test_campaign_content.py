"""Templates as a marketer writes them, and what happens to them on the way to a real SMTP
server: validation with line numbers, previews for a chosen profile, Russian and English
filters, fragments, template injection blocked in the sandbox, external data from
PostgreSQL and from an HTTP service (a recipient whose data cannot be fetched is failed
with the reason, never sent half-rendered), and the campaigns API.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import URL

from herald.campaigns.catalog import campaign_launches, launch_runs
from herald.campaigns.content import add_connection
from senders.campaigns import activate_campaign
from tests.conftest import libpq_url
from tests.support.campaigns import CampaignShop, profile, shared_folder
from tests.support.sending import MailSink

CLIENTS = 30  # the same shop as the other campaign test modules (built once, copied)
BASE = {
    "channel": "email",
    "subject": "Hello {{ given_name }}",
    "html": "<p>Hello {{ given_name }}</p>",
    "from": "news@shop.test",
}


class Weather(BaseHTTPRequestHandler):
    """A weather service: JSON per city; City2 is down (503)."""

    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        city = parse_qs(urlsplit(self.path).query).get("city", [""])[0]
        Weather.hits.append(city)
        if city == "City2":
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps({"city": city, "forecast": f"sunny in {city}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def weather() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Weather)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, sink: MailSink) -> Iterator[CampaignShop]:
    made = CampaignShop.create(
        tmp_path_factory.mktemp("content"),
        sink,
        clients=CLIENTS,
        shared=shared_folder(tmp_path_factory),
    )
    made.segment("everyone", "{field: bonus_points, op: at_least, value: 0}")
    yield made
    made.close()


@pytest.fixture(scope="module")
def loyalty(postgres_database: URL) -> Iterator[str]:
    """A PostgreSQL schema with each client's loyalty offer."""
    schema = f"loyalty_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(libpq_url(postgres_database), autocommit=True) as connection:
        connection.execute(f"create schema {schema}")
        connection.execute(f"create table {schema}.offers (email text, offer text, price numeric)")
        for n in range(1, CLIENTS + 1):
            connection.execute(
                f"insert into {schema}.offers values (%s, %s, %s)",
                (f"user{n}@example.com", f"offer-{n}", 100 + n),
            )
        try:
            yield schema
        finally:
            connection.execute(f"drop schema {schema} cascade")


def received(sink: MailSink, campaign: str, shop: CampaignShop) -> dict[str, Any]:
    runs = launch_runs(
        shop.store, [launched.id for launched in campaign_launches(shop.store, campaign)]
    )
    ids = {run.id for run in runs}
    return {m.recipients[0]: m.message for m in sink.messages if m.message["X-Herald-Run"] in ids}


def log_states(shop: CampaignShop, campaign: str) -> dict[str, tuple[str, str | None]]:
    runs = launch_runs(
        shop.store, [launched.id for launched in campaign_launches(shop.store, campaign)]
    )
    states: dict[str, tuple[str, str | None]] = {}
    for run in runs:
        for row in shop.sending.log_rows(run.id):
            states[row["recipient"]] = (row["state"], row["diagnostic"])
    return states


# --- validation and preview ------------------------------------------------------------------


def test_a_template_with_a_syntax_error_is_refused_with_its_line(shop: CampaignShop) -> None:
    html = "<p>Hello</p>\n<p>{{ given_name }}</p>\n<p>{% if level %}gold</p>\n"
    path = shop.write("broken.yml", {**BASE, "name": "broken", "html": html})

    done = shop.herald("template", "create", "--file", path)

    assert done.returncode == 1
    assert "html line 3" in done.stderr
    assert "endif" in done.stderr


def test_validation_warns_of_fields_the_profile_database_does_not_have(shop: CampaignShop) -> None:
    path = shop.write("shoes.yml", {**BASE, "name": "shoes", "subject": "Size {{ shoe_size }}"})

    result = shop.ok("template", "validate", "--file", path, "--db", "shop", "--json")

    assert result["valid"] is True
    assert any(
        "shoe_size" in p["message"] and p["severity"] == "warning" for p in result["problems"]
    )


def test_a_preview_renders_for_a_profile_in_its_language(shop: CampaignShop) -> None:
    shop.write(
        "points-footer.html",
        "<p>{{ bonus_points | number }} {{ plural(bonus_points, 'балл', 'балла', 'баллов') }}</p>",
    )
    shop.ok(
        "fragment", "create", "points-footer", "--file", str(shop.folder / "points-footer.html")
    )
    shop.template(
        "points",
        {**BASE, "subject": "{{ given_name }}: {{ bonus_points | currency('RUB') }}",
         "html": "<p>Hi</p>{% include 'points-footer' %}"},
    )  # fmt: skip

    russian = shop.ok("template", "preview", "points", "--db", "shop", "--profile", profile("c3"))
    english = shop.ok("template", "preview", "points", "--db", "shop", "--profile", profile("c2"))

    assert russian["parts"]["subject"] == "Name3: 30,00\xa0₽"
    assert "30 баллов" in russian["parts"]["html"]
    assert english["parts"]["subject"] == "Name2: RUB20.00"


# --- the sandbox ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "subject", "reason"),
    [
        ("walk", "{{ ''.__class__.__mro__[1].__subclasses__() }}", "unsafe"),
        (
            "loop",
            "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
            "loop",
        ),
        ("huge", "{{ 'x' * 100000000 }}", "characters"),
    ],
)
def test_template_injection_fails_each_message_with_the_reason(
    shop: CampaignShop, sink: MailSink, name: str, subject: str, reason: str
) -> None:
    shop.template(f"ssti-{name}", {**BASE, "subject": subject}, cli=False)
    shop.campaign(
        {"name": f"ssti-{name}", "template": f"ssti-{name}", "audience": {"segments": ["everyone"]}}
    )

    activate_campaign(shop.settings, shop.store, f"ssti-{name}")
    shop.work_until_idle()

    states = log_states(shop, f"ssti-{name}")
    assert received(sink, f"ssti-{name}", shop) == {}
    assert len(states) == CLIENTS
    assert all(
        state == "failed" and reason in (diagnostic or "") for state, diagnostic in states.values()
    )


# --- external data ---------------------------------------------------------------------------


def test_external_sql_and_http_data_fill_each_message(
    shop: CampaignShop, sink: MailSink, postgres_database: URL, loyalty: str, weather: str
) -> None:
    add_connection(shop.store, "loyalty", postgres_database.render_as_string(hide_password=False))
    offer_query = f"select offer, price from {loyalty}.offers where email = :email"
    offer = {"connection": "loyalty", "rows": "one", "query": offer_query,
             "params": {"email": "{{ email }}"}}  # fmt: skip
    forecast = {"url": weather + "/v1?city={{ city | urlencode }}", "timeout": 1, "retries": 1}
    shop.template(
        "offers",
        {
            **BASE,
            "subject": "{{ data.offer.offer }} for {{ given_name }}",
            "html": "<p>{{ data.offer.price }} — {{ data.weather.forecast }}</p>",
            "data": {"offer": {"sql": offer}, "weather": {"http": forecast}},
        },
    )
    shop.campaign({"name": "offers", "template": "offers", "audience": {"segments": ["everyone"]}})
    Weather.hits.clear()

    activate_campaign(shop.settings, shop.store, "offers")
    shop.work_until_idle()

    mails = received(sink, "offers", shop)
    states = log_states(shop, "offers")
    down = {f"user{n}@example.com" for n in range(1, CLIENTS + 1) if n % 4 == 2}  # City2
    assert set(mails) == {f"user{n}@example.com" for n in range(1, CLIENTS + 1)} - down
    assert mails["user5@example.com"]["Subject"] == "offer-5 for Name5"
    assert "sunny in City1" in mails["user5@example.com"].get_body(("html",)).get_content()
    assert all(states[a][0] == "failed" and "503" in (states[a][1] or "") for a in down)
    assert Weather.hits.count("City1") == 1  # cached for the run


# --- the API -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(shop: CampaignShop) -> Iterator[TestClient]:
    from ui.api import create_app

    with TestClient(create_app(shop.settings)) as client:
        yield client


def test_the_api_saves_templates_only_when_valid(api: TestClient) -> None:
    bad = api.put("/api/v1/templates/api-news", json={**BASE, "html": "<p>\n{{ given_name }\n</p>"})
    good = api.put("/api/v1/templates/api-news", json=BASE)
    again = api.put("/api/v1/templates/api-news", json={**BASE, "subject": "Hi again"})

    assert bad.status_code == 422
    assert bad.json()["problems"][0]["line"] == 2
    assert (good.status_code, good.json()["version"]) == (200, 1)
    assert again.json()["version"] == 2


def test_the_api_previews_a_template_for_a_profile(api: TestClient) -> None:
    api.put("/api/v1/templates/api-preview", json=BASE)

    preview = api.post(
        "/api/v1/templates/preview",
        json={"template": "api-preview", "database": "shop", "profile_id": profile("c4")},
    )

    assert preview.status_code == 200
    assert preview.json()["parts"]["subject"] == "Hello Name4"


def test_the_api_creates_launches_and_reports_a_campaign(
    api: TestClient, shop: CampaignShop, sink: MailSink
) -> None:
    api.put("/api/v1/templates/api-camp", json=BASE)

    saved = api.put(
        "/api/v1/campaigns/api-camp",
        json={"database": "shop", "template": "api-camp", "audience": {"segments": ["everyone"]}},
    )
    launched = api.post("/api/v1/campaigns/api-camp/launch")
    shop.work_until_idle()
    status = api.get("/api/v1/campaigns/api-camp")
    calendar = api.get("/api/v1/campaigns-calendar")

    assert (saved.status_code, saved.json()["created"]) == (200, True)
    assert launched.status_code == 200
    assert status.json()["launches"][0]["runs"][0]["send_log"] == {"sent": CLIENTS}
    assert any(entry["campaign"] == "api-camp" for entry in calendar.json())
    assert len(received(sink, "api-camp", shop)) == CLIENTS


def test_the_api_answers_mistakes_with_4xx_and_a_reason(api: TestClient) -> None:
    unknown = api.get("/api/v1/campaigns/nope")
    invalid = api.put("/api/v1/campaigns/x", json={"kind": "weekly"})
    missing_template = api.put(
        "/api/v1/campaigns/x",
        json={"database": "shop", "template": "nope", "audience": {"segments": ["everyone"]}},
    )
    paused_draft = api.post("/api/v1/campaigns/nope/pause")

    assert unknown.status_code == 404 and "no campaign 'nope'" in unknown.json()["error"]
    assert invalid.status_code == 422 and "kind" in invalid.json()["error"]
    assert (
        missing_template.status_code == 422
        and "no template 'nope'" in missing_template.json()["error"]
    )
    assert paused_draft.status_code == 404
