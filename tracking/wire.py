"""What travels on the events queue: bundles of envelopes, as JSON.

One AMQP message is a JSON array of envelopes (or one envelope object); an envelope is what
one HTTP request brought, with what the tracker knew about the request (`received_at` in
milliseconds since the epoch, or ISO 8601 text):

    {"kind": "segment", "source": "web", "database": "customers",
     "received_at": 1795687200123, "ip": "…", "user_agent": "…",
     "events": [<Segment messages, each with a messageId>]}
    {"kind": "message", "type": "opened" | "clicked" | "unsubscribed" | "viewed",
     "event_id": "…", "token": [<the signed token's fields>], "received_at": "…",
     "ip": "…", "user_agent": "…", "method": "GET", "url": "…"}

Bundling many requests into one message is what makes a publisher-confirmed, durable answer
cheap (tracking/publisher.py); the loader reads every shape.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import orjson

WIRE_VERSION = 1


def now_ms() -> int:
    """Now, in milliseconds since the Unix epoch (what envelopes carry as received_at)."""
    return time.time_ns() // 1_000_000


def utc_stamp(moment: datetime | None = None) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, as Segment writes timestamps."""
    moment = moment or datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def segment_envelope(
    *,
    source: str,
    database: str,
    received_at: int | str,
    ip: str | None,
    user_agent: str | None,
    events: list[dict[str, Any]],
) -> bytes:
    return orjson.dumps(
        {
            "kind": "segment",
            "source": source,
            "database": database,
            "received_at": received_at,
            "ip": ip,
            "user_agent": user_agent,
            "events": events,
        }
    )


def message_envelope(
    *,
    event_type: str,
    event_id: str,
    token: list[object],
    received_at: int | str,
    ip: str | None,
    user_agent: str | None,
    method: str,
    url: str | None = None,
) -> bytes:
    return orjson.dumps(
        {
            "kind": "message",
            "type": event_type,
            "event_id": event_id,
            "token": token,
            "received_at": received_at,
            "ip": ip,
            "user_agent": user_agent,
            "method": method,
            "url": url,
        }
    )


def bundle(envelopes: list[bytes]) -> bytes:
    return b"[" + b",".join(envelopes) + b"]"


class WireError(ValueError):
    """A queue message that is not a bundle of envelopes."""


def read_bundle(body: bytes) -> list[dict[str, Any]]:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise WireError(f"not JSON: {exc}") from None
    envelopes = value if isinstance(value, list) else [value]
    if not all(isinstance(item, dict) for item in envelopes):
        raise WireError("a bundle holds envelope objects")
    return envelopes
