"""The HTTP API for creating or updating profiles (ui/api.py), through FastAPI's TestClient."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from herald.profiles.databases import create_database
from herald.profiles.schema import load_schema
from herald.settings import Settings, load_settings
from herald.store import ProfileImport, create_store_engine, migrate, session_scope
from ui.api import create_app

REPO = Path(__file__).resolve().parents[2]
URL = "/api/v1/databases/shop/profiles"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("HERALD_API_TOKEN", raising=False)
    monkeypatch.delenv("HERALD_WAREHOUSE", raising=False)
    monkeypatch.delenv("HERALD_DATABASE", raising=False)
    monkeypatch.setenv("HERALD_HOME", str(tmp_path / "home"))
    settings = load_settings()
    store = create_store_engine(settings.database_url)
    migrate(store)
    create_database(store, load_schema(REPO / "docs" / "schemas" / "shop.yml"))
    store.dispose()
    return settings


@pytest.fixture
def store(settings: Settings) -> Iterator[Engine]:
    engine = create_store_engine(settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings))


def body(profiles: list[dict[str, Any]], request_id: str = "req-1", **extra: Any) -> dict[str, Any]:
    return {"request_id": request_id, "source": "shop-backend", "profiles": profiles, **extra}


def landing_files(settings: Settings) -> list[Path]:
    return sorted(settings.landing_dir.rglob("*.parquet"))


def import_rows(store: Engine) -> int:
    with session_scope(store) as session:
        return session.execute(select(func.count()).select_from(ProfileImport)).scalar_one()


def test_one_profile_is_imported_to_landing(client: TestClient, settings: Settings) -> None:
    response = client.post(
        URL,
        json=body(
            [
                {
                    "customer_id": "10042",
                    "email": "Ivan.Petrov@Mail.RU",
                    "Given Name": "Иван",
                    "bonus_points": 120,
                    "email_opt_in": True,
                    "tags": ["vip", "newsletter"],
                    "extra": {"channel": "app", "visits": [1, 2]},
                }
            ],
            key="customer_id",
        ),
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["received"] == result["accepted"] == 1
    assert (result["rejected"], result["rejected_rows"], result["duplicate"]) == (0, [], False)
    assert len(landing_files(settings)) == 1

    status = client.get(f"/api/v1/imports/{result['import_id']}")
    assert status.status_code == 200
    stored = status.json()
    assert (stored["status"], stored["kind"], stored["database"]) == ("succeeded", "api", "shop")
    assert (stored["received"], stored["accepted"], stored["rejected"]) == (1, 1, 0)
    assert stored["request_id"] == "req-1"


def test_a_batch_rejects_bad_profiles_at_their_index(client: TestClient) -> None:
    profiles: list[dict[str, Any]] = [
        {"email": "anna@example.com", "level": "gold"},
        {"email": "not-an-email", "level": "silver"},
        {"email": "ok@example.com", "favourite_colour": "red"},
        {"email": None},
        {"email": "bob@example.com", "tags": ["a,b"]},
        {"email": "eve@example.com", "tags": ["x", "y"], "bonus_points": "1 234"},
    ]
    response = client.post(URL, json=body(profiles))
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["received"], result["accepted"], result["rejected"]) == (6, 2, 4)
    reasons = {row["index"]: row["reason"] for row in result["rejected_rows"]}
    assert sorted(reasons) == [1, 2, 3, 4]
    assert "no field values" in reasons[3]
    assert "email" in reasons[1]
    assert "favourite_colour" in reasons[2] and "unknown field" in reasons[2]
    assert "tags" in reasons[4]


def test_a_repeated_request_id_imports_nothing(
    client: TestClient, settings: Settings, store: Engine
) -> None:
    profiles = [{"email": "anna@example.com"}, {"email": "bad"}]
    first = client.post(URL, json=body(profiles, request_id="same")).json()
    files = landing_files(settings)
    again = client.post(URL, json=body(profiles, request_id="same"))
    assert again.status_code == 200
    second = again.json()
    assert second["duplicate"] is True and first["duplicate"] is False
    assert {key: second[key] for key in first if key != "duplicate"} == {
        key: first[key] for key in first if key != "duplicate"
    }
    assert second["rejected_rows"] == [{"index": 1, "reason": first["rejected_rows"][0]["reason"]}]
    assert landing_files(settings) == files
    assert import_rows(store) == 1

    other = client.post("/api/v1/databases/b2b/profiles", json=body(profiles, request_id="same"))
    assert other.status_code == 404


def test_concurrent_duplicates_come_back_as_duplicates(
    client: TestClient, settings: Settings, store: Engine
) -> None:
    payload = body([{"email": f"p{i}@example.com"} for i in range(200)], request_id="race")
    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda _: client.post(URL, json=payload), range(4)))
    assert [response.status_code for response in responses] == [200] * 4
    results = [response.json() for response in responses]
    assert sorted(result["duplicate"] for result in results) == [False, True, True, True]
    assert {result["import_id"] for result in results} == {results[0]["import_id"]}
    assert import_rows(store) == 1
    assert len(landing_files(settings)) == 1


def test_too_many_profiles_is_413(client: TestClient, store: Engine) -> None:
    response = client.post(URL, json=body([{"email": "a@example.com"}] * 10_001))
    assert response.status_code == 413
    assert "10,000" in response.json()["error"]
    assert import_rows(store) == 0


def test_unknown_database_and_import_are_404(client: TestClient) -> None:
    response = client.post("/api/v1/databases/nope/profiles", json=body([{"email": "a@b.c"}]))
    assert response.status_code == 404
    assert response.json() == {"error": "no profile database 'nope'"}
    assert client.get("/api/v1/imports/imp-nothing").status_code == 404
    assert "error" in client.get("/no/such/path").json()


def test_bad_bodies_are_422_with_one_line(client: TestClient) -> None:
    malformed = client.post(
        URL, content=b'{"request_id": "x", ', headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 422
    error = malformed.json()["error"]
    assert error.startswith("malformed JSON body") and "\n" not in error

    missing = client.post(URL, json={"source": "x", "profiles": [{}]})
    assert missing.status_code == 422
    assert missing.json()["error"].startswith("request_id: Field required")

    mode = client.post(URL, json=body([{"email": "a@example.com"}], mode="replace"))
    assert mode.status_code == 422 and mode.json()["error"].startswith("mode:")

    key = client.post(URL, json=body([{"email": "a@example.com"}], key="customer_id"))
    assert key.status_code == 422 and "customer_id" in key.json()["error"]

    empty = client.post(URL, json=body([]))
    assert empty.status_code == 422


def test_token_auth(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERALD_API_TOKEN", "s3cret")
    client = TestClient(create_app(settings))
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/api/v1/databases").status_code == 401
    wrong = client.post(
        URL, json=body([{"email": "a@example.com"}]), headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401 and "error" in wrong.json()
    auth = {"Authorization": "Bearer s3cret"}
    listed = client.get("/api/v1/databases", headers=auth)
    assert listed.status_code == 200
    assert [(item["name"], item["schema_version"]) for item in listed.json()] == [("shop", 1)]
    posted = client.post(URL, json=body([{"email": "a@example.com"}]), headers=auth)
    assert posted.status_code == 200 and posted.json()["accepted"] == 1


def test_openapi_describes_the_request_and_response(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    operation = document["paths"]["/api/v1/databases/{database}/profiles"]["post"]
    reference = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    request_schema = document["components"]["schemas"][reference.rsplit("/", 1)[-1]]
    assert {"request_id", "source", "key", "mode", "profiles"} <= set(request_schema["properties"])
    assert request_schema["properties"]["request_id"]["description"]
    assert request_schema["examples"]
    response_schema = document["components"]["schemas"]["ProfilesResponse"]
    assert "rejected_rows" in response_schema["properties"]
    assert json.dumps(document)  # serialisable


def test_a_duplicate_refused_by_the_unique_constraint_is_a_duplicate(
    client: TestClient, settings: Settings, store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lookup missed the first import (it committed in between): the insert of the second
    hits the unique request_id and the answer is still the first import, not a 500."""
    import ui.api

    payload = body([{"email": "anna@example.com"}], request_id="late")
    first = client.post(URL, json=payload).json()
    lookups: list[str] = []
    previous = ui.api._previous

    def missing_once(store: Engine, request_id: str, database: str, language: str) -> Any:
        lookups.append(request_id)
        return None if len(lookups) == 1 else previous(store, request_id, database, language)

    monkeypatch.setattr(ui.api, "_previous", missing_once)
    second = client.post(URL, json=payload)
    assert second.status_code == 200, second.text
    assert second.json()["duplicate"] is True
    assert second.json()["import_id"] == first["import_id"]
    assert lookups == ["late", "late"]
    assert import_rows(store) == 1 and len(landing_files(settings)) == 1


def test_rejection_reasons_in_russian_for_accept_language_ru(client: TestClient) -> None:
    profiles: list[dict[str, Any]] = [{"email": "ivan.mail.ru"}, {"email": "ok@example.com"}]
    response = client.post(
        URL, json=body(profiles), headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.8"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["rejected_rows"] == [
        {"index": 0, "reason": "email: неверный адрес e-mail: В адресе e-mail должен быть знак @."}
    ]
