"""What travels on the `sends` queues: chunks of recipients of one run, as JSON.

    {"v": 1, "run": "run-7", "step": "main", "attempt": 0, "first_at": null,
     "recipients": [{"p": "p_shop:crm:1", "a": "anna@example.com", "f": {"first_name": "Anna"}}]}

A recipient may carry its own step (`"s"`), which then replaces the chunk's in its
idempotency key: the API batches transactional sends of one run, each with its request's
key, into one chunk.

The launcher publishes a run's snapshot in chunks (so a million recipients are ten thousand
queue messages, not a million); a worker acknowledges a chunk when every recipient in it has
an outcome on record. A retry travels alone: a chunk of one recipient with its `attempt`
(deliveries tried so far) and `first_at` (epoch ms of the first attempt, for the max age).

Queues (declared the same way by every client, herald/sending/queues.py):
- `sends`: campaign chunks; `sends.priority`: transactional messages, drained first;
- `sends.delay.<seconds>`: retries waiting; a message's TTL runs out and RabbitMQ moves it
  back to the lane it came from;
- `sends.hold.<run>`: chunks of a paused run, moved back by `herald queue resume`;
- `sends.dead`: poison chunks (the delivery limit) and refused ones, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

WIRE_VERSION = 1


@dataclass(frozen=True, slots=True)
class Recipient:
    profile_id: str
    address: str
    fields: dict[str, Any] = field(default_factory=dict)
    step: str | None = None  # its own step (transactional sends batched in one chunk)


@dataclass(frozen=True, slots=True)
class SendChunk:
    run_id: str
    recipients: list[Recipient]
    step: str = "main"
    attempt: int = 0
    first_at: int | None = None  # epoch ms of the first attempt (retries only)


class SendWireError(ValueError):
    """A queue message that is not a chunk of recipients."""


def encode_chunk(chunk: SendChunk) -> bytes:
    return orjson.dumps(
        {
            "v": WIRE_VERSION,
            "run": chunk.run_id,
            "step": chunk.step,
            "attempt": chunk.attempt,
            "first_at": chunk.first_at,
            "recipients": [_recipient(r) for r in chunk.recipients],
        }
    )


def _recipient(recipient: Recipient) -> dict[str, Any]:
    row = {"p": recipient.profile_id, "a": recipient.address, "f": recipient.fields}
    if recipient.step is not None:
        row["s"] = recipient.step
    return row


def decode_chunk(body: bytes) -> SendChunk:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise SendWireError(f"not JSON: {exc}") from None
    if not isinstance(value, dict) or not isinstance(value.get("run"), str):
        raise SendWireError("a chunk is an object with a run id")
    rows = value.get("recipients")
    if not isinstance(rows, list):
        raise SendWireError("a chunk lists its recipients")
    recipients = []
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("p"), str):
            raise SendWireError("a recipient has a profile id")
        fields = row.get("f") or {}
        address = row.get("a")
        step = row.get("s")
        recipients.append(
            Recipient(
                row["p"],
                address if isinstance(address, str) else "",
                fields if isinstance(fields, dict) else {},
                step if isinstance(step, str) and step else None,
            )
        )
    attempt = value.get("attempt") or 0
    first_at = value.get("first_at")
    return SendChunk(
        run_id=value["run"],
        recipients=recipients,
        step=str(value.get("step") or "main"),
        attempt=attempt if isinstance(attempt, int) else 0,
        first_at=first_at if isinstance(first_at, int) else None,
    )
