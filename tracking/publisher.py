"""Durable publishing with group commit: an event is answered only once RabbitMQ confirmed
it, or once it is fsynced to the local spool.

    publisher = EventPublisher(settings.broker, settings.events_queue, Spool(settings.spool_dir))
    await publisher.start()
    outcome = await publisher.publish(envelope)   # "published" or "spooled"; DurabilityError

Requests that arrive while a publish is waiting for its confirm wait together and go out as
the next bundle (one AMQP message, one confirm), so the cost of a confirm is shared by every
request in it, as a database shares one fsync among the transactions of a group commit. Up to
`max_inflight` bundles are unconfirmed at once. When RabbitMQ does not confirm (down,
unreachable, a nack, a timeout), the bundle goes to the spool instead; a background task
reconnects every second and replays the spool once RabbitMQ is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field
from typing import Literal

import aiormq
from pamqp.commands import Basic

from herald.broker import DEAD_LETTER_ARGUMENTS, dead_letter_queue, events_arguments
from tracking.spool import Spool
from tracking.wire import bundle

log = logging.getLogger(__name__)

Outcome = Literal["published", "spooled"]


class DurabilityError(Exception):
    """Neither RabbitMQ nor the spool could keep the events."""


@dataclass
class PublisherCounts:
    published_bundles: int = 0
    published_envelopes: int = 0
    spooled_bundles: int = 0
    spooled_envelopes: int = 0
    replayed_bundles: int = 0
    failed_envelopes: int = 0
    broker_up: bool = False
    extra: dict[str, int] = field(default_factory=dict)


class EventPublisher:
    def __init__(
        self,
        broker_url: str,
        queue: str,
        spool: Spool,
        *,
        max_bundle_bytes: int = 1 << 20,
        max_inflight: int = 2,
        confirm_timeout: float = 5.0,
        reconnect_seconds: float = 1.0,
    ) -> None:
        self.broker_url = broker_url
        self.queue = queue
        self.spool = spool
        self.max_bundle_bytes = max_bundle_bytes
        self.confirm_timeout = confirm_timeout
        self.reconnect_seconds = reconnect_seconds
        self.counts = PublisherCounts()
        self._pending: list[tuple[bytes, asyncio.Future[Outcome]]] = []
        self._slots = asyncio.Semaphore(max_inflight)
        self._wake = asyncio.Event()
        self._connection: aiormq.abc.AbstractConnection | None = None
        self._channel: aiormq.abc.AbstractChannel | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._inflight: set[asyncio.Task[None]] = set()
        self._closing = False

    # --- the public side -----------------------------------------------------------------
    async def start(self) -> None:
        with contextlib.suppress(Exception):
            await self._connect()
        self._tasks = [
            asyncio.create_task(self._flush_loop()),
            asyncio.create_task(self._maintain_loop()),
        ]

    async def publish(self, envelope: bytes) -> Outcome:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._pending.append((envelope, future))
        self._wake.set()
        return await future

    @property
    def connected(self) -> bool:
        return self._channel is not None and not self._channel.is_closed

    async def queue_depth(self) -> int | None:
        """Messages waiting in the events queue (the loader's lag), None when unknown."""
        channel = self._channel
        if channel is None or channel.is_closed:
            return None
        try:
            declared = await asyncio.wait_for(
                channel.queue_declare(self.queue, passive=True), timeout=1.0
            )
        except Exception:
            return None
        return None if declared is None else int(declared.message_count or 0)

    async def close(self) -> None:
        """Send what is pending, then disconnect."""
        self._closing = True
        while self._pending or self._inflight:
            self._wake.set()
            await asyncio.sleep(0.01)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()

    # --- the connection ------------------------------------------------------------------
    async def _connect(self) -> None:
        connection = await asyncio.wait_for(aiormq.connect(self.broker_url), timeout=5.0)
        try:
            channel = await connection.channel(publisher_confirms=True)
            await channel.queue_declare(
                dead_letter_queue(self.queue), durable=True, arguments=DEAD_LETTER_ARGUMENTS
            )
            await channel.queue_declare(
                self.queue, durable=True, arguments=events_arguments(self.queue)
            )
        except BaseException:
            with contextlib.suppress(Exception):
                await connection.close()
            raise
        self._connection, self._channel = connection, channel
        self.counts.broker_up = True
        log.info("connected to RabbitMQ, publishing to %s", self.queue)

    def _down(self) -> None:
        if self._channel is not None:
            log.warning("RabbitMQ did not confirm; spooling until it is back")
        connection = self._connection
        self._connection, self._channel = None, None
        self.counts.broker_up = False
        if connection is not None and not connection.is_closed:
            task = asyncio.create_task(connection.close())
            task.add_done_callback(lambda done: done.exception() if not done.cancelled() else None)

    async def _maintain_loop(self) -> None:
        while True:
            await asyncio.sleep(self.reconnect_seconds)
            if self._channel is not None and self._channel.is_closed:
                self._down()
            if self._channel is None:
                try:
                    await self._connect()
                except Exception as exc:
                    log.debug("RabbitMQ still unreachable: %s", exc)
                    continue
            with contextlib.suppress(Exception):
                await self._replay()

    async def _replay(self) -> None:
        for path in self.spool.files():
            if self._channel is None:
                return
            with self.spool.claim(path) as body:
                if body is None:
                    continue
                if not await self._send(body):
                    self._down()
                    return
                self.spool.done(path)
                self.counts.replayed_bundles += 1

    async def _send(self, body: bytes) -> bool:
        channel = self._channel
        if channel is None:
            return False
        properties = Basic.Properties(
            delivery_mode=2, content_type="application/json", message_id=uuid.uuid4().hex
        )
        try:
            confirmation = await asyncio.wait_for(
                channel.basic_publish(body, routing_key=self.queue, properties=properties),
                timeout=self.confirm_timeout,
            )
        except Exception:
            return False
        return isinstance(confirmation, Basic.Ack)

    # --- group commit --------------------------------------------------------------------
    async def _flush_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                await self._slots.acquire()
                batch = self._take()
                if not batch:
                    self._slots.release()
                    break
                task = asyncio.create_task(self._deliver(batch))
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)

    def _take(self) -> list[tuple[bytes, asyncio.Future[Outcome]]]:
        size = 0
        count = 0
        for envelope, _ in self._pending:
            if count and size + len(envelope) > self.max_bundle_bytes:
                break
            size += len(envelope) + 1
            count += 1
        batch, self._pending = self._pending[:count], self._pending[count:]
        return batch

    async def _deliver(self, batch: list[tuple[bytes, asyncio.Future[Outcome]]]) -> None:
        try:
            body = bundle([envelope for envelope, _ in batch])
            outcome: Outcome | None = None
            if await self._send(body):
                outcome = "published"
                self.counts.published_bundles += 1
                self.counts.published_envelopes += len(batch)
            else:
                self._down()
                try:
                    await asyncio.to_thread(self.spool.write, body)
                except OSError as exc:
                    log.error("cannot spool %d events: %s", len(batch), exc)
                    self.counts.failed_envelopes += len(batch)
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(DurabilityError(str(exc)))
                    return
                outcome = "spooled"
                self.counts.spooled_bundles += 1
                self.counts.spooled_envelopes += len(batch)
            for _, future in batch:
                if not future.done():
                    future.set_result(outcome)
        finally:
            self._slots.release()
