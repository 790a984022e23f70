"""The chunks on the `sends` queues: what a worker decodes is what was encoded."""

from __future__ import annotations

import pytest

from herald.sending.keys import idempotency_key
from herald.sending.wire import Recipient, SendChunk, SendWireError, decode_chunk, encode_chunk


def test_a_chunk_travels_whole() -> None:
    chunk = SendChunk(
        "run-7",
        [Recipient("p1", "anna@example.com", {"first_name": "Anna"})],
        step="main",
        attempt=2,
        first_at=1_700_000_000_000,
    )

    assert decode_chunk(encode_chunk(chunk)) == chunk


def test_batched_transactional_recipients_keep_their_own_steps() -> None:
    chunk = SendChunk(
        "transactional-1",
        [Recipient("to:a@x.com", "a@x.com", {}, step="tx:order-1"),
         Recipient("to:a@x.com", "a@x.com", {}, step="tx:order-2")],
    )  # fmt: skip

    decoded = decode_chunk(encode_chunk(chunk))
    keys = {
        idempotency_key(decoded.run_id, r.profile_id, "email", r.step or decoded.step)
        for r in decoded.recipients
    }

    assert [r.step for r in decoded.recipients] == ["tx:order-1", "tx:order-2"]
    assert len(keys) == 2


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"run": "r"}', b'{"run": "r", "recipients": [{}]}']
)
def test_what_is_not_a_chunk_is_refused(body: bytes) -> None:
    with pytest.raises(SendWireError):
        decode_chunk(body)
