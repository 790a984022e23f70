"""The loader: the events queue into landing files, in micro-batches, nothing lost.

    herald serve loader [--until-idle SECONDS]

It consumes bundles (tracking/wire.py), turns them into landing rows (tracking/events.py)
and profile records (herald/profiles/tracked.py), writes every file whole (fsynced, renamed
into place), publishes each refused event to `<queue>.dead` with its reason (confirmed), and
only then acks the bundles. A loader killed at any point leaves the bundles it has not acked
in the queue; they are loaded again, and the marts keep one row per event id, so every event
arrives exactly once. A bundle that is not JSON goes to the dead-letter queue whole.

Only Dagster runs write the warehouse (rule 1): the landing sensor loads the files.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pika
import pyarrow as pa
import pyarrow.parquet as pq
from pika.adapters.blocking_connection import BlockingChannel

from herald.broker import REASON_HEADER, dead_letter_queue, declare_events_queues
from herald.profiles.tracked import TrackedRecords
from herald.settings import Settings
from herald.store import create_store_engine, migrate
from herald.tracking_sources import Source, list_sources
from tracking.events import TrackedBatch
from tracking.wire import WireError, read_bundle

log = logging.getLogger(__name__)

PREFETCH = 2000
LANDING_TABLES = ("events", "herald_message_events", "orders", "order_items")


@dataclass
class LoaderStats:
    bundles: int = 0
    received: int = 0
    accepted: int = 0
    rejected: int = 0
    batches: int = 0
    files: int = 0
    profile_records: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        data = asdict(self)
        data["events_per_second"] = round(self.received / self.seconds) if self.seconds else 0
        return json.dumps(data)


def write_landing_file(landing_dir: Path, table_name: str, table: pa.Table) -> Path:
    """One landing file, whole: written under a temporary name, fsynced, renamed."""
    folder = landing_dir / table_name
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    final = folder / f"trk-{stamp}-{uuid.uuid4().hex[:12]}.parquet"
    temporary = folder / f".{final.name}.tmp"
    pq.write_table(table, temporary, compression="zstd")
    descriptor = os.open(temporary, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, final)
    return final


class Loader:
    def __init__(
        self,
        settings: Settings,
        *,
        batch_events: int = 50_000,
        batch_seconds: float = 5.0,
    ) -> None:
        self.settings = settings
        self.queue = settings.events_queue
        self.batch_events = batch_events
        self.batch_seconds = batch_seconds
        migrate(settings.database_url)
        self.store = create_store_engine(settings.database_url)
        self.stats = LoaderStats()
        self._sources: dict[str, Source] = {}

    def _source(self, name: str) -> Source | None:
        if name not in self._sources:
            self._sources = {source.name: source for source in list_sources(self.store)}
        return self._sources.get(name)

    def run(
        self,
        *,
        until_idle: float | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> LoaderStats:
        parameters = pika.URLParameters(self.settings.broker)
        parameters.heartbeat = 60
        connection = pika.BlockingConnection(parameters)
        started = time.perf_counter()
        try:
            channel = connection.channel()
            declare_events_queues(channel, self.queue)
            channel.confirm_delivery()
            channel.basic_qos(prefetch_count=PREFETCH)
            self._consume(channel, until_idle, should_stop)
            channel.cancel()
        finally:
            self.stats.seconds = time.perf_counter() - started
            if connection.is_open:
                connection.close()
        return self.stats

    def _consume(
        self, channel: BlockingChannel, until_idle: float | None, should_stop: Callable[[], bool]
    ) -> None:
        batch = TrackedBatch()
        last_tag: int | None = None
        first_at = 0.0
        idle_since = time.monotonic()
        poison: list[tuple[str, bytes]] = []
        for method, _properties, body in channel.consume(self.queue, inactivity_timeout=0.1):
            now = time.monotonic()
            if method is not None:
                if last_tag is None:
                    first_at = now
                last_tag = method.delivery_tag
                idle_since = now
                self.stats.bundles += 1
                try:
                    for envelope in read_bundle(body):
                        batch.add(envelope)
                except WireError as exc:
                    poison.append((f"the bundle is unreadable: {exc}", body))
            drained = method is None and until_idle is not None  # draining: no need to wait
            if last_tag is not None and (
                drained
                or batch.received >= self.batch_events
                or now - first_at >= self.batch_seconds
            ):
                self._flush(channel, batch, poison, last_tag)
                batch, poison, last_tag = TrackedBatch(), [], None
            if method is None:
                if should_stop():
                    break
                if until_idle is not None and last_tag is None and now - idle_since > until_idle:
                    break
        if last_tag is not None:
            self._flush(channel, batch, poison, last_tag)

    def _flush(
        self,
        channel: BlockingChannel,
        batch: TrackedBatch,
        poison: list[tuple[str, bytes]],
        last_tag: int,
    ) -> None:
        landing = self.settings.landing_dir
        tables = {
            "events": batch.events_table,
            "herald_message_events": batch.message_events_table,
            "orders": batch.orders_table,
            "order_items": batch.order_items_table,
        }
        for name, build in tables.items():
            table = build()
            if table.num_rows:
                write_landing_file(landing, name, table)
                self.stats.files += 1
        records = TrackedRecords(self.store, landing)
        refused = list(batch.refused)
        self._profile_records(batch, records)
        for reason, problem in records.problems:
            refused.append((f"profile record: {reason}", orjson.dumps(problem)))
        written = records.write()
        self.stats.files += len(written)
        for reason, body in [*refused, *poison]:
            channel.basic_publish(
                exchange="",
                routing_key=dead_letter_queue(self.queue),
                body=body,
                properties=pika.BasicProperties(
                    delivery_mode=2,
                    content_type="application/json",
                    headers={REASON_HEADER: reason[:1000]},
                ),
            )
        records.remember(records.new_identities)
        channel.basic_ack(delivery_tag=last_tag, multiple=True)
        self.stats.batches += 1
        self.stats.received += batch.received + len(poison)
        self.stats.accepted += batch.accepted
        self.stats.rejected += len(batch.refused) + len(poison)

    def _profile_records(self, batch: TrackedBatch, records: TrackedRecords) -> None:
        for database, source_name, update in batch.profile_updates:
            source = self._source(source_name)
            if source is None:
                continue
            if records.add(
                source,
                database=database,
                user_id=update.get("user_id"),
                anonymous_id=update.get("anonymous_id"),
                traits=update.get("traits"),
                profile_id=update.get("profile_id"),
            ):
                self.stats.profile_records += 1
        unseen = records.unseen(batch.identities)
        given: set[tuple[str, str, str]] = set()
        for key in sorted(unseen):
            if key in given:
                continue
            identity = batch.identities[key]
            source = self._source(identity.source)
            if source is None:
                continue
            if records.add(
                source,
                database=identity.database,
                user_id=identity.user_id,
                anonymous_id=identity.anonymous_id,
                record_key=f"{key[1]}:{key[2]}",
            ):
                self.stats.profile_records += 1
            for kind, value in (("user", identity.user_id), ("anonymous", identity.anonymous_id)):
                if value is not None:
                    given.add((identity.database, kind, value))
        records.new_identities.extend(sorted(given | unseen))


def run_loader(settings: Settings, *, until_idle: float | None = None) -> LoaderStats:
    return Loader(settings).run(until_idle=until_idle)
