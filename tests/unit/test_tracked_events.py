"""What the loader makes of envelopes (tracking/events.py): landing rows, orders, profile
updates, identities, and every refused event with its reason."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import orjson

from herald.tokens import TrackingToken
from tracking.events import TrackedBatch

RECEIVED = "2026-11-26T10:00:10.000Z"


def envelope(*events: Any, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "segment",
        "source": "web",
        "database": "customers",
        "received_at": RECEIVED,
        "ip": "10.0.0.1",
        "user_agent": "analytics-python",
        "events": list(events),
        **extra,
    }


def batch_of(*envelopes: dict[str, Any]) -> TrackedBatch:
    batch = TrackedBatch()
    for item in envelopes:
        batch.add(orjson.loads(orjson.dumps(item)))
    return batch


def event_rows(batch: TrackedBatch) -> list[dict[str, Any]]:
    return batch.events_table().to_pylist()


def test_a_track_call_becomes_one_event_row_with_its_product_columns() -> None:
    batch = batch_of(
        envelope(
            {
                "type": "track",
                "messageId": "m1",
                "userId": "u1",
                "event": "Product Added",
                "timestamp": "2026-11-26T09:59:00.250Z",
                "properties": {"sku": "SKU-9", "price": "12.5", "brand": "Fjord"},
            }
        )
    )
    [row] = event_rows(batch)
    assert (row["message_id"], row["event"], row["user_id"]) == ("m1", "Product Added", "u1")
    assert row["timestamp"] == datetime(2026, 11, 26, 9, 59, 0, 250000)
    assert row["received_at"] == datetime(2026, 11, 26, 10, 0, 10)
    assert (row["product_id"], row["price"], row["brand"]) == ("SKU-9", 12.5, "Fjord")
    assert json.loads(row["properties"])["sku"] == "SKU-9"
    assert (row["source"], row["database"], row["ip"]) == ("web", "customers", "10.0.0.1")
    assert batch.accepted == batch.received == 1


def test_a_device_clock_that_is_off_is_corrected_by_sent_at() -> None:
    # The device thinks it is 10:05 when it sends; the tracker receives at 10:00:10.
    [row] = event_rows(
        batch_of(
            envelope(
                {
                    "type": "track",
                    "messageId": "m1",
                    "anonymousId": "a1",
                    "event": "X",
                    "timestamp": "2026-11-26T10:04:00Z",
                    "sentAt": "2026-11-26T10:05:00Z",
                }
            )
        )
    )
    assert row["timestamp"] == datetime(2026, 11, 26, 9, 59, 10)


def test_a_page_view_takes_its_campaign_from_the_context_or_else_the_url() -> None:
    rows = event_rows(
        batch_of(
            envelope(
                {
                    "type": "page",
                    "messageId": "p1",
                    "anonymousId": "a1",
                    "properties": {"url": "https://s.example/?utm_source=vk&utm_medium=social"},
                },
                {
                    "type": "page",
                    "messageId": "p2",
                    "anonymousId": "a1",
                    "context": {
                        "campaign": {"source": "google", "name": "spring"},
                        "page": {"url": "https://s.example/x", "path": "/x", "title": "X"},
                    },
                },
            )
        )
    )
    assert [(row["event"], row["utm_source"], row["utm_medium"]) for row in rows] == [
        ("Page Viewed", "vk", "social"),
        ("Page Viewed", "google", None),
    ]
    assert (rows[1]["utm_campaign"], rows[1]["path"], rows[1]["title"]) == ("spring", "/x", "X")


def test_order_events_feed_orders_with_their_status_and_lines() -> None:
    products = [{"product_id": "SKU-1", "price": 10, "quantity": 3, "name": "Cup"}]
    batch = batch_of(
        envelope(
            {
                "type": "track",
                "messageId": "o1",
                "userId": "u1",
                "event": "Order Completed",
                "properties": {
                    "order_id": "ORD-1",
                    "revenue": 30,
                    "currency": "eur",
                    "products": products,
                },
            },
            {
                "type": "track",
                "messageId": "o2",
                "userId": "u1",
                "event": "Order Refunded",
                "properties": {"order_id": "ORD-1", "total": 30},
            },
            {
                "type": "track",
                "messageId": "o3",
                "userId": "u1",
                "event": "Order Cancelled",
                "properties": {"total": 5},
            },
        )
    )
    orders = batch.orders_table().to_pylist()
    assert [(o["order_id"], o["status"], o["total"], o["currency"]) for o in orders] == [
        ("ORD-1", "paid", 30.0, "EUR"),
        ("ORD-1", "returned", 30.0, "USD"),
    ]
    [line] = batch.order_items_table().to_pylist()
    assert (line["product_id"], line["quantity"], line["unit_price"]) == ("SKU-1", 3, 10.0)
    # The cancelled order without an order_id is refused, with the reason kept.
    [(reason, body)] = batch.refused
    assert "order_id" in reason and json.loads(body)["messageId"] == "o3"


def test_identify_alias_and_an_email_link_become_profile_updates() -> None:
    batch = batch_of(
        envelope(
            {
                "type": "identify",
                "messageId": "i1",
                "userId": "u1",
                "anonymousId": "a1",
                "traits": {"email": "x@y.ru"},
            },
            {"type": "alias", "messageId": "l1", "userId": "u1", "previousId": "a0"},
            {
                "type": "page",
                "messageId": "p1",
                "anonymousId": "a9",
                "context": {"herald": {"database": "customers", "profile_id": "p42"}},
            },
        )
    )
    updates = [update for _, _, update in batch.profile_updates]
    assert updates == [
        {"user_id": "u1", "anonymous_id": "a1", "traits": {"email": "x@y.ru"}},
        {"user_id": "u1", "anonymous_id": "a0", "traits": {}},
        {"user_id": None, "anonymous_id": "a9", "traits": {}, "profile_id": "p42"},
    ]
    assert set(batch.identities) == {
        ("customers", "user", "u1"),
        ("customers", "anonymous", "a1"),
        ("customers", "anonymous", "a9"),
    }


def test_rudderstack_identify_traits_in_the_context_are_read() -> None:
    batch = batch_of(
        envelope(
            {
                "type": "identify",
                "messageId": "i1",
                "userId": "u1",
                "context": {"traits": {"firstName": "Anna"}},
            }
        )
    )
    assert batch.profile_updates[0][2]["traits"] == {"firstName": "Anna"}


def test_damaged_events_are_refused_one_by_one_and_counted() -> None:
    batch = batch_of(
        envelope(
            "not an object",
            {"type": "track", "event": "No id", "userId": "u1"},
            {"type": "track", "messageId": "ok", "userId": "u1", "event": "Fine"},
            {"type": "track", "messageId": "t", "userId": "u1", "event": "X", "timestamp": "soon"},
        ),
        {"kind": "mystery"},
        {"kind": "segment", "events": "not a list", "received_at": RECEIVED},
    )
    assert batch.accepted == 1
    assert batch.received == batch.accepted + len(batch.refused) == 6
    reasons = [reason for reason, _ in batch.refused]
    assert any("messageId" in reason for reason in reasons)
    assert any("unknown envelope kind" in reason for reason in reasons)


def test_events_the_tracker_refused_travel_with_their_reasons() -> None:
    batch = batch_of(envelope(rejected=[["batch[3]: a track call needs an event name", {"x": 1}]]))
    assert batch.refused == [("batch[3]: a track call needs an event name", b'{"x":1}')]
    assert batch.received == 1 and batch.accepted == 0


def test_a_message_event_carries_its_token_and_is_flagged_when_automated() -> None:
    token = TrackingToken(
        kind="click", database="customers", profile_id="p1", campaign_run="run-7",
        message_id="m1", link=3, url="https://s.example/",
    )  # fmt: skip
    common = {"kind": "message", "token": token.payload(), "received_at": RECEIVED,
              "ip": "10.0.0.2", "url": "https://s.example/"}  # fmt: skip
    batch = batch_of(
        {**common, "type": "clicked", "event_id": "e1", "method": "GET",
         "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
                       "like Gecko) Chrome/131.0.0.0 Safari/537.36"},
        {**common, "type": "clicked", "event_id": "e2", "method": "HEAD", "user_agent": "x"},
    )  # fmt: skip
    rows = batch.message_events_table().to_pylist()
    assert [(row["event_id"], row["automated"]) for row in rows] == [
        ("e1", None),
        ("e2", "head_request"),
    ]
    assert (rows[0]["profile_id"], rows[0]["campaign_run"], rows[0]["link_position"]) == (
        "p1",
        "run-7",
        3,
    )


def test_a_browser_event_from_a_crawler_is_flagged_not_dropped() -> None:
    [row] = event_rows(
        batch_of(
            envelope(
                {
                    "type": "page",
                    "messageId": "p1",
                    "anonymousId": "a1",
                    "context": {
                        "userAgent": "Mozilla/5.0 (compatible; Googlebot/2.1; "
                        "+http://www.google.com/bot.html)"
                    },
                }
            )
        )
    )
    assert row["automated"] == "crawler"
