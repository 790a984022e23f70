"""The client card: a profile read by id, identifier or merged id, its timeline, field edits,
subscriptions and relations — in the kernel on both embedded engines, through the HTTP API
(ui/api.py) and through the CLI, with the operational store on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import URL

from herald.profiles.build import build_profiles
from herald.profiles.card import (
    AmbiguousProfile,
    UnknownProfile,
    card_edit,
    card_relate,
    card_set_subscription,
    card_timeline,
    read_card,
)
from herald.profiles.consent import SubscriptionError, set_subscription, subscription_history
from herald.profiles.databases import create_database
from herald.profiles.edits import FieldEditError
from herald.profiles.relations import RelationExists, add_relation, list_relations
from herald.profiles.timeline import InvalidCursor
from herald.settings import Settings, load_settings
from herald.store import (
    ProfileEdit,
    ProfileImport,
    ProfileSubscriptionChange,
    create_store_engine,
    migrate,
    session_scope,
)
from herald.warehouse.base import Warehouse
from herald.warehouse.duckdb_engine import DuckDBWarehouse
from tests.conftest import emptied
from tests.integration.test_profiles_build import B2B, SHOP, import_and_build, land, load
from tests.support.cli import run_herald as herald

ANN, BOB, NOBODY = "p_shop:crm:c1", "p_shop:crm:c2", "p_shop:crm:c3"


def new_store(url: str) -> Engine:
    migrate(url)
    store = create_store_engine(url)
    create_database(store, SHOP)
    create_database(store, B2B)
    return store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Engine]:
    engine = new_store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """The operational store on SQLite, then on the session's PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    else:
        database: URL = request.getfixturevalue("postgres_database")
        url = emptied(database)
    engine = new_store(url)
    yield engine
    engine.dispose()


@pytest.fixture
def built(warehouse: Warehouse, tmp_path: Path) -> Warehouse:
    import_and_build(warehouse, tmp_path / "landing")
    return warehouse


def add_activity(warehouse: Warehouse) -> None:
    """Web events and orders: five of Bob's events (by e-mail as user id), one order of his
    (by phone as customer id) at the same moment as one event, and someone else's."""

    def at(day: int, hour: int = 12) -> datetime:
        return datetime(2026, 3, day, hour, 0)

    events = pa.table(
        {
            "event_id": ["e1", "e2", "e3", "e4", "e5", "e6"],
            "event_type": ["page", "page", "track", "track", "identify", "page"],
            "event_name": ["Page Viewed", "Page Viewed", "Product Added", "Order Completed",
                           "Identify", "Page Viewed"],
            "occurred_at": pa.array([at(1), at(2), at(3), at(3), at(5), at(4)], pa.timestamp("ms")),
            "anonymous_id": ["a-1", "a-1", None, None, None, "a-2"],
            "user_id": ["bob@example.com", None, "bob@example.com", "bob@example.com",
                        "bob@example.com", "someone"],
            "device_id": [None, "+79161234567", None, None, None, None],
            "url": ["https://shop/a", "https://shop/b", None, None, None, "https://shop/c"],
        }
    )  # fmt: skip
    orders = pa.table(
        {
            "order_id": ["o1", "o2"],
            "customer_id": ["+79161234567", "someone"],
            "created_at": pa.array([at(3), at(4)], pa.timestamp("ms")),
            "status": ["paid", "paid"],
            "total": [1250.5, 10.0],
        }
    )
    for name, table in (("events", events), ("orders", orders)):
        warehouse.create_table_from_arrow_schema(name, table.schema)
        warehouse.insert_arrow(name, table)


def merge_bob_into_ann(warehouse: Warehouse, landing: Path) -> None:
    """A record with Ann's e-mail and Bob's phone: Bob's profile merges into Ann's (the
    older id survives), so BOB becomes an alias of ANN."""
    land(landing, "shop", "web", "imp-7", datetime(2026, 3, 2), [
        ("w8", {"email": "ann@example.com", "phone": "+79161234567"}),
    ])  # fmt: skip
    load(warehouse, landing)
    build_profiles(warehouse, [SHOP, B2B])


# --- the card in the kernel, on DuckDB and chdb ------------------------------------------------


def test_the_card_is_found_by_id_email_and_phone(built: Warehouse, store: Engine) -> None:
    by_id = read_card(built, store, BOB)
    assert (by_id["profile_id"], by_id["database"]) == (BOB, "shop")
    assert by_id["fields"]["level"] == "gold" and by_id["fields"]["email"] == "bob@example.com"
    assert by_id["identifiers"] == [
        {"kind": "email", "value": "bob@example.com"},
        {"kind": "phone", "value": "+79161234567"},
    ]
    assert [(s["source"], s["record_key"]) for s in by_id["sources"]] == [
        ("crm", "c2"),
        ("web", "w1"),
    ]
    assert (by_id["aliases"], by_id["merges"], by_id["pending"]) == ([], [], {})
    assert (by_id["subscriptions"], by_id["relations"]) == ([], [])
    # As typed by a person: the e-mail in capitals, the phone in a national format.
    assert read_card(built, store, "BOB@example.com")["profile_id"] == BOB
    assert read_card(built, store, "8 916 123-45-67")["profile_id"] == BOB
    assert "alias_of" not in by_id


def test_an_identifier_of_two_databases_needs_the_database(built: Warehouse, store: Engine) -> None:
    with pytest.raises(AmbiguousProfile, match="identifies 2 profiles"):
        read_card(built, store, "ann@example.com")
    assert read_card(built, store, "ann@example.com", "b2b")["profile_id"] == "p_b2b:crm:k1"
    with pytest.raises(UnknownProfile, match=r"no profile has the id or identifier 'x@y\.z'"):
        read_card(built, store, "x@y.z")


def test_a_merged_id_opens_the_live_profile_with_its_history(
    built: Warehouse, store: Engine, tmp_path: Path
) -> None:
    # Set on Bob's id before the merge: the live card still shows it.
    set_subscription(store, "shop", BOB, channel="sms", status="unsubscribed", source="test")
    merge_bob_into_ann(built, tmp_path / "landing")

    card = read_card(built, store, BOB)
    assert (card["profile_id"], card["alias_of"]) == (ANN, BOB)
    assert card["aliases"] == [BOB]
    assert [(m["kept_id"], m["merged_id"]) for m in card["merges"]] == [(ANN, BOB)]
    assert {"kind": "phone", "value": "+79161234567"} in card["identifiers"]
    assert [(s["channel"], s["status"]) for s in card["subscriptions"]] == [("sms", "unsubscribed")]


def test_the_timeline_pages_through_events_and_orders_newest_first(
    built: Warehouse, store: Engine
) -> None:
    add_activity(built)
    first = card_timeline(built, "bob@example.com", limit=3)
    assert first["profile_id"] == BOB and first["sources"] == ["events", "orders"]
    # At the same moment (March 3rd), the order comes before the events (type, descending).
    assert [(i["type"], i["id"]) for i in first["items"]] == [
        ("event", "e5"),
        ("order", "o1"),
        ("event", "e4"),
    ]
    assert first["items"][1]["name"] == "paid" and first["items"][1]["details"]["total"] == 1250.5
    second = card_timeline(built, BOB, limit=3, cursor=first["next_cursor"])
    assert [i["id"] for i in second["items"]] == ["e3", "e2", "e1"]
    assert second["next_cursor"] is None  # nothing older
    whole = card_timeline(built, BOB, limit=10)
    assert [i["id"] for i in whole["items"]] == ["e5", "o1", "e4", "e3", "e2", "e1"]
    assert whole["next_cursor"] is None
    assert whole["items"][0]["occurred_at"] == datetime.fromisoformat("2026-03-05T12:00:00+00:00")
    assert read_card(built, store, BOB, timeline_limit=2)["timeline"]["items"][0]["id"] == "e5"
    with pytest.raises(InvalidCursor):
        card_timeline(built, BOB, cursor="not-a-cursor")


def test_without_events_the_timeline_is_empty(built: Warehouse, store: Engine) -> None:
    page = card_timeline(built, BOB)
    assert page["items"] == [] and page["next_cursor"] is None and page["sources"] == []
    assert read_card(built, store, NOBODY)["timeline"]["items"] == []


def test_an_edit_is_validated_and_shown_at_once(
    built: Warehouse, store: Engine, tmp_path: Path
) -> None:
    landing = tmp_path / "card-landing"
    done = card_edit(
        built, store, landing, "bob@example.com", None,
        {"level": "Silver", "orders": "1 234", "birthday": "17.05.1990", "tags": ["vip", "new"]},
        edited_by="anna",
    )  # fmt: skip
    assert done.fields == {
        "level": "silver",
        "orders": 1234,
        "birthday": "1990-05-17",
        "tags": ["vip", "new"],
    }
    card = read_card(built, store, BOB)
    assert card["fields"]["level"] == "silver" and card["fields"]["orders"] == 1234
    assert card["fields"]["email"] == "bob@example.com"  # not edited: the golden record's
    assert sorted(card["pending"]) == ["birthday", "level", "orders", "tags"]
    assert card["pending"]["level"]["edited_by"] == "anna"
    assert card["pending"]["level"]["import_id"] == done.import_id

    # The edit is a source record of Bob's profile in a landing file ...
    [record] = pq.read_table(done.landing_file).to_pylist()
    assert (record["database"], record["source"], record["mode"]) == ("shop", "card", "upsert")
    assert (record["import_id"], record["record_key"]) == (done.import_id, done.import_id)
    assert json.loads(record["fields"]) == {**done.fields, "_profile_id": BOB}
    # ... and an import of one accepted record in the store.
    with session_scope(store) as session:
        entry = session.execute(
            select(ProfileImport).where(ProfileImport.import_id == done.import_id)
        ).scalar_one()
        assert (entry.kind, entry.source, entry.status, entry.accepted) == (
            "card", "card", "succeeded", 1
        )  # fmt: skip

    with pytest.raises(FieldEditError, match="level: invalid value: 'platinum'"):
        card_edit(built, store, landing, BOB, None, {"level": "platinum"})
    with pytest.raises(FieldEditError, match="favourite: no such field"):
        card_edit(built, store, landing, BOB, None, {"favourite": "red"})
    with pytest.raises(FieldEditError, match=r"orders: .*cannot clear"):
        card_edit(built, store, landing, BOB, None, {"orders": None})
    assert len(list((landing / "profile_records").glob("*.parquet"))) == 1


# --- the store on SQLite and PostgreSQL --------------------------------------------------------


def test_subscription_changes_are_kept_in_the_history(any_store: Engine) -> None:
    first = set_subscription(any_store, "shop", BOB, channel="email", resource="news",
                             status="subscribed", source="form")  # fmt: skip
    again = set_subscription(any_store, "shop", BOB, channel="email", resource="news",
                             status="subscribed", source="form")  # fmt: skip
    later = set_subscription(any_store, "shop", BOB, channel="email", resource="news",
                             status="unsubscribed", reason="one-click", source="api")  # fmt: skip
    assert (first.changed, first.previous_status) == (True, None)
    assert again.changed is False
    assert (later.changed, later.previous_status) == (True, "subscribed")
    history = subscription_history(any_store, "shop", [BOB])
    assert [(c["status"], c["previous_status"], c["reason"]) for c in history] == [
        ("unsubscribed", "subscribed", "one-click"),
        ("subscribed", None, None),
    ]
    with session_scope(any_store) as session:
        count = session.execute(select(func.count()).select_from(ProfileSubscriptionChange))
        assert count.scalar_one() == 2
    with pytest.raises(SubscriptionError, match="channel 'fax'"):
        set_subscription(any_store, "shop", BOB, channel="fax", status="subscribed")
    with pytest.raises(SubscriptionError, match="status 'maybe'"):
        set_subscription(any_store, "shop", BOB, channel="sms", status="maybe")


def test_a_relation_is_listed_from_both_profiles_once(any_store: Engine) -> None:
    add_relation(any_store, "shop", ANN, BOB, kind="manager of", created_by="anna")
    with pytest.raises(RelationExists):
        add_relation(any_store, "shop", ANN, BOB, kind=" manager  of ")
    bob = list_relations(any_store, "shop", [BOB])
    assert [(r["direction"], r["kind"], r["profile_id"]) for r in bob] == [
        ("incoming", "manager of", ANN)
    ]
    assert [
        (r["direction"], r["profile_id"]) for r in list_relations(any_store, "shop", [ANN])
    ] == [("outgoing", BOB)]


def test_an_edit_is_recorded_in_the_store(any_store: Engine, tmp_path: Path) -> None:
    from herald.profiles.edits import edit_fields

    values = {"vip": True, "birthday": "1990-05-17"}
    done = edit_fields(
        any_store, tmp_path, database="shop", profile_id=BOB, values=values, edited_by="anna"
    )
    with session_scope(any_store) as session:
        edit = session.execute(select(ProfileEdit)).scalar_one()
        assert (edit.profile_id, edit.import_id, edit.edited_by) == (BOB, done.import_id, "anna")
        assert edit.fields == {"vip": True, "birthday": "1990-05-17"}
        assert edit.edited_at == done.edited_at


# --- the HTTP API --------------------------------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("HERALD_API_TOKEN", raising=False)
    monkeypatch.delenv("HERALD_WAREHOUSE", raising=False)
    monkeypatch.delenv("HERALD_DATABASE", raising=False)
    monkeypatch.setenv("HERALD_HOME", str(tmp_path / "home"))
    settings = load_settings()
    new_store(settings.database_url).dispose()
    return settings


@pytest.fixture
def client(settings: Settings, tmp_path: Path) -> TestClient:
    assert settings.warehouse_url.path is not None
    warehouse = DuckDBWarehouse(settings.warehouse_url.path)
    import_and_build(warehouse, tmp_path / "build-landing")
    add_activity(warehouse)
    return TestClient(create_app(settings))


def create_app(settings: Settings) -> Any:
    from ui.api import create_app as create

    return create(settings)


CARD = "/api/v1/profiles"


def test_api_card_by_id_identifier_and_unknown(client: TestClient) -> None:
    card = client.get(f"{CARD}/{BOB}")
    assert card.status_code == 200, card.text
    body = card.json()
    assert (body["profile_id"], body["database"], body["fields"]["level"]) == (BOB, "shop", "gold")
    assert [i["id"] for i in body["timeline"]["items"]][:2] == ["e5", "o1"]
    assert client.get(f"{CARD}/+79161234567").json()["profile_id"] == BOB
    assert (
        client.get(f"{CARD}/ann@example.com", params={"database": "b2b"}).json()["profile_id"]
        == "p_b2b:crm:k1"
    )

    ambiguous = client.get(f"{CARD}/ann@example.com")
    assert ambiguous.status_code == 409 and "identifies 2 profiles" in ambiguous.json()["error"]
    missing = client.get(f"{CARD}/nobody@example.com")
    assert missing.status_code == 404
    assert missing.json() == {"error": "no profile has the id or identifier 'nobody@example.com'"}


def test_api_card_before_any_build_is_a_404(settings: Settings) -> None:
    response = TestClient(create_app(settings)).get(f"{CARD}/{BOB}")
    assert response.status_code == 404 and "no profiles yet" in response.json()["error"]


def test_api_timeline_pages(client: TestClient) -> None:
    first = client.get(f"{CARD}/{BOB}/timeline", params={"limit": 4}).json()
    assert [i["id"] for i in first["items"]] == ["e5", "o1", "e4", "e3"]
    rest = client.get(
        f"{CARD}/{BOB}/timeline", params={"limit": 4, "cursor": first["next_cursor"]}
    ).json()
    assert [i["id"] for i in rest["items"]] == ["e2", "e1"] and rest["next_cursor"] is None
    bad = client.get(f"{CARD}/{BOB}/timeline", params={"cursor": "garbage"})
    assert bad.status_code == 422 and "not a timeline cursor" in bad.json()["error"]
    assert client.get(f"{CARD}/{BOB}/timeline", params={"limit": 0}).status_code == 422


def test_api_edit_is_validated_and_shown_at_once(client: TestClient, settings: Settings) -> None:
    edited = client.patch(
        f"{CARD}/bob@example.com/fields",
        json={"fields": {"level": "silver", "vip": True, "tags": ["a", "b"]}, "edited_by": "anna"},
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["fields"] == {"level": "silver", "vip": True, "tags": ["a", "b"]}
    assert edited.json()["pending"] is True
    card = client.get(f"{CARD}/{BOB}").json()
    assert (card["fields"]["level"], card["fields"]["vip"]) == ("silver", True)
    assert card["pending"]["level"]["edited_by"] == "anna"
    assert len(list(settings.landing_dir.rglob("*.parquet"))) == 1

    bad = client.patch(f"{CARD}/{BOB}/fields", json={"fields": {"orders": "twelve"}})
    assert bad.status_code == 422
    assert bad.json()["error"].startswith("orders: invalid integer")
    wrong_type = client.patch(f"{CARD}/{BOB}/fields", json={"fields": {"level": ["gold"]}})
    assert wrong_type.status_code == 422 and "level: expected a single enum" in wrong_type.text
    unknown = client.patch(f"{CARD}/nobody@x.io/fields", json={"fields": {"level": "gold"}})
    assert unknown.status_code == 404
    assert client.get(f"{CARD}/{BOB}").json()["fields"]["level"] == "silver"


def test_api_subscriptions_are_set_changed_and_kept(client: TestClient) -> None:
    url = f"{CARD}/bob@example.com/subscriptions"
    assert client.get(url).json()["subscriptions"] == []
    first = client.put(url, json={"channel": "email", "resource": "news", "status": "subscribed"})
    assert first.status_code == 200, first.text
    assert first.json()["changed"] is True
    changed = client.put(
        url, json={"channel": "email", "resource": "news", "status": "unsubscribed",
                   "reason": "one-click"},
    ).json()  # fmt: skip
    assert [(s["channel"], s["resource"], s["status"]) for s in changed["subscriptions"]] == [
        ("email", "news", "unsubscribed")
    ]
    client.put(url, json={"channel": "sms", "status": "suppressed", "reason": "stop-list"})
    state = client.get(url).json()
    assert [(s["channel"], s["resource"], s["status"]) for s in state["subscriptions"]] == [
        ("email", "news", "unsubscribed"),
        ("sms", "*", "suppressed"),
    ]
    assert [(h["status"], h["previous_status"]) for h in state["history"]] == [
        ("suppressed", None),
        ("unsubscribed", "subscribed"),
        ("subscribed", None),
    ]
    assert client.get(f"{CARD}/{BOB}").json()["subscriptions"] == state["subscriptions"]
    bad = client.put(url, json={"channel": "fax", "status": "subscribed"})
    assert bad.status_code == 422 and "channel 'fax'" in bad.json()["error"]
    assert client.put(url, json={"channel": "sms", "status": "maybe"}).status_code == 422


def test_api_relations_are_created_listed_and_deleted(client: TestClient) -> None:
    created = client.post(
        f"{CARD}/{ANN}/relations", json={"to": "bob@example.com", "kind": "family"}
    )
    assert created.status_code == 201, created.text
    assert (created.json()["from_profile_id"], created.json()["to_profile_id"]) == (ANN, BOB)
    assert (
        client.post(f"{CARD}/{ANN}/relations", json={"to": BOB, "kind": "family"}).status_code
        == 409
    )
    unknown = client.post(f"{CARD}/{ANN}/relations", json={"to": "ghost@x.io", "kind": "family"})
    assert unknown.status_code == 404 and "ghost@x.io" in unknown.json()["error"]
    itself = client.post(f"{CARD}/{ANN}/relations", json={"to": ANN, "kind": "family"})
    assert itself.status_code == 422 and "itself" in itself.json()["error"]

    bob = client.get(f"{CARD}/{BOB}/relations").json()["relations"]
    assert [(r["direction"], r["kind"], r["profile_id"]) for r in bob] == [
        ("incoming", "family", ANN)
    ]
    assert client.get(f"{CARD}/{ANN}").json()["relations"][0]["direction"] == "outgoing"

    params = {"to": BOB, "kind": "family"}
    assert client.delete(f"{CARD}/{ANN}/relations", params=params).status_code == 204
    again = client.delete(f"{CARD}/{ANN}/relations", params=params)
    assert again.status_code == 404 and "not related" in again.json()["error"]
    assert client.get(f"{CARD}/{BOB}/relations").json()["relations"] == []


def test_api_card_endpoints_are_in_the_openapi_document(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    card = document["paths"]["/api/v1/profiles/{id_or_identifier}"]["get"]
    assert card["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ProfileCard"
    )
    assert set(document["paths"]["/api/v1/profiles/{id_or_identifier}/relations"]) == {
        "get",
        "post",
        "delete",
    }
    assert "patch" in document["paths"]["/api/v1/profiles/{id_or_identifier}/fields"]
    assert set(document["paths"]["/api/v1/profiles/{id_or_identifier}/subscriptions"]) == {
        "get",
        "put",
    }


def test_api_card_needs_the_token_when_one_is_set(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HERALD_API_TOKEN", "s3cret")
    client = TestClient(create_app(settings))
    assert client.get(f"{CARD}/{BOB}").status_code == 401


def test_the_relation_target_must_be_in_the_same_database(built: Warehouse, store: Engine) -> None:
    with pytest.raises(UnknownProfile, match="in profile database 'shop'"):
        card_relate(built, store, ANN, "p_b2b:crm:k1", None, kind="family")
    card_set_subscription(built, store, BOB, None, channel="push", resource="*",
                          status="subscribed")  # fmt: skip
    assert read_card(built, store, BOB)["subscriptions"][0]["channel"] == "push"


# --- the CLI ----------------------------------------------------------------------------------

CLIENTS = (
    "id,email,phone,given_name,level\n"
    "1,ivan@mail.ru,8 916 123-45-67,Иван,gold\n"
    "2,anna@example.com,,Anna,bronze\n"
)


def test_the_cli_shows_and_changes_the_card(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert herald(["db", "apply", "--schema", "docs/schemas/shop.yml"], home).returncode == 0
    path = tmp_path / "clients.csv"
    path.write_text(CLIENTS, encoding="utf-8")
    assert herald(["import", str(path), "--db", "shop", "--key", "id"], home).returncode == 0
    assert herald(["unify", "--db", "shop"], home).returncode == 0

    def run(*args: str) -> Any:
        done = herald(list(args), home)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    ivan = run("profile", "show", "+79161234567")
    ivan_id = ivan["profile_id"]
    assert ivan["fields"]["level"] == "gold" and ivan["timeline"]["items"] == []

    edited = run("profile", "edit", "ivan@mail.ru", "--set", "level=silver",
                 "--set", "tags=vip, new", "--by", "anna")  # fmt: skip
    assert edited["fields"] == {"level": "silver", "tags": ["vip", "new"]}
    shown = run("profile", "show", ivan_id)
    assert shown["fields"]["level"] == "silver" and sorted(shown["pending"]) == ["level", "tags"]
    # The next build takes the edit in: the same profile, the edit no longer pending.
    assert herald(["unify"], home).returncode == 0
    rebuilt = run("profile", "show", ivan_id)
    assert rebuilt["profile_id"] == ivan_id and not rebuilt["pending"]
    assert rebuilt["fields"]["level"] == "silver" and rebuilt["fields"]["tags"] == ["vip", "new"]
    assert "card" in {source["source"] for source in rebuilt["sources"]}
    refused = herald(["profile", "edit", ivan_id, "--set", "bonus_points=lots"], home)
    assert refused.returncode == 1 and "bonus_points: invalid integer" in refused.stderr
    assert "Traceback" not in refused.stderr

    run("profile", "subscribe", ivan_id, "--channel", "email", "--resource", "news")
    run("profile", "unsubscribe", ivan_id, "--channel", "email", "--resource", "news",
        "--reason", "asked by phone")  # fmt: skip
    state = run("profile", "subscriptions", "ivan@mail.ru")
    assert [(s["resource"], s["status"], s["source"]) for s in state["subscriptions"]] == [
        ("news", "unsubscribed", "cli")
    ]
    assert [h["status"] for h in state["history"]] == ["unsubscribed", "subscribed"]

    run("profile", "relate", ivan_id, "anna@example.com", "--kind", "family")
    anna = run("profile", "relations", "anna@example.com")
    assert [(r["direction"], r["kind"], r["profile_id"]) for r in anna["relations"]] == [
        ("incoming", "family", ivan_id)
    ]
    run("profile", "unrelate", ivan_id, "anna@example.com", "--kind", "family")
    assert run("profile", "relations", ivan_id)["relations"] == []
    assert run("profile", "timeline", ivan_id)["items"] == []


def test_api_undo_a_merge(client: TestClient, settings: Settings, tmp_path: Path) -> None:
    from herald.profiles.rules import load_rules

    assert settings.warehouse_url.path is not None
    warehouse = DuckDBWarehouse(settings.warehouse_url.path)
    merge_bob_into_ann(warehouse, tmp_path / "build-landing")
    assert client.get(f"{CARD}/{BOB}").json()["profile_id"] == ANN

    url = "/api/v1/databases/shop/unmerges"
    accepted = client.post(url, json={"merged_id": BOB, "by": "anna", "reason": "two people"})
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["kept_id"] == ANN and accepted.json()["records"] == 2
    again = client.post(url, json={"merged_id": BOB})
    assert again.status_code == 202 and again.json()["already_requested"] is True
    never = client.post(url, json={"merged_id": ANN})
    assert never.status_code == 404 and "was never merged" in never.json()["error"]
    unknown = client.post("/api/v1/databases/nope/unmerges", json={"merged_id": BOB})
    assert unknown.status_code == 404

    store = create_store_engine(settings.database_url)
    build_profiles(warehouse, [SHOP, B2B], rules=load_rules(store))
    store.dispose()
    card = client.get(f"{CARD}/{BOB}").json()
    assert card["profile_id"] == BOB and card.get("alias_of") is None
    assert card["fields"]["phone"] == "+79161234567"
    assert client.get(f"{CARD}/{ANN}").json()["profile_id"] == ANN
