"""Message events the sender publishes to the `events` queue, as the loader reads them.

    sender_event(event_type="sent", event_id=..., message_id=..., run_id=..., channel="email",
                 recipient="anna@example.com", database="shop", profile_id="p1",
                 occurred_at=now_ms(), provider="gmail", smtp_code=250)

Each is an envelope of kind `message` with `source: "sender"` and its fields spelled out
(the tracker's message envelopes carry a signed token instead); the loader lands both in
`herald_message_events`, which feeds the `message_events` mart. Every state change of a
message is one event: queued, sent, delivered, deferred, bounced, failed, skipped, complained.
The event id is derived from the idempotency key, the event type and the attempt, so an event
published twice (a worker that dies before its acknowledgement) lands once.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

SENDER_EVENT_TYPES = (
    "queued",
    "sent",
    "delivered",
    "deferred",
    "bounced",
    "failed",
    "skipped",
    "complained",
)


def sender_event_id(key: str, event_type: str, attempt: int = 0) -> str:
    return hashlib.blake2b(f"{key}|{event_type}|{attempt}".encode(), digest_size=16).hexdigest()


def sender_event(
    *,
    event_type: str,
    event_id: str,
    message_id: str | None,
    run_id: str,
    channel: str,
    recipient: str | None,
    database: str | None,
    profile_id: str,
    occurred_at: int,
    provider: str | None = None,
    bounce_type: str | None = None,
    smtp_code: int | None = None,
    smtp_status: str | None = None,
    diagnostic: str | None = None,
) -> dict[str, Any]:
    return {
        "kind": "message",
        "source": "sender",
        "type": event_type,
        "event_id": event_id,
        "message_id": message_id,
        "run": run_id,
        "channel": channel,
        "recipient": recipient,
        "database": database,
        "profile_id": profile_id,
        "received_at": occurred_at,
        "provider": provider,
        "bounce_type": bounce_type,
        "smtp_code": smtp_code,
        "smtp_status": smtp_status,
        "diagnostic": diagnostic,
    }


def event_bundle(events: list[dict[str, Any]]) -> bytes:
    """Events as one queue message (a bundle, as tracking/wire.py reads them)."""
    return orjson.dumps(events)
