"""Tracked events and Herald's own message events reach the `events` and `message_events`
marts, once each, on DuckDB and on chdb.

The tracking service's loader writes Parquet landing files of two tables (`events`, source
`tracking`; `herald_message_events`, source `herald`) in the columns below; the marts are the
union of those and the batch feeds (`web_events`, `message_events`). A home where the tracker
has written nothing yet still builds, from the empty raw tables sources.yml declares.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from herald.models.build import build_models, load_all_landing
from herald.models.project import SqlProject
from herald.warehouse.base import Warehouse
from herald.warehouse.duckdb_engine import DuckDBWarehouse
from tests.conftest import new_chdb_warehouse, session_chdb_path
from tests.fixtures.landing import write_landing

PROJECT = SqlProject.load()
# The two marts, their staging views, and what their relationship tests read.
MODELS = {
    "stg_web__events",
    "stg_tracking__events",
    "events",
    "stg_messaging__message_events",
    "stg_herald__message_events",
    "message_events",
    "stg_crm__contacts",
}
ENGINES = ("duckdb", "chdb")
TS = pa.timestamp("ms")

TRACKED_EVENTS_SCHEMA = pa.schema(
    [
        ("message_id", pa.string()),
        ("type", pa.string()),
        ("event", pa.string()),
        ("name", pa.string()),
        ("anonymous_id", pa.string()),
        ("user_id", pa.string()),
        ("session_id", pa.string()),
        ("device_id", pa.string()),
        ("timestamp", TS),
        ("received_at", TS),
        ("sent_at", TS),
        ("url", pa.string()),
        ("path", pa.string()),
        ("title", pa.string()),
        ("referrer", pa.string()),
        ("utm_source", pa.string()),
        ("utm_medium", pa.string()),
        ("utm_campaign", pa.string()),
        ("utm_content", pa.string()),
        ("utm_term", pa.string()),
        ("product_id", pa.string()),
        ("category", pa.string()),
        ("brand", pa.string()),
        ("price", pa.float64()),
        ("goal", pa.string()),
        ("properties", pa.string()),
        ("traits", pa.string()),
        ("context", pa.string()),
        ("group_id", pa.string()),
        ("previous_id", pa.string()),
        ("source", pa.string()),
        ("database", pa.string()),
        ("ip", pa.string()),
        ("user_agent", pa.string()),
        ("automated", pa.string()),
        ("herald_profile_id", pa.string()),
    ]
)

HERALD_MESSAGE_EVENTS_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("message_id", pa.string()),
        ("campaign_id", pa.string()),
        ("campaign_run", pa.string()),
        ("channel", pa.string()),
        ("recipient", pa.string()),
        ("contact_id", pa.string()),
        ("database", pa.string()),
        ("profile_id", pa.string()),
        ("event_type", pa.string()),
        ("occurred_at", TS),
        ("url", pa.string()),
        ("link_position", pa.int32()),
        ("bounce_type", pa.string()),
        ("smtp_code", pa.int32()),
        ("smtp_status", pa.string()),
        ("diagnostic", pa.string()),
        ("provider", pa.string()),
        ("ip", pa.string()),
        ("user_agent", pa.string()),
        ("automated", pa.string()),
    ]
)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def tracked(message_id: str, type_: str, event: str, timestamp: str, **values: Any) -> dict:
    """A tracked event: the loader's required columns, the rest NULL unless given."""
    occurred = at(timestamp)
    row: dict[str, Any] = dict.fromkeys(TRACKED_EVENTS_SCHEMA.names)
    row.update(
        message_id=message_id,
        type=type_,
        event=event,
        timestamp=occurred,
        received_at=occurred + dt.timedelta(seconds=1, milliseconds=250),
        source="polka-site",
    )
    row.update(values)
    return row


PAGE = tracked(
    "T-1",
    "page",
    "Page Viewed",
    "2025-06-01 10:00:00.123",
    name="Главная",
    anonymous_id="anon-t1",
    session_id="S-T1",
    device_id="D-T1",
    sent_at=at("2025-06-01 10:00:01.000"),
    url="https://www.polka.example/?utm_source=herald&utm_medium=email&utm_campaign=cmp-7",
    path="/",
    title="Полка — всё для дома",
    referrer="https://e.mail.ru/inbox",
    utm_source="herald",
    utm_medium="email",
    utm_campaign="cmp-7",
    properties='{"path":"/","title":"Полка — всё для дома"}',
    context='{"library":{"name":"analytics.js"},"locale":"ru-RU"}',
    database="customers",
    ip="203.0.113.5",
    user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
    herald_profile_id="prof-1",
)
IDENTIFY = tracked(
    "T-2",
    "identify",
    "Identify",
    "2025-06-01 10:00:05.000",
    anonymous_id="anon-t1",
    user_id="WEB-9",
    session_id="S-T1",
    traits='{"email":"ёлкин@почта.рф","name":"Иван Ёлкин"}',
    database="customers",
)
PRODUCT = tracked(
    "T-3",
    "track",
    "Product Viewed",
    "2025-06-01 10:01:00.500",
    anonymous_id="anon-t1",
    user_id="WEB-9",
    session_id="S-T1",
    url="https://www.polka.example/product/chainik",
    path="/product/chainik",
    title="Чайник «Утро»",
    product_id="SKU-10089",
    category="Kitchen Appliances",
    brand="Фьорд",
    price=3490.5,
    properties='{"product_id":"SKU-10089","price":3490.5,"currency":"RUB"}',
    database="customers",
)
ALIAS_BARE = tracked("T-4", "alias", "Alias", "2025-06-01 11:00:00.000")  # every other column NULL
SCREEN = tracked(
    "T-5",
    "screen",
    "Screen Viewed",
    "2025-06-01 12:00:00.000",
    name="Корзина",
    device_id="D-T2",
    anonymous_id="anon-t2",
    automated="prefetch",
)
GROUP = tracked(
    "T-6",
    "group",
    "Group",
    "2025-06-01 12:30:00.000",
    user_id="WEB-9",
    group_id="G-1",
    traits='{"name":"ООО «Ромашка»"}',
)
PREVIOUS_ALIAS = tracked(
    "T-7", "alias", "Alias", "2025-06-02 09:00:00.000", user_id="WEB-9", previous_id="anon-t1"
)
# At-least-once delivery: the page view again, received later, in the next file.
PAGE_AGAIN = {**PAGE, "received_at": at("2025-06-01 10:05:00.000")}


def message(event_id: str, event_type: str, occurred_at: str, **values: Any) -> dict:
    row: dict[str, Any] = dict.fromkeys(HERALD_MESSAGE_EVENTS_SCHEMA.names)
    row.update(event_id=event_id, event_type=event_type, occurred_at=at(occurred_at))
    row.update(values)
    return row


SENT_TO_IVAN = {
    "message_id": "hmsg-1",
    "campaign_id": "cmp-7",
    "campaign_run": "run-7-1",
    "channel": "email",
    "recipient": "ivan.petrov@mail.ru",
    "contact_id": "CRM-1",
    "database": "customers",
    "profile_id": "prof-1",
    "provider": "mail.ru",
}
OPENED = message(
    "H-1",
    "opened",
    "2025-06-01 09:59:00.750",
    **SENT_TO_IVAN,
    ip="198.51.100.7",
    user_agent="Почта Mail.ru/14.2",
)
CLICKED = message(
    "H-2",
    "clicked",
    "2025-06-01 09:59:58.001",
    **SENT_TO_IVAN,
    url="https://www.polka.example/?utm_source=herald&utm_medium=email&utm_content=ссылка",
    link_position=3,
    ip="198.51.100.7",
    user_agent="Mozilla/5.0",
)
VIEWED_BARE = message("H-3", "viewed", "2025-06-01 13:00:00.000", message_id="hmsg-2")
UNSUBSCRIBED = message(
    "H-4",
    "unsubscribed",
    "2025-06-02 08:00:00.000",
    **SENT_TO_IVAN,
    automated="security_scanner",
)
OPENED_AGAIN = {**OPENED}  # the same event written again into the next file


def tracked_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=TRACKED_EVENTS_SCHEMA)


def herald_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=HERALD_MESSAGE_EVENTS_SCHEMA)


def write_whole(table: pa.Table, path: Path) -> None:
    """As the loader writes: the whole file under a temporary name, renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, temporary)
    temporary.rename(path)


def write_tracked_landing(landing: Path) -> None:
    write_whole(
        tracked_table([PAGE, IDENTIFY, PRODUCT, ALIAS_BARE, SCREEN, GROUP]),
        landing / "events" / "tracking-00001.parquet",
    )
    write_whole(tracked_table([PAGE_AGAIN]), landing / "events" / "tracking-00002.parquet")
    write_whole(
        herald_table([OPENED, CLICKED, VIEWED_BARE]),
        landing / "herald_message_events" / "herald-00001.parquet",
    )
    write_whole(
        herald_table([OPENED_AGAIN, UNSUBSCRIBED]),
        landing / "herald_message_events" / "herald-00002.parquet",
    )


def normalise(value: Any) -> Any:
    """Make DuckDB's and ClickHouse's Python values comparable."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, Decimal | float):
        return round(float(value), 6)
    return value


def rows_by_id(warehouse: Warehouse, table: str, key: str = "event_id") -> dict[str, dict]:
    rows = warehouse.query_arrow(f"select * from {warehouse.qualify(table)}").to_pylist()
    ids = [row[key] for row in rows]
    assert len(ids) == len(set(ids)), f"{table} repeats an {key}: {sorted(ids)}"
    return {row[key]: {name: normalise(value) for name, value in row.items()} for row in rows}


def open_warehouses(root: Path, factory: pytest.TempPathFactory) -> dict[str, Warehouse]:
    return {
        "duckdb": DuckDBWarehouse(root / "warehouse.duckdb"),
        "chdb": new_chdb_warehouse(session_chdb_path(factory)),
    }


def build(warehouse: Warehouse, landing: Path) -> None:
    loads = load_all_landing(warehouse, PROJECT, landing)
    assert [load.rejected for load in loads if load.rejected] == []
    runs = build_models(warehouse, PROJECT, names=MODELS)
    failures = [
        f"{run.name}.{outcome.test.name}"
        for run in runs
        for outcome in run.tests
        if not outcome.passed
    ]
    assert failures == [], f"{warehouse.engine}: data tests failed: {failures}"


def close_all(warehouses: dict[str, Warehouse]) -> None:
    for warehouse in warehouses.values():
        if warehouse.dialect == "clickhouse":
            warehouse.command(f"drop database if exists {warehouse.quote(warehouse.database)}")
        warehouse.close()


@pytest.fixture(scope="module")
def tracked_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict]]:
    """A HERALD_HOME with the fixture batch feeds and the tracker's files, built on both."""
    home = tmp_path_factory.mktemp("tracked_home")
    write_landing(home / "landing")
    write_tracked_landing(home / "landing")
    warehouses = open_warehouses(home, tmp_path_factory)
    for warehouse in warehouses.values():
        build(warehouse, home / "landing")
    yield home, warehouses
    close_all(warehouses)


@pytest.fixture(scope="module")
def untracked_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict]]:
    """A HERALD_HOME where the tracker has written nothing yet."""
    home = tmp_path_factory.mktemp("untracked_home")
    write_landing(home / "landing")
    warehouses = open_warehouses(home, tmp_path_factory)
    for warehouse in warehouses.values():
        build(warehouse, home / "landing")
    yield home, warehouses
    close_all(warehouses)


WEB_FEED_IDS = {f"E-{i}" for i in range(1, 10)}
TRACKED_IDS = {"T-1", "T-2", "T-3", "T-4", "T-5", "T-6"}
MESSAGING_FEED_IDS = {f"M-{i}" for i in range(1, 7)}
HERALD_IDS = {"H-1", "H-2", "H-3", "H-4"}


@pytest.mark.parametrize("engine", ENGINES)
def test_tracked_events_join_the_web_feed_once_each(tracked_home: tuple, engine: str) -> None:
    _, warehouses = tracked_home
    events = rows_by_id(warehouses[engine], "events")
    assert set(events) == WEB_FEED_IDS | TRACKED_IDS


@pytest.mark.parametrize("engine", ENGINES)
def test_a_page_view_keeps_its_values_and_first_delivery(tracked_home: tuple, engine: str) -> None:
    _, warehouses = tracked_home
    page = rows_by_id(warehouses[engine], "events")["T-1"]
    assert page == {
        "event_id": "T-1",
        "event_type": "page",
        "event_name": "Page Viewed",
        "occurred_at": at("2025-06-01 10:00:00.123"),
        "event_date": dt.date(2025, 6, 1),
        "received_at": at("2025-06-01 10:00:01.373"),
        "anonymous_id": "anon-t1",
        "user_id": None,
        "session_id": "S-T1",
        "device_id": "D-T1",
        "url": PAGE["url"],
        "path": "/",
        "title": "Полка — всё для дома",
        "referrer": "https://e.mail.ru/inbox",
        "referrer_host": "e.mail.ru",
        "traffic_source": "email",
        "utm_source": "herald",
        "utm_medium": "email",
        "utm_campaign": "cmp-7",
        "utm_content": None,
        "utm_term": None,
        "product_id": None,
        "category": None,
        "brand": None,
        "price": None,
        "goal": None,
        "properties": PAGE["properties"],
        "name": "Главная",
        "traits": None,
        "context": PAGE["context"],
        "group_id": None,
        "previous_id": None,
        "source": "polka-site",
        "database": "customers",
        "automated": None,
        "herald_profile_id": "prof-1",
        "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
        "ip": "203.0.113.5",
    }


@pytest.mark.parametrize("engine", ENGINES)
def test_other_tracked_types_keep_their_own_columns(tracked_home: tuple, engine: str) -> None:
    _, warehouses = tracked_home
    events = rows_by_id(warehouses[engine], "events")
    identify, product, screen, group = (events[key] for key in ("T-2", "T-3", "T-5", "T-6"))
    assert (identify["event_type"], identify["user_id"], identify["traits"]) == (
        "identify",
        "WEB-9",
        IDENTIFY["traits"],
    )
    assert (product["product_id"], product["brand"], product["price"], product["title"]) == (
        "SKU-10089",
        "Фьорд",
        3490.5,
        "Чайник «Утро»",
    )
    assert (screen["event_name"], screen["name"], screen["automated"]) == (
        "Screen Viewed",
        "Корзина",
        "prefetch",
    )
    assert (group["event_type"], group["group_id"], group["traits"]) == (
        "group",
        "G-1",
        GROUP["traits"],
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_a_bare_tracked_event_arrives_with_nulls(tracked_home: tuple, engine: str) -> None:
    _, warehouses = tracked_home
    bare = rows_by_id(warehouses[engine], "events")["T-4"]
    given = {
        "event_id": "T-4",
        "event_type": "alias",
        "event_name": "Alias",
        "occurred_at": at("2025-06-01 11:00:00"),
        "event_date": dt.date(2025, 6, 1),
        "received_at": at("2025-06-01 11:00:01.250"),
        "traffic_source": "direct",
        "source": "polka-site",
    }
    assert {key: value for key, value in bare.items() if value is not None} == given


@pytest.mark.parametrize("engine", ENGINES)
def test_web_feed_rows_have_no_tracking_columns(tracked_home: tuple, engine: str) -> None:
    _, warehouses = tracked_home
    web = rows_by_id(warehouses[engine], "events")["E-1"]
    assert (web["event_name"], web["traffic_source"]) == ("Page Viewed", "search")
    tracking_only = [
        "name",
        "source",
        "database",
        "automated",
        "herald_profile_id",
        "traits",
        "context",
        "user_agent",
        "ip",
        "group_id",
        "previous_id",
    ]
    assert {column: web[column] for column in tracking_only} == dict.fromkeys(tracking_only)


@pytest.mark.parametrize("engine", ENGINES)
def test_herald_message_events_join_the_messaging_feed_once_each(
    tracked_home: tuple, engine: str
) -> None:
    _, warehouses = tracked_home
    events = rows_by_id(warehouses[engine], "message_events")
    assert set(events) == MESSAGING_FEED_IDS | HERALD_IDS
    assert events["H-1"] == {
        "event_id": "H-1",
        "message_id": "hmsg-1",
        "campaign_id": "cmp-7",
        "channel": "email",
        "recipient": "ivan.petrov@mail.ru",
        "recipient_domain": "mail.ru",
        "contact_id": "CRM-1",
        "event_type": "opened",
        "occurred_at": at("2025-06-01 09:59:00.750"),
        "event_date": dt.date(2025, 6, 1),
        "url": None,
        "link_position": None,
        "bounce_type": None,
        "status_class": None,
        "smtp_code": None,
        "smtp_status": None,
        "diagnostic": None,
        "provider": "mail.ru",
        "campaign_run": "run-7-1",
        "database": "customers",
        "profile_id": "prof-1",
        "automated": None,
        "user_agent": "Почта Mail.ru/14.2",
        "ip": "198.51.100.7",
    }
    clicked, unsubscribed = events["H-2"], events["H-4"]
    assert (clicked["url"], clicked["link_position"]) == (CLICKED["url"], 3)
    assert (unsubscribed["event_type"], unsubscribed["automated"]) == (
        "unsubscribed",
        "security_scanner",
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_a_bare_herald_message_event_arrives_with_nulls(tracked_home: tuple, engine: str) -> None:
    _, warehouses = tracked_home
    viewed = rows_by_id(warehouses[engine], "message_events")["H-3"]
    assert {key: value for key, value in viewed.items() if value is not None} == {
        "event_id": "H-3",
        "message_id": "hmsg-2",
        "event_type": "viewed",
        "occurred_at": at("2025-06-01 13:00:00"),
        "event_date": dt.date(2025, 6, 1),
    }


@pytest.mark.parametrize("engine", ENGINES)
def test_messaging_feed_rows_have_no_herald_columns(tracked_home: tuple, engine: str) -> None:
    _, warehouses = tracked_home
    sent = rows_by_id(warehouses[engine], "message_events")["M-1"]
    herald_only = ["campaign_run", "database", "profile_id", "automated", "user_agent", "ip"]
    assert (sent["event_type"], sent["contact_id"]) == ("sent", "CRM-1")
    assert {column: sent[column] for column in herald_only} == dict.fromkeys(herald_only)


def test_new_files_merge_into_both_marts_without_duplicates(tracked_home: tuple) -> None:
    home, warehouses = tracked_home
    landing = home / "landing"
    late_page = {**PAGE, "received_at": at("2025-06-02 09:00:02.000")}
    write_whole(
        tracked_table([late_page, PREVIOUS_ALIAS]), landing / "events" / "tracking-00003.parquet"
    )
    write_whole(
        herald_table([CLICKED, message("H-5", "opened", "2025-06-02 10:00:00", **SENT_TO_IVAN)]),
        landing / "herald_message_events" / "herald-00003.parquet",
    )
    for engine in ENGINES:
        warehouse = warehouses[engine]
        build(warehouse, landing)
        events = rows_by_id(warehouse, "events")
        assert set(events) == WEB_FEED_IDS | TRACKED_IDS | {"T-7"}, engine
        assert events["T-1"]["received_at"] == at("2025-06-01 10:00:01.373"), engine
        assert events["T-7"]["previous_id"] == "anon-t1", engine
        message_events = rows_by_id(warehouse, "message_events")
        assert set(message_events) == MESSAGING_FEED_IDS | HERALD_IDS | {"H-5"}, engine


@pytest.mark.parametrize("engine", ENGINES)
def test_a_home_without_tracked_files_builds_from_empty_raw_tables(
    untracked_home: tuple, engine: str
) -> None:
    _, warehouses = untracked_home
    warehouse = warehouses[engine]
    assert warehouse.row_count("raw_events") == 0
    assert warehouse.row_count("raw_herald_message_events") == 0
    events = rows_by_id(warehouse, "events")
    assert set(events) == WEB_FEED_IDS
    assert {row["source"] for row in events.values()} == {None}
    assert set(rows_by_id(warehouse, "message_events")) == MESSAGING_FEED_IDS


def test_the_first_tracked_files_load_into_the_declared_raw_tables(untracked_home: tuple) -> None:
    """The raw tables made from sources.yml before any file take the loader's files as they
    come, and the marts built before them merge them in."""
    home, warehouses = untracked_home
    write_tracked_landing(home / "landing")
    for engine in ENGINES:
        warehouse = warehouses[engine]
        build(warehouse, home / "landing")
        events = rows_by_id(warehouse, "events")
        assert set(events) == WEB_FEED_IDS | TRACKED_IDS, engine
        assert events["T-1"]["occurred_at"] == at("2025-06-01 10:00:00.123"), engine
        assert events["T-3"]["price"] == 3490.5, engine
        message_events = rows_by_id(warehouse, "message_events")
        assert set(message_events) == MESSAGING_FEED_IDS | HERALD_IDS, engine
        assert message_events["H-2"]["link_position"] == 3, engine


@pytest.mark.parametrize(
    ("source", "schema"),
    [
        (("tracking", "events"), TRACKED_EVENTS_SCHEMA),
        (("herald", "herald_message_events"), HERALD_MESSAGE_EVENTS_SCHEMA),
    ],
)
def test_sources_yml_declares_the_loaders_columns(
    source: tuple[str, str], schema: pa.Schema
) -> None:
    assert PROJECT.source(*source).arrow_schema() == schema
