"""The delivery-rules API: read the effective rules, replace the file after validating it.

Bad rules are a 422 listing every problem with its line, and the file is left as it was;
nothing a client sends leads to a 500.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from herald.settings import Settings
from ui.delivery_rules_api import add_delivery_rules_routes
from ui.errors import APIError

URL = "/api/v1/delivery-rules"
YAML = {"Content-Type": "application/yaml"}


def no_auth() -> None:
    return None


def make_client(home: Path) -> TestClient:
    """An app with only these routes, its settings' home in `home`, as ui/api.py builds it."""
    app = FastAPI()
    app.state.settings = Settings(home=home)

    @app.exception_handler(APIError)
    async def api_error(request: Request, exc: APIError) -> JSONResponse:
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    add_delivery_rules_routes(app, no_auth)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return make_client(tmp_path)


def test_without_a_file_the_built_in_rules_are_shown(client: TestClient, tmp_path: Path):
    answer = client.get(URL).json()

    assert (answer["source"], answer["exists"], answer["path"]) == (
        "built-in",
        False,
        str(tmp_path.resolve() / "delivery-rules.yml"),
    )


def test_the_built_in_rules_come_with_a_complete_file_to_start_from(client: TestClient):
    answer = client.get(URL).json()

    assert "include_builtin: false" in answer["yaml"] and "gmail" in answer["providers"]


def test_put_yaml_saves_the_file_and_answers_the_effective_rules(
    client: TestClient, tmp_path: Path
):
    text = "providers:\n  gmail: {per_second: 7}\n"

    answer = client.put(URL, content=text, headers=YAML)

    assert (answer.status_code, answer.json()["providers"]["gmail"]["per_second"]) == (200, 7)
    assert (tmp_path / "delivery-rules.yml").read_text() == text


def test_get_after_put_shows_the_file(client: TestClient, tmp_path: Path):
    client.put(URL, content="defaults: {max_connections: 3}\n", headers=YAML)

    answer = client.get(URL).json()

    assert (answer["source"], answer["default"]["max_connections"]) == (
        str(tmp_path.resolve() / "delivery-rules.yml"),
        3,
    )


def test_put_json_is_saved_as_yaml(client: TestClient, tmp_path: Path):
    answer = client.put(URL, json={"defaults": {"per_hour": 500}})

    assert answer.json()["default"]["per_hour"] == 500
    assert "per_hour: 500" in (tmp_path / "delivery-rules.yml").read_text()


def test_bad_rules_are_a_422_with_every_problem_and_its_line(client: TestClient):
    answer = client.put(
        URL, content="defaults:\n  max_connections: 0\n  colour: red\n", headers=YAML
    )

    assert (answer.status_code, answer.json()["problems"], answer.json()["line"]) == (
        422,
        [
            "line 2: defaults.max_connections: Input should be greater than or equal to 1",
            "line 3: defaults.colour: unknown setting (check the spelling)",
        ],
        2,
    )


def test_bad_rules_leave_the_file_as_it_was(client: TestClient, tmp_path: Path):
    client.put(URL, content="defaults: {max_connections: 3}\n", headers=YAML)

    client.put(URL, content="defaults: {max_connections: lots}\n", headers=YAML)

    assert (tmp_path / "delivery-rules.yml").read_text() == "defaults: {max_connections: 3}\n"


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"defaults: [", YAML),
        (b"- just\n- a list\n", YAML),
        (b"\xff\xfe not utf-8", YAML),
        (b"{not json", {"Content-Type": "application/json"}),
        (b"[1, 2]", {"Content-Type": "application/json"}),
    ],
)
def test_malformed_bodies_are_a_422_never_a_500(client: TestClient, body: bytes, headers: dict):
    answer = client.put(URL, content=body, headers=headers)

    assert (answer.status_code, bool(answer.json()["error"])) == (422, True)


def test_a_broken_file_on_disk_is_shown_with_its_problems(client: TestClient, tmp_path: Path):
    (tmp_path / "delivery-rules.yml").write_text("defaults: {per_second: fast}\n")

    answer = client.get(URL)

    assert (answer.status_code, answer.json()["yaml"]) == (409, "defaults: {per_second: fast}\n")


def test_the_routes_use_the_authorized_dependency(tmp_path: Path):
    app = FastAPI()
    app.state.settings = Settings(home=tmp_path)

    def refuse() -> None:
        raise APIError(401, "missing or wrong bearer token")

    @app.exception_handler(APIError)
    async def api_error(request: Request, exc: APIError) -> JSONResponse:
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    add_delivery_rules_routes(app, refuse)

    assert TestClient(app).get(URL).status_code == 401
