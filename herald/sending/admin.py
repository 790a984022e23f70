"""Queue management: depths, pause / resume / cancel a run, retry its failures, throttle it.

    queue_status(settings, store)                  # runs with counts, queue depths
    pause_run(settings, store, run_id)             # workers hold its chunks from now on
    resume_run(settings, store, run_id)            # held chunks go back to the lane
    cancel_run(settings, store, run_id)            # what is left is recorded as skipped
    retry_failed(settings, store, run_id)          # failed (not bounced) messages again

Pausing is a state in the store that workers read every second; a worker that takes a
chunk of a paused run moves it to the run's hold queue (`sends.hold.<run>`). Resuming moves
the hold queue back into the run's lane; cancelling moves it back too, and workers then
record each of its recipients as skipped ("run cancelled"), so every recipient keeps an
outcome. Retries already waiting in delay queues come back, see the state, and behave
the same way.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pyarrow.parquet as pq
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPError, ChannelClosedByBroker
from sqlalchemy import Engine, select, update

from herald.errors import HeraldError
from herald.sending.queues import SendQueues
from herald.sending.runs import (
    SendRunInfo,
    destination_counts,
    get_run,
    list_runs,
    run_status,
    set_run_state,
)
from herald.sending.send_log import LOG
from herald.sending.wire import Recipient, SendChunk, encode_chunk
from herald.settings import Settings

RETRY_CHUNK = 100
HOLD_SETTLE_SECONDS = 1.5  # longer than a worker caches a run's state


class BrokerUnavailable(HeraldError):
    """RabbitMQ does not answer."""


@contextlib.contextmanager
def broker_channel(settings: Settings) -> Iterator[BlockingChannel]:
    try:
        connection = pika.BlockingConnection(pika.URLParameters(settings.broker))
    except AMQPError as exc:
        raise BrokerUnavailable(f"RabbitMQ does not answer ({exc!r})") from None
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        yield channel
    finally:
        if connection.is_open:
            connection.close()


def queue_depth(settings: Settings, queue: str) -> int | None:
    """Messages ready in a queue; None if there is no such queue."""
    try:
        connection = pika.BlockingConnection(pika.URLParameters(settings.broker))
    except AMQPError as exc:
        raise BrokerUnavailable(f"RabbitMQ does not answer ({exc!r})") from None
    try:
        channel = connection.channel()
        try:
            return int(channel.queue_declare(queue=queue, passive=True).method.message_count)
        except ChannelClosedByBroker:
            return None
    finally:
        if connection.is_open:
            connection.close()


def queue_status(
    settings: Settings, store: Engine, run_id: str | None = None, *, limit: int = 20
) -> dict[str, Any]:
    runs = [get_run(store, run_id)] if run_id else list_runs(store, limit)
    send_queues = SendQueues(settings.sends_queue)
    names = [*send_queues.lanes, send_queues.dead, settings.events_queue]
    names += [send_queues.hold(run.id) for run in runs if run.state == "paused"]
    try:
        depths: dict[str, int | None] | None = {name: queue_depth(settings, name) for name in names}
    except BrokerUnavailable:
        depths = None
    return {
        "runs": [run_status(store, run.id) for run in runs],
        "queues": depths,
        "destinations": destination_counts(store, run_id),
    }


def move_held(settings: Settings, source: str, target: str) -> int:
    """Move a hold queue back to its lane, twice: a worker that had not yet seen the run's
    new state (it reads it every second) may still have held a chunk after the first pass."""
    moved = move_queue(settings, source, target, delete=False)
    time.sleep(HOLD_SETTLE_SECONDS)
    return moved + move_queue(settings, source, target, delete=True)


def move_queue(settings: Settings, source: str, target: str, *, delete: bool = True) -> int:
    """Move every message of `source` to `target` (published with confirms, then acked);
    with `delete`, the emptied source queue is deleted."""
    moved = 0
    with broker_channel(settings) as channel:
        try:
            channel.queue_declare(queue=source, passive=True)
        except ChannelClosedByBroker:
            return 0
        while True:
            method, _properties, body = channel.basic_get(source, auto_ack=False)
            if method is None:
                break
            channel.basic_publish(
                exchange="",
                routing_key=target,
                body=body,
                properties=pika.BasicProperties(delivery_mode=2),
                mandatory=True,
            )
            channel.basic_ack(method.delivery_tag)
            moved += 1
        if delete:
            with contextlib.suppress(ChannelClosedByBroker):
                channel.queue_delete(queue=source, if_empty=True)
    return moved


def _lane(settings: Settings, run: SendRunInfo) -> str:
    return SendQueues(settings.sends_queue).lane_of(run.kind)


def pause_run(settings: Settings, store: Engine, run_id: str) -> dict[str, Any]:
    run = set_run_state(store, run_id, "paused")
    return {"run": run.id, "state": run.state}


def resume_run(settings: Settings, store: Engine, run_id: str) -> dict[str, Any]:
    run = set_run_state(store, run_id, "running")
    moved = move_held(settings, SendQueues(settings.sends_queue).hold(run_id), _lane(settings, run))
    return {"run": run.id, "state": run.state, "chunks_resumed": moved}


def cancel_run(settings: Settings, store: Engine, run_id: str) -> dict[str, Any]:
    run = set_run_state(store, run_id, "cancelled")
    moved = move_held(settings, SendQueues(settings.sends_queue).hold(run_id), _lane(settings, run))
    return {"run": run.id, "state": run.state, "held_chunks_released": moved}


def retry_failed(settings: Settings, store: Engine, run_id: str) -> dict[str, Any]:
    """Send again the run's `failed` messages (not bounced, not skipped): their keys are
    released in the send log and their recipients, read again from the snapshot, queued."""
    run = get_run(store, run_id)
    with store.connect() as connection:
        failed = dict(
            connection.execute(
                select(LOG.c.profile_id, LOG.c.key).where(
                    LOG.c.run_id == run_id, LOG.c.state == "failed"
                )
            ).all()
        )
    if not failed or not run.snapshot:
        return {"run": run_id, "requeued": 0}
    return {"run": run_id, "requeued": requeue_profiles(settings, store, run, failed)}


def requeue_profiles(
    settings: Settings, store: Engine, run: SendRunInfo, profile_keys: dict[str, str]
) -> int:
    """Queue again the recipients of `profile_keys` (profile_id -> key) from the snapshot,
    a chunk at a time: its keys are released (with a fresh retry age) and the chunk is
    published; if publishing fails, the chunk's keys are failed again and the error raised."""
    assert run.snapshot
    column = run.address_field
    table = pq.read_table(Path(run.snapshot))
    rows = [row for row in table.to_pylist() if str(row.get("profile_id"))[:255] in profile_keys]
    lane = _lane(settings, run)
    requeued = 0
    with broker_channel(settings) as channel:
        SendQueues(settings.sends_queue).declare(channel)
        for start in range(0, len(rows), RETRY_CHUNK):
            recipients = []
            for row in rows[start : start + RETRY_CHUNK]:
                profile_id = str(row.pop("profile_id"))
                address = row.get(column)
                recipients.append(
                    Recipient(
                        profile_id,
                        str(address) if address is not None else "",
                        {k: v for k, v in row.items() if v is not None},
                    )
                )
            keys = [profile_keys[r.profile_id[:255]] for r in recipients]
            _set_state(store, keys, "failed", "released")
            try:
                channel.basic_publish(
                    exchange="",
                    routing_key=lane,
                    body=encode_chunk(SendChunk(run.id, recipients)),
                    properties=pika.BasicProperties(delivery_mode=2),
                    mandatory=True,
                )
            except AMQPError:
                _set_state(store, keys, "released", "failed")
                raise
            requeued += len(recipients)
    return requeued


def _set_state(store: Engine, keys: list[str], old: str, new: str) -> None:
    values: dict[str, Any] = {"state": new}
    if new == "released":
        values["first_attempt_at"] = None  # the retry schedule starts again
    with store.begin() as connection:
        connection.execute(
            update(LOG).where(LOG.c.key.in_(keys), LOG.c.state == old).values(**values)
        )
