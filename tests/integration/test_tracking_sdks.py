"""The official server SDKs, unchanged and configured only with Herald's URL and a write key,
send to the running tracker; their events land with properties and timestamps, identify
calls become profile records, and the warehouse's `events` mart has them.

segment-analytics-python and rudder-sdk-python are test dependencies (pyproject.toml).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
from rudderstack.analytics import Client as RudderClient
from segment.analytics import Client as SegmentClient

from tests.support.tracking import TrackingHome, herald


def rows(service: TrackingHome, table: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in service.landed(table):
        found.extend(pq.read_table(path).to_pylist())
    return found


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory):
    home = TrackingHome.create(tmp_path_factory.mktemp("sdks"))
    yield home
    home.delete_queues()


def _send(client: Any, suffix: str) -> None:
    moment = datetime(2026, 11, 20, 10, 30, 15, tzinfo=UTC)
    client.identify(
        f"SHOP-{suffix}",
        {"email": f"Anna.{suffix}@Example.COM", "firstName": "Anna", "plan": "gold"},
        anonymous_id=f"anon-{suffix}",
    )
    client.track(
        f"SHOP-{suffix}",
        "Product Viewed",
        {"product_id": "SKU-10001", "price": 349.9, "category": "Phones"},
        timestamp=moment,
    )
    client.page(
        f"SHOP-{suffix}",
        name="Sale",
        properties={
            "url": "https://shop.example/sale?utm_source=vk&utm_medium=social",
            "path": "/sale",
            "title": "Распродажа",
        },
    )
    client.track(
        f"SHOP-{suffix}",
        "Order Completed",
        {
            "order_id": f"ORD-{suffix}",
            "total": 699.8,
            "currency": "RUB",
            "coupon": "SALE15",
            "products": [
                {"product_id": "SKU-10001", "name": "Phone", "price": 349.9, "quantity": 2}
            ],
        },
        timestamp=moment,
    )
    client.group(f"SHOP-{suffix}", f"company-{suffix}", {"name": "Полка"})
    client.alias(f"anon-old-{suffix}", f"SHOP-{suffix}")
    for number in range(150):  # more than one batch of the SDK (upload_size=100)
        client.track(None, "Scrolled", {"n": number}, anonymous_id=f"anon-{suffix}")
    client.flush()


@pytest.fixture(scope="module")
def landed(service: TrackingHome) -> dict[str, Any]:
    errors: list[Any] = []
    with service.tracker() as url:
        segment = SegmentClient(
            service.write_key, host=url, gzip=True, on_error=lambda e, b: errors.append(e)
        )
        rudder = RudderClient(service.write_key, host=url, on_error=lambda e, b: errors.append(e))
        _send(segment, "s")
        _send(rudder, "r")
        segment.shutdown()
        rudder.shutdown()
    summary = service.load(command=True)  # as `herald serve loader --until-idle` runs
    return {"errors": errors, "summary": summary}


def test_both_sdks_are_answered_without_errors(landed: dict[str, Any]) -> None:
    assert landed["errors"] == []
    summary = landed["summary"]
    assert summary["received"] == summary["accepted"] == 2 * (6 + 150)
    assert summary["rejected"] == 0


@pytest.mark.parametrize("suffix", ["s", "r"])
def test_a_track_call_lands_with_its_properties_and_timestamp(
    service: TrackingHome, landed: dict[str, Any], suffix: str
) -> None:
    viewed = [
        row
        for row in rows(service, "events")
        if row["event"] == "Product Viewed" and row["user_id"] == f"SHOP-{suffix}"
    ]
    assert len(viewed) == 1
    row = viewed[0]
    assert row["timestamp"] == datetime(2026, 11, 20, 10, 30, 15)
    assert row["product_id"] == "SKU-10001"
    assert row["price"] == 349.9
    assert row["category"] == "Phones"
    assert json.loads(row["properties"])["price"] == 349.9
    assert row["source"] == "web" and row["database"] == "customers"


@pytest.mark.parametrize("suffix", ["s", "r"])
def test_page_group_and_alias_calls_land(
    service: TrackingHome, landed: dict[str, Any], suffix: str
) -> None:
    mine = [row for row in rows(service, "events") if row["user_id"] == f"SHOP-{suffix}"]
    page = next(row for row in mine if row["type"] == "page")
    assert (page["name"], page["path"], page["title"]) == ("Sale", "/sale", "Распродажа")
    assert (page["utm_source"], page["utm_medium"]) == ("vk", "social")
    group = next(row for row in mine if row["type"] == "group")
    assert group["group_id"] == f"company-{suffix}"
    alias = next(row for row in mine if row["type"] == "alias")
    assert alias["previous_id"] == f"anon-old-{suffix}"


@pytest.mark.parametrize("suffix", ["s", "r"])
def test_orders_and_their_lines_come_from_order_completed(
    service: TrackingHome, landed: dict[str, Any], suffix: str
) -> None:
    order = next(row for row in rows(service, "orders") if row["order_id"] == f"ORD-{suffix}")
    assert (order["customer_id"], order["status"], order["total"]) == (
        f"SHOP-{suffix}",
        "paid",
        699.8,
    )
    assert (order["currency"], order["promo_code"]) == ("RUB", "SALE15")
    lines = [row for row in rows(service, "order_items") if row["order_id"] == f"ORD-{suffix}"]
    assert [(line["product_id"], line["quantity"]) for line in lines] == [("SKU-10001", 2)]


@pytest.mark.parametrize("suffix", ["s", "r"])
def test_identify_becomes_a_profile_record_with_normalised_traits(
    service: TrackingHome, landed: dict[str, Any], suffix: str
) -> None:
    records = [json.loads(row["fields"]) for row in rows(service, "profile_records")]
    identified = [
        fields for fields in records if fields.get("email") == f"anna.{suffix}@example.com"
    ]
    assert identified == [
        {
            "anonymous_id": f"anon-{suffix}",
            "email": f"anna.{suffix}@example.com",
            "first_name": "Anna",
            "shop_id": f"SHOP-{suffix}",
        }
    ]
    # The alias links the earlier anonymous id to the user.
    assert {"anonymous_id": f"anon-old-{suffix}", "shop_id": f"SHOP-{suffix}"} in records


def test_every_identity_gets_one_record_however_many_events(
    service: TrackingHome, landed: dict[str, Any]
) -> None:
    keys = [row["record_key"] for row in rows(service, "profile_records")]
    identity_keys = [key for key in keys if key.startswith(("user:", "anonymous:"))]
    assert len(identity_keys) == len(set(identity_keys))
    assert "anonymous:anon-s" in identity_keys or "user:SHOP-s" in identity_keys


def test_the_marts_have_every_tracked_event_once_each_with_its_profile(
    service: TrackingHome, landed: dict[str, Any], tmp_path: Path
) -> None:
    # Everything segments read, on a home fed only by the tracker (no CRM or shop files):
    # the raw tables, staging, marts and profiles upstream of segment_inputs.
    built = herald(service.env, "materialize", "--select", "+key:segment_inputs")
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    warehouse = service.home / "warehouse.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        counted = connection.execute(
            "select count(*), count(distinct event_id) from events where source = 'web'"
        ).fetchone()
        unlinked = connection.execute(
            "select count(*) from events e where source = 'web' and not exists "
            "(select 1 from profile_events p where p.event_id = e.event_id)"
        ).fetchone()
        profiles = connection.execute(
            "select count(*) from profiles where database = 'customers'"
        ).fetchone()
        viewed = connection.execute(
            "select occurred_at, product_id, price from events "
            "where event_name = 'Product Viewed' and user_id = 'SHOP-s'"
        ).fetchall()
    assert counted == (2 * (6 + 150), 2 * (6 + 150))
    # Every event belongs to a profile: one per person (SDK user; the alias and the
    # anonymous ids link to it).
    assert unlinked == (0,)
    assert profiles == (2,)
    assert viewed == [(datetime(2026, 11, 20, 10, 30, 15), "SKU-10001", 349.9)]
