"""The launcher: streams a run's audience snapshot into the `sends` queue, in chunks.

    result = launch(settings, store, run_id)       # LaunchResult(enqueued=..., chunks=...)

The snapshot (herald/sending/audience.py) is read in record batches; every `chunk_size`
recipients become one queue message (herald/sending/wire.py) published with a publisher
confirm, to `sends` or, for transactional runs, to `sends.priority`. Every recipient also
gets a `queued` event on the `events` queue. The run's `enqueued` count is advanced in the
store as confirms arrive, so a launcher that dies is started again with the same run and
continues where the confirmed part ends; a chunk published twice is harmless, because the
send log makes the second delivery of each key a duplicate.

Which snapshot column holds the address: the run spec's `address_field` (default `email`
for e-mail, `phone` for SMS, `telegram_chat_id` for Telegram); every other column is a
field the template sees.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pika
import pyarrow as pa
import pyarrow.parquet as pq
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPError
from sqlalchemy import Engine

from herald.broker import declare_events_queues
from herald.errors import HeraldError
from herald.sending.events import event_bundle, sender_event, sender_event_id
from herald.sending.keys import idempotency_key
from herald.sending.queues import SendQueues
from herald.sending.runs import SendRunInfo, get_run, record_enqueued
from herald.sending.wire import Recipient, SendChunk, encode_chunk
from herald.settings import Settings

CHUNK_SIZE = 100
READ_BATCH = 20_000
PROGRESS_EVERY_CHUNKS = 50


class LaunchError(HeraldError):
    """A run that cannot be launched: no snapshot, no address column, no broker."""


@dataclass(frozen=True)
class LaunchResult:
    run_id: str
    recipients: int
    enqueued: int
    chunks: int
    resumed_from: int
    seconds: float

    def public(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "recipients": self.recipients,
            "enqueued": self.enqueued,
            "chunks": self.chunks,
            "resumed_from": self.resumed_from,
            "seconds": round(self.seconds, 3),
        }


def launch(
    settings: Settings,
    store: Engine,
    run_id: str,
    *,
    chunk_size: int = CHUNK_SIZE,
    queued_events: bool = True,
    max_recipients: int | None = None,
) -> LaunchResult:
    """Enqueue the part of a run's snapshot not yet confirmed (at most `max_recipients` of
    it, for runs metered by sending limits); returns the counts. The run is marked fully
    enqueued once its last recipient is."""
    started = time.perf_counter()
    run = get_run(store, run_id)
    if not run.snapshot:
        raise LaunchError(f"run {run_id!r} has no audience snapshot")
    path = Path(run.snapshot)
    try:
        snapshot = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise LaunchError(f"cannot read the snapshot of run {run_id!r} ({path}): {exc}") from None
    names = snapshot.schema_arrow.names
    column = run.address_field
    if "profile_id" not in names or column not in names:
        raise LaunchError(
            f"the snapshot of run {run_id!r} needs the columns profile_id and {column} "
            f"(it has {', '.join(names)})"
        )
    send_queues = SendQueues(settings.sends_queue)
    lane = send_queues.lane_of(run.kind)
    total = snapshot.metadata.num_rows
    skip = run.enqueued
    enqueued = skip
    chunks = 0
    stop = total if max_recipients is None else min(total, skip + max(0, max_recipients))
    connection = _connect(settings)
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        send_queues.declare(channel)
        declare_events_queues(channel, settings.events_queue)
        seen = 0
        for batch in snapshot.iter_batches(batch_size=READ_BATCH):
            if enqueued >= stop:
                break
            if seen + batch.num_rows <= skip:
                seen += batch.num_rows
                continue
            rows = batch.to_pylist()
            if seen < skip:
                rows = rows[skip - seen :]
            seen += batch.num_rows
            rows = rows[: stop - enqueued]
            for start in range(0, len(rows), chunk_size):
                part = rows[start : start + chunk_size]
                recipients = [_recipient(row, column) for row in part]
                chunk = SendChunk(run_id=run.id, recipients=recipients)
                _publish(channel, lane, encode_chunk(chunk))
                if queued_events:
                    _publish(channel, settings.events_queue, _queued(run, recipients))
                enqueued += len(part)
                chunks += 1
                if chunks % PROGRESS_EVERY_CHUNKS == 0:
                    record_enqueued(store, run.id, enqueued, finished=False)
        record_enqueued(store, run.id, enqueued, finished=enqueued >= total)
    except AMQPError as exc:  # the broker went away or refused: what was confirmed counts
        record_enqueued(store, run.id, enqueued, finished=False)
        raise LaunchError(f"RabbitMQ failed while run {run_id!r} was enqueued: {exc!r}") from None
    finally:
        if connection.is_open:
            connection.close()
    return LaunchResult(run.id, total, enqueued, chunks, skip, time.perf_counter() - started)


def enqueue_recipients(
    settings: Settings,
    run: SendRunInfo,
    rows: list[dict[str, Any]],
    *,
    step: str,
    chunk_size: int = CHUNK_SIZE,
) -> int:
    """Publish recipients (rows with profile_id, the address column and fields) to a
    long-lived run (a trigger's): `step` is part of each idempotency key, so the same step
    published again is never sent twice. Returns how many were confirmed queued."""
    send_queues = SendQueues(settings.sends_queue)
    connection = _connect(settings)
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        send_queues.declare(channel)
        lane = send_queues.lane_of(run.kind)
        for start in range(0, len(rows), chunk_size):
            part = [dict(row) for row in rows[start : start + chunk_size]]
            recipients = [_recipient(row, run.address_field) for row in part]
            _publish(channel, lane, encode_chunk(SendChunk(run.id, recipients, step=step)))
        channel.close()
    finally:
        if connection.is_open:
            connection.close()
    return len(rows)


def _recipient(row: dict[str, Any], column: str) -> Recipient:
    profile_id = str(row.pop("profile_id"))
    address = row.get(column)
    fields = {key: _plain(value) for key, value in row.items() if value is not None}
    return Recipient(profile_id, str(address).strip() if address is not None else "", fields)


def _plain(value: Any) -> Any:
    """A field as JSON can carry it (dates and times as ISO text)."""
    if isinstance(value, str | int | float | bool | list | dict):
        return value
    isoformat = getattr(value, "isoformat", None)
    return isoformat() if callable(isoformat) else str(value)


def _queued(run: SendRunInfo, recipients: list[Recipient]) -> bytes:
    now_ms = time.time_ns() // 1_000_000
    events = []
    for recipient in recipients:
        key = idempotency_key(run.id, recipient.profile_id, run.channel)
        events.append(
            sender_event(
                event_type="queued",
                event_id=sender_event_id(key, "queued"),
                message_id=None,
                run_id=run.id,
                channel=run.channel,
                recipient=recipient.address or None,
                database=run.database,
                profile_id=recipient.profile_id,
                occurred_at=now_ms,
            )
        )
    return event_bundle(events)


def _publish(channel: BlockingChannel, queue: str, body: bytes) -> None:
    channel.basic_publish(
        exchange="",
        routing_key=queue,
        body=body,
        properties=pika.BasicProperties(delivery_mode=2),
        mandatory=True,
    )


def _connect(settings: Settings) -> pika.BlockingConnection:
    try:
        return pika.BlockingConnection(pika.URLParameters(settings.broker))
    except AMQPError as exc:
        raise LaunchError(
            f"RabbitMQ at {_broker_host(settings)} is not reachable: {exc!r}"
        ) from None


def _broker_host(settings: Settings) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(settings.broker)
    return f"{parts.hostname}:{parts.port or 5672}"
