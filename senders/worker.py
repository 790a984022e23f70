"""A sender worker: takes chunks of recipients from `sends`, delivers each message once.

    worker = SendWorker(settings, worker_id="host:1")
    asyncio.run(worker.run())          # until stop() or a signal

One worker is one process with one asyncio loop; run as many as you like, on any host that
reaches the broker and the operational store (`herald serve sender --workers N` starts N here
and restarts one that dies). For each chunk (herald/sending/wire.py) a worker:

1. reads the run (cached for a second): a paused run's chunk goes to the run's hold queue, a
   cancelled run's recipients are recorded as skipped;
2. finds each recipient's destination group by the delivery rules (MX rollup);
3. skips, with the reason, recipients whose address is suppressed or whose profile has
   unsubscribed from the channel or the run's topic (checked now, rule 4);
4. claims the rest in the send log; a key already claimed or done is a duplicate and is
   not sent again (rule 3);
5. renders, tracks, composes and signs each message and hands it to the channel's provider,
   within the group's connection and rate limits (and the run's throttle);
6. writes each result to its journal, then publishes the events, queues the retries
   (a delay queue per retry delay), records the outcomes in the send log, suppresses hard
   bounces, and only then acknowledges the chunk (rule 2).

A worker that starts settles what it held when it last stopped (senders/journal.py) before
it takes work, so a kill -9 neither loses nor doubles a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import socket
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiormq
import aiormq.abc
import idna
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from herald.broker import DEAD_LETTER_ARGUMENTS as EVENTS_DEAD_ARGUMENTS
from herald.broker import REASON_HEADER, dead_letter_queue, events_arguments
from herald.delivery_rules import (
    DeliveryRules,
    DeliveryRulesError,
    ProviderRule,
    load_rules,
    rules_path,
)
from herald.errors import HeraldError
from herald.sending import queues
from herald.sending.events import event_bundle, sender_event, sender_event_id
from herald.sending.keys import idempotency_key
from herald.sending.queues import SendQueues
from herald.sending.runs import UnknownSendRun, get_run, run_states
from herald.sending.send_log import Claim, ClaimResult, Outcome, SendLog, entries
from herald.sending.send_log import states as logged_states
from herald.sending.suppression import blocked, suppress_address
from herald.sending.wire import Recipient, SendChunk, SendWireError, decode_chunk, encode_chunk
from herald.settings import Settings
from herald.store import create_store_engine
from herald.store.models import SenderWorker, utc_now
from herald.templates import MessageTemplate, MessageTemplateError
from herald.tokens import TokenKeys, TokenKeysError
from senders.channel import DeliveryResult, OutboundMessage, Provider, one_line
from senders.dkim import DkimError
from senders.email import EmailError
from senders.journal import Journal, recover
from senders.limits import ConnectionLimits, RateLimiter
from senders.messages import EmailBuilder, MessageBuildError, PartsBuilder, RunContext
from senders.mx import MxError, MxResolver, MxTemporaryError

log = logging.getLogger("herald.sender")

RUN_REFRESH_SECONDS = 1.0
MAX_CACHED_RUNS = 256
RUN_IDLE = 600.0  # seconds
HEARTBEAT_SECONDS = 5.0
LIVE_SECONDS = 20.0
MAX_LIMIT_WAIT = 2.0  # a longer wait for a rate limit defers the message instead
LEASE = timedelta(minutes=10)  # a key held this long by a worker that is gone: given up
SUPPRESSING_BOUNCES = frozenset({"hard"})


@dataclass
class Item:
    """One recipient of a chunk on its way through the worker."""

    recipient: Recipient
    key: str
    destination: str
    rule: ProviderRule | None
    claim: ClaimResult | None = None
    outcome: Outcome | None = None
    retry_delay: float | None = None
    event: str | None = None
    attempt: int = 0
    wait: float = 0.0  # before delivery, for the rate limits
    data: dict[str, Any] | None = None  # the template's external data for this recipient
    data_error: str | None = None  # why it could not be fetched (the message fails)


@dataclass
class WorkerCounters:
    chunks: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


def _stamp(path: Path) -> tuple[float, int] | None:
    """When and how big the rules file is (None: there is none)."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_mtime, status.st_size


def _sqlite_or_pg_insert(store: Engine) -> Any:
    return pg_insert if store.dialect.name == "postgresql" else sqlite_insert


class SendWorker:
    def __init__(
        self,
        settings: Settings,
        worker_id: str | None = None,
        *,
        prefetch_chunks: int = 4,
        rules: DeliveryRules | None = None,
        store: Engine | None = None,
    ) -> None:
        self.settings = settings
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.prefetch_chunks = prefetch_chunks
        self.store = store or create_store_engine(settings.database_url)
        self.rules_file = rules_path(settings)
        self.rules_stamp = _stamp(self.rules_file)
        self.rules = rules or load_rules(self.rules_file)
        self.send_log = SendLog(self.store, self.worker_id)
        self.queues = SendQueues(settings.sends_queue)
        self.journal_dir = settings.home / "sender" / "journal"
        self.journal: Journal | None = None
        self.mx = MxResolver(self.rules.mx_overrides, timeout=3.0)
        self.limits = ConnectionLimits(1.0)
        self.run_limiters: dict[str, tuple[int, RateLimiter]] = {}
        self.runs: dict[str, RunContext] = {}
        self.providers: dict[Any, Provider] = {}
        self.counters = WorkerCounters()
        self._stop = asyncio.Event()
        self._connection: aiormq.abc.AbstractConnection | None = None
        self._channel: aiormq.abc.AbstractChannel | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_flight: set[str] = set()  # keys this process is delivering now
        self._declared_delays: set[str] = set()
        try:
            token_keys: TokenKeys | None = TokenKeys.from_settings(settings)
        except TokenKeysError:
            token_keys = None
        from senders.dkim import load_signers

        try:
            signers = load_signers(settings.home / "dkim")
        except DkimError:
            signers = {}
        self.email = EmailBuilder(signers, token_keys, settings.tracking_url, settings.home)

    # --- life cycle ----------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()

    async def connect(self) -> None:
        """Open the journal and the broker channel, and declare the queues."""
        if self.journal is None:
            self.journal = Journal.open(self.journal_dir, self.worker_id)
        self._connection = await aiormq.connect(self.settings.broker)
        channel = await self._connection.channel(publisher_confirms=True)
        self._channel = channel
        await self._declare(channel)

    async def close(self) -> None:
        for provider in self.providers.values():
            with contextlib.suppress(Exception):
                await provider.close()
        self.providers.clear()
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
        self._connection = self._channel = None
        if self.journal is not None:
            self.journal.close()
            self.journal = None

    async def run(self) -> None:
        """Settle what this worker held before, then consume until stopped."""
        await self.connect()
        await self.settle_previous()
        assert self._connection is not None
        heartbeat = asyncio.create_task(self._heartbeats())
        try:
            # Each lane has a channel and a prefetch of its own, so a transactional message
            # never waits for a slot behind a campaign's chunks.
            for lane in self.queues.lanes:
                consumer = await self._connection.channel()
                await consumer.basic_qos(prefetch_count=self.prefetch_chunks)
                await consumer.basic_consume(lane, self._on_delivery, no_ack=False)
            stopped = asyncio.create_task(self._stop.wait())
            closed = asyncio.ensure_future(self._connection.closing)
            await asyncio.wait({stopped, closed}, return_when=asyncio.FIRST_COMPLETED)
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=30)
        finally:
            heartbeat.cancel()
            await self.close()
            await asyncio.to_thread(self._forget_worker)

    async def settle_previous(self) -> list[Outcome]:
        """Settle the keys this worker id held when it last stopped (from its journal):
        publish their events, record their outcomes, then start a fresh journal."""
        held = await asyncio.to_thread(self.send_log.held_by, self.worker_id)
        outcomes = recover(self.journal_dir, self.worker_id, held)
        if outcomes:
            await self._publish_settled(outcomes)
            await asyncio.to_thread(self.send_log.record, outcomes)
            log.warning("settled %d messages held before a restart", len(outcomes))
        if self.journal is not None:
            self.journal.clear()
        return outcomes

    async def _publish_settled(self, outcomes: list[Outcome]) -> None:
        rows = await asyncio.to_thread(entries, self.store, [o.key for o in outcomes])
        now_ms = time.time_ns() // 1_000_000
        events = []
        for outcome in outcomes:
            row = rows.get(outcome.key)
            if row is None or outcome.state == "released":
                continue
            events.append(
                sender_event(
                    event_type=outcome.state,
                    event_id=sender_event_id(outcome.key, outcome.state, int(str(row["attempts"]))),
                    message_id=outcome.message_id,
                    run_id=str(row["run_id"]),
                    channel=str(row["channel"]),
                    recipient=str(row["recipient"]),
                    database=str(row["database"]) if row.get("database") else None,
                    profile_id=str(row["profile_id"]),
                    occurred_at=now_ms,
                    provider=str(row["destination"]),
                    smtp_code=outcome.code,
                    diagnostic=outcome.diagnostic,
                )
            )
        if events:
            await self._require_channel().basic_publish(
                event_bundle(events),
                routing_key=self.settings.events_queue,
                properties=aiormq.spec.Basic.Properties(delivery_mode=2),
            )

    async def _declare(self, channel: aiormq.abc.AbstractChannel) -> None:
        await channel.queue_declare(self.queues.dead, durable=True, arguments=queues.DEAD_ARGUMENTS)
        for lane in self.queues.lanes:
            await channel.queue_declare(lane, durable=True, arguments=self.queues.lane_arguments())
        events = self.settings.events_queue
        await channel.queue_declare(
            dead_letter_queue(events), durable=True, arguments=EVENTS_DEAD_ARGUMENTS
        )
        await channel.queue_declare(events, durable=True, arguments=events_arguments(events))

    async def _heartbeats(self) -> None:
        while True:
            try:
                share = await asyncio.to_thread(self._heartbeat)
                if abs(share - self.limits.share) > 1e-9:
                    self.limits = ConnectionLimits(share)
                    self.run_limiters.clear()
            except Exception:  # the store is away for a moment: keep sending
                log.exception("heartbeat failed")
            self.reload_rules()
            await asyncio.sleep(HEARTBEAT_SECONDS)

    def reload_rules(self) -> bool:
        """Take the delivery-rules file again when it changed (checked with each heartbeat);
        a file that no longer validates is logged and the rules in force stay."""
        stamp = _stamp(self.rules_file)
        if stamp == self.rules_stamp:
            return False
        self.rules_stamp = stamp
        try:
            rules = load_rules(self.rules_file)
        except DeliveryRulesError as exc:
            log.error("delivery rules not reloaded: %s", exc)
            return False
        self.rules = rules
        self.mx = MxResolver(rules.mx_overrides, timeout=3.0)
        self.limits = ConnectionLimits(self.limits.share)
        # new routes, hosts and limits take effect on new connections: the providers (and
        # their pooled connections) are replaced, the old ones closed once idle
        retired, self.providers = list(self.providers.values()), {}
        for provider in retired:
            task = asyncio.get_running_loop().create_task(provider.close())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        log.warning("delivery rules reloaded from %s", self.rules_file)
        return True

    def _heartbeat(self) -> float:
        now = utc_now()
        insert = _sqlite_or_pg_insert(self.store)
        with self.store.begin() as connection:
            connection.execute(
                insert(SenderWorker)
                .values(
                    id=self.worker_id,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    started_at=now,
                    heartbeat_at=now,
                )
                .on_conflict_do_update(
                    index_elements=["id"], set_={"heartbeat_at": now, "pid": os.getpid()}
                )
            )
            live = connection.execute(
                select(SenderWorker.id).where(
                    SenderWorker.heartbeat_at > now - timedelta(seconds=LIVE_SECONDS)
                )
            ).all()
        return 1.0 / max(1, len(live))

    def _forget_worker(self) -> None:
        with contextlib.suppress(Exception), self.store.begin() as connection:
            connection.execute(delete(SenderWorker).where(SenderWorker.id == self.worker_id))

    # --- a chunk ---------------------------------------------------------------------------
    async def _on_delivery(self, delivery: aiormq.abc.DeliveredMessage) -> None:
        task = asyncio.create_task(self._handle(delivery))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, delivery: aiormq.abc.DeliveredMessage) -> None:
        lane = delivery.routing_key or self.queues.sends
        if lane not in self.queues.lanes:
            lane = self.queues.sends
        try:
            try:
                chunk = decode_chunk(delivery.body)
            except SendWireError as exc:
                await self._dead_letter(delivery, f"not a chunk of recipients: {exc}")
                return
            await self.process(chunk, lane)
            await delivery.channel.basic_ack(delivery.delivery_tag or 0)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Something of ours broke (the store is down, a bug): leave the chunk unacked,
            # it is redelivered; the delivery limit dead-letters a chunk that keeps failing.
            log.exception("chunk failed; it will be redelivered")
            # back off before giving it back: a store or broker that is away for a moment
            # should not use up the chunk's delivery limit within seconds
            headers = delivery.header.properties.headers or {}
            count = headers.get("x-delivery-count")
            deliveries = count if isinstance(count, int) else 0
            await asyncio.sleep(min(30.0, 2.0 ** (deliveries + 1)))
            with contextlib.suppress(Exception):
                await delivery.channel.basic_nack(delivery.delivery_tag or 0, requeue=True)

    async def _dead_letter(self, delivery: aiormq.abc.DeliveredMessage, reason: str) -> None:
        channel = self._require_channel()
        await channel.basic_publish(
            delivery.body,
            routing_key=self.queues.dead,
            properties=aiormq.spec.Basic.Properties(
                delivery_mode=2, headers={REASON_HEADER: reason[:1000]}
            ),
        )
        await delivery.channel.basic_ack(delivery.delivery_tag or 0)

    def _require_channel(self) -> aiormq.abc.AbstractChannel:
        if self._channel is None:
            raise RuntimeError("the worker is not connected")
        return self._channel

    async def process(self, chunk: SendChunk, lane: str | None = None) -> None:
        lane = lane or self.queues.sends
        try:
            run = await asyncio.to_thread(self._run, chunk.run_id)
        except MessageTemplateError as exc:
            await self._fail_uncompiled(chunk, str(exc))
            return
        if run is None:
            channel = self._require_channel()
            await channel.basic_publish(
                encode_chunk(chunk),
                routing_key=self.queues.dead,
                properties=aiormq.spec.Basic.Properties(
                    delivery_mode=2, headers={REASON_HEADER: f"unknown run {chunk.run_id!r}"}
                ),
            )
            return
        if run.state == "paused":
            await self._hold(run, chunk)
            return
        items = await self._items(run, chunk)
        if run.state == "cancelled":
            for item in items:
                item.outcome = Outcome(item.key, "skipped", diagnostic=f"run {run.state}")
                item.event = "skipped"
            await self._finish_skipped(run, items)
            return
        ready = [item for item in items if item.outcome is None]
        reasons = await asyncio.to_thread(
            blocked,
            self.store,
            run.channel,
            run.topic,
            run.info.database,
            [(i.key, i.recipient.profile_id, i.recipient.address) for i in ready],
        )
        for item in ready:
            if item.key in reasons:
                item.outcome = Outcome(item.key, "skipped", diagnostic=reasons[item.key])
                item.event = "skipped"
        invalid = [i for i in items if i.outcome is not None and i.outcome.state == "failed"]
        skipped = [i for i in items if i.outcome is not None and i.outcome.state == "skipped"]
        await self._finish_skipped(run, skipped + invalid)
        to_claim = [item for item in items if item.outcome is None]
        if not to_claim:
            return
        # A place in the rate limits, before any claim: a message over the limit for longer
        # than is worth holding a connection comes back later, not claimed, no attempt spent.
        later = []
        for item in to_claim:
            wait = self._reserve(run, item)
            if wait is None:
                later.append(item)
            else:
                item.wait = wait
        for item in later:
            await self._publish_retry(run, chunk, item, MAX_LIMIT_WAIT * 2, lane, count=False)
        held_back = {id(item) for item in later}
        to_claim = [item for item in to_claim if id(item) not in held_back]
        if not to_claim:
            return
        claims = await asyncio.to_thread(
            self.send_log.claim,
            [
                Claim(
                    i.key,
                    run.id,
                    i.recipient.profile_id,
                    run.channel,
                    i.recipient.address,
                    i.destination,
                )
                for i in to_claim
            ],
        )
        granted: list[Item] = []
        busy: list[Item] = []
        for item in to_claim:
            item.claim = claims[item.key]
            if item.claim.granted:
                item.attempt = item.claim.attempts
                granted.append(item)
            elif item.claim.state == "sending":
                busy.append(item)
            else:
                self.counters.outcomes["duplicate"] += 1
        for item in busy:
            await self._busy(run, chunk, item, lane)
        if granted:
            keys = [item.key for item in granted]
            self._in_flight.update(keys)
            try:
                if run.data is not None:  # external data, one thread hop per chunk
                    fetched = await asyncio.to_thread(
                        run.fetch_data, [item.recipient for item in granted]
                    )
                    for item, value in zip(granted, fetched, strict=True):
                        if isinstance(value, str):
                            item.data_error = value
                        else:
                            item.data = value
                await asyncio.gather(*(self._deliver(run, chunk, item) for item in granted))
                await self._finish(run, chunk, granted, lane)
            finally:
                self._in_flight.difference_update(keys)
        self.counters.chunks += 1

    async def _items(self, run: RunContext, chunk: SendChunk) -> list[Item]:
        """The chunk's recipients, each once (a profile twice in a snapshot is one message)."""
        items = []
        seen: set[str] = set()
        for recipient in chunk.recipients:
            step = recipient.step or chunk.step
            key = idempotency_key(run.id, recipient.profile_id, run.channel, step)
            if key in seen:
                self.counters.outcomes["duplicate"] += 1
                continue
            seen.add(key)
            item = Item(recipient, key, run.channel, None, attempt=chunk.attempt)
            if not recipient.address:
                item.outcome = Outcome(
                    key, "failed", diagnostic=f"no address ({run.address_field} is empty)"
                )
                item.event = "failed"
            elif run.channel == "email":
                await self._route_email(item)
            else:
                item.rule = self._channel_rule(run.channel)
                item.destination = item.rule.group
            items.append(item)
        return items

    def _channel_rule(self, channel: str) -> ProviderRule:
        """A non-e-mail channel's rules: a provider of that name in the rules, else the
        defaults, grouped under the channel."""
        found = self.rules.providers.get(channel)
        return found or replace(self.rules.default, name=channel, group=channel)

    async def _route_email(self, item: Item) -> None:
        address = item.recipient.address
        local, at, domain = address.rpartition("@")
        if not at or not local or not domain or "." not in domain.strip("."):
            item.outcome = Outcome(
                item.key, "failed", diagnostic=f"not an e-mail address: {address!r}"
            )
            item.event = "failed"
            return
        try:
            ascii_domain = (
                domain.rstrip(".").lower()
                if domain.isascii()  # idna's UTS 46 mapping costs ~60 µs; ASCII needs none
                else idna.encode(domain.rstrip("."), uts46=True).decode("ascii").lower()
            )
        except idna.IDNAError as exc:
            item.outcome = Outcome(
                item.key, "failed", diagnostic=f"not a valid domain in {address!r}: {exc}"
            )
            item.event = "failed"
            return
        if ascii_domain != domain:
            item.recipient = replace(item.recipient, address=f"{local}@{ascii_domain}")
            domain = ascii_domain
        rule = self.rules.provider_for(domain)
        if rule.name == "default" and rule.route.mode == "mx":
            with contextlib.suppress(MxError):
                rule = self.rules.provider_for(domain, await self.mx.mx_hosts(domain))
        item.rule = rule
        item.destination = rule.group

    async def _busy(self, run: RunContext, chunk: SendChunk, item: Item, lane: str) -> None:
        """A key someone holds (`sending`). Held by this worker but not in hand (an attempt
        that broke off: the store or the broker failed after the claim): settled from the
        journal now. Held by another worker: looked at again later; given up (failed, never
        sent twice) only when its holder has stopped heartbeating and held it past the lease."""
        claim = item.claim
        assert claim is not None
        if claim.worker == self.worker_id and item.key not in self._in_flight:
            [outcome] = recover(self.journal_dir, self.worker_id, [item.key])
            await self._publish_settled([outcome])
            await asyncio.to_thread(self.send_log.record, [outcome])
            if self.journal is not None:
                self.journal.committed([item.key])
            if outcome.state == "released":  # never handed over: the next look sends it
                await self._publish_retry(run, chunk, item, 1, lane, count=False)
            return
        held_since = claim.updated_at
        holder = claim.worker or "?"
        if (
            held_since is not None
            and utc_now() - held_since > LEASE
            and not await asyncio.to_thread(self._alive, holder)
        ):
            outcome = Outcome(
                item.key,
                "failed",
                diagnostic=f"held by worker {holder}, which stopped without settling it; not "
                "sent again (to avoid a duplicate)",
            )
            item.outcome, item.event = outcome, "failed"
            await self._publish_events(run, [item])
            await asyncio.to_thread(self.send_log.settle, holder, [outcome])
            return
        await self._publish_retry(
            run, chunk, item, self.settings.sender_busy_retry_seconds, lane, count=False
        )

    def _alive(self, worker: str) -> bool:
        """Whether a worker heartbeated lately."""
        with self.store.connect() as connection:
            beat = connection.execute(
                select(SenderWorker.heartbeat_at).where(SenderWorker.id == worker)
            ).scalar_one_or_none()
        return beat is not None and utc_now() - beat < timedelta(seconds=LIVE_SECONDS)

    # --- delivering --------------------------------------------------------------------------
    async def _deliver(self, run: RunContext, chunk: SendChunk, item: Item) -> None:
        rule = item.rule
        assert rule is not None
        limits = self.limits.for_rule(rule)
        if item.wait > 0:  # its place in the group's (and the run's) rate, taken before the claim
            await asyncio.sleep(item.wait)
        if item.data_error is not None:  # never sent half-rendered
            diagnostic = one_line(f"external data: {item.data_error}")
            self._record(item, DeliveryResult("failed", diagnostic=diagnostic), rule)
            return
        try:
            message = self._build(run, item)
        except (MessageTemplateError, EmailError, MessageBuildError, DkimError) as exc:
            self._record(item, DeliveryResult("failed", diagnostic=one_line(str(exc))), rule)
            return
        except Exception as exc:  # a bug of ours: this message fails, the chunk goes on
            log.exception("building message %s failed", item.key)
            diagnostic = one_line(f"internal error while building the message: {exc!r}")
            self._record(item, DeliveryResult("failed", diagnostic=diagnostic), rule)
            return
        try:
            provider = self._provider(run, rule)
        except HeraldError as exc:  # the channel is not configured on this host
            self._record(item, DeliveryResult("failed", diagnostic=one_line(str(exc))), rule)
            return
        journal = self.journal
        if journal is not None:
            if run.channel == "email":  # the SMTP client says when the body has left
                message.attributes["on_handed"] = functools.partial(
                    journal.handed, item.key, message.message_id
                )
            elif run.channel != "webhook":  # a request may have arrived once it starts
                journal.handed(item.key, message.message_id)
            # a webhook is not marked: after a crash it is sent again, and the receiver
            # drops the repeat by its Idempotency-Key
        async with limits.connections:
            try:
                result = await provider.send(message)
            except Exception as exc:  # a provider must not raise; if one does, defer
                log.exception("provider %s raised", type(provider).__name__)
                result = DeliveryResult(
                    "deferred",
                    diagnostic=one_line(f"provider error: {exc!r}"),
                    bounce_type="network",
                )
        self._record(item, result, rule, message_id=message.message_id)

    def _reserve(self, run: RunContext, item: Item) -> float | None:
        """Seconds until the item may go by its group's rate and its run's throttle (taken
        now, in line), or None when that would be over MAX_LIMIT_WAIT."""
        assert item.rule is not None
        wait = self.limits.for_rule(item.rule).rate.reserve(MAX_LIMIT_WAIT)
        run_limiter = self._run_limiter(run)
        if wait is None or run_limiter is None:
            return wait
        run_wait = run_limiter.reserve(MAX_LIMIT_WAIT)
        return None if run_wait is None else max(wait, run_wait)

    def _build(self, run: RunContext, item: Item) -> OutboundMessage:
        if run.channel == "email":
            return self.email.build(run, item.recipient, item.key, item.destination, item.data)
        return PartsBuilder(run.channel).build(
            run, item.recipient, item.key, item.destination, item.data
        )

    def _record(
        self,
        item: Item,
        result: DeliveryResult,
        rule: ProviderRule,
        *,
        message_id: str | None = None,
        retry: float | None = None,
    ) -> None:
        state: str = result.outcome
        diagnostic = result.diagnostic
        if result.outcome == "deferred":
            claim = item.claim
            first = claim.first_attempt_at if claim and claim.first_attempt_at else utc_now()
            now = time.time()
            delay = (
                retry
                if retry is not None
                else rule.retry.delay(item.attempt, first.timestamp(), now)
            )
            if delay is None:
                state = "failed"
                diagnostic = one_line(
                    f"gave up after {rule.retry.max_age:.0f} s of retries: {diagnostic}"
                )
            else:
                item.retry_delay = delay
        item.outcome = Outcome(
            item.key,
            state,
            code=result.code,
            status=result.status,
            bounce_type=result.bounce_type,
            diagnostic=diagnostic or None,
            message_id=message_id,
        )
        item.event = state
        if self.journal is not None:
            self.journal.result(item.key, state, result.code, result.bounce_type)

    def _provider(self, run: RunContext, rule: ProviderRule) -> Provider:
        if run.channel == "email":
            route = rule.route
            key: Any = ("email", route.mode, route.host, route.port, route.tls, route.username)
            provider = self.providers.get(key)
            if provider is None:
                provider = self._smtp_provider(rule)
                self.providers[key] = provider
            return provider
        key = (run.channel, run.id if run.channel == "webhook" else "")
        provider = self.providers.get(key)
        if provider is None:
            provider = self._channel_provider(run)
            self.providers[key] = provider
        return provider

    def _smtp_provider(self, rule: ProviderRule) -> Provider:
        from senders.providers.smtp import SmtpProvider, SmtpRoute

        route = rule.route
        tls = {
            "none": "none",
            "opportunistic": "starttls",
            "starttls": "require_starttls",
            "tls": "implicit",
        }[route.tls]
        password = route.password()
        smtp_route = SmtpRoute(
            host=route.host if route.mode == "smarthost" else None,
            port=route.port,
            tls=tls,  # type: ignore[arg-type]
            verify_tls=self.settings.sender_verify_tls,
            auth=(route.username, password or "") if route.username else None,
            helo_name=self.settings.sender_helo or socket.getfqdn(),
            max_connections=max(1, self.settings.sender_connections),
            messages_per_connection=rule.messages_per_connection,
            connect_timeout=min(30.0, route.timeout),
            command_timeout=route.timeout,
            data_timeout=max(route.timeout, 600.0),  # RFC 5321 4.5.3.2.6: 10 minutes
        )
        if route.mode == "smarthost":
            return SmtpProvider(smtp_route)
        return SmtpProvider(smtp_route, resolve=self._resolve_mx)

    async def _resolve_mx(self, domain: str) -> list[tuple[str, int]]:
        return await self.mx.resolve(domain)

    def _channel_provider(self, run: RunContext) -> Provider:
        from senders.providers import channel_provider

        return channel_provider(run.channel, run.info.spec, self.settings)

    def _run_limiter(self, run: RunContext) -> RateLimiter | None:
        if not run.throttle_per_second:
            return None
        found = self.run_limiters.get(run.id)
        if found is None or found[0] != run.throttle_per_second:
            limiter = RateLimiter(float(run.throttle_per_second), None)
            if self.limits.share < 1:
                limiter = limiter.scaled(self.limits.share)
            found = (run.throttle_per_second, limiter)
            self.run_limiters[run.id] = found
        return found[1]

    # --- finishing -------------------------------------------------------------------------
    async def _finish(
        self, run: RunContext, chunk: SendChunk, items: list[Item], lane: str
    ) -> None:
        for item in items:
            if item.outcome is not None and item.outcome.state == "deferred":
                await self._publish_retry(run, chunk, item, item.retry_delay or 60, lane)
        await self._publish_events(run, items)
        outcomes = [item.outcome for item in items if item.outcome is not None]
        hard = [
            item
            for item in items
            if item.outcome is not None
            and item.outcome.state == "bounced"
            and item.outcome.bounce_type in SUPPRESSING_BOUNCES
        ]
        for item in hard:
            reason = (item.outcome.diagnostic if item.outcome else None) or "hard bounce"
            await asyncio.to_thread(
                suppress_address,
                self.store,
                run.channel,
                item.recipient.address,
                reason=reason,
                source="bounce",
                run_id=run.id,
            )
        # suppressed first: once the outcome is on record nothing would suppress it again
        await asyncio.to_thread(self.send_log.record, outcomes)
        if self.journal is not None:
            self.journal.committed(item.key for item in items)
        for outcome in outcomes:
            self.counters.outcomes[outcome.state] += 1

    async def _finish_skipped(self, run: RunContext, items: list[Item]) -> None:
        """Messages that end before any attempt: record them (new keys only), with events."""
        if not items:
            return
        claims = [
            Claim(
                i.key,
                run.id,
                i.recipient.profile_id,
                run.channel,
                i.recipient.address,
                i.destination,
            )
            for i in items
        ]
        reasons = {i.key: (i.outcome.diagnostic if i.outcome else "") or "" for i in items}
        states = {i.key: i.outcome.state if i.outcome else "skipped" for i in items}
        # A key with another outcome on record (sent before a crash, say) keeps it: no event.
        known = await asyncio.to_thread(logged_states, self.store, list(states))
        waiting = (None, "deferred", "released")  # new, or a retry that ends here
        items = [i for i in items if known.get(i.key) in (*waiting, states[i.key])]
        await self._publish_events(run, items)
        recorded = await asyncio.to_thread(self._record_unsent, claims, reasons, states)
        for key in recorded:
            self.counters.outcomes[states[key]] += 1

    def _record_unsent(
        self, claims: list[Claim], reasons: dict[str, str], states: dict[str, str]
    ) -> list[str]:
        recorded = self.send_log.record_skipped(claims, reasons)
        failed = [key for key in states if states[key] == "failed"]
        if failed:
            with self.store.begin() as connection:
                from herald.sending.send_log import LOG

                connection.execute(
                    update(LOG)
                    .where(LOG.c.key.in_(failed), LOG.c.state == "skipped")
                    .values(state="failed")
                )
        return recorded

    async def _publish_events(self, run: RunContext, items: list[Item]) -> None:
        now_ms = time.time_ns() // 1_000_000
        events = []
        for item in items:
            outcome = item.outcome
            if outcome is None or item.event is None:
                continue
            rule = item.rule
            events.append(
                sender_event(
                    event_type=item.event,
                    event_id=sender_event_id(item.key, item.event, item.attempt),
                    message_id=outcome.message_id,
                    run_id=run.id,
                    channel=run.channel,
                    recipient=item.recipient.address or None,
                    database=run.info.database,
                    profile_id=item.recipient.profile_id,
                    occurred_at=now_ms,
                    provider=rule.name if rule else None,
                    bounce_type=outcome.bounce_type,
                    smtp_code=outcome.code,
                    smtp_status=outcome.status,
                    diagnostic=outcome.diagnostic,
                )
            )
        if not events:
            return
        channel = self._require_channel()
        await channel.basic_publish(
            event_bundle(events),
            routing_key=self.settings.events_queue,
            properties=aiormq.spec.Basic.Properties(delivery_mode=2),
        )

    async def _publish_retry(
        self,
        run: RunContext,
        chunk: SendChunk,
        item: Item,
        delay: float,
        lane: str,
        *,
        count: bool = True,
    ) -> None:
        seconds = queues.rounded_delay(delay)
        name = queues.delay_queue(lane, seconds)
        channel = self._require_channel()
        if name not in self._declared_delays:
            await channel.queue_declare(
                name, durable=True, arguments=queues.delay_arguments(lane, seconds)
            )
            self._declared_delays.add(name)
        claim = item.claim
        first = claim.first_attempt_at if claim and claim.first_attempt_at else None
        retry = SendChunk(
            run_id=run.id,
            recipients=[item.recipient],
            step=chunk.step,
            attempt=item.attempt if count else chunk.attempt,
            first_at=int(first.timestamp() * 1000) if first else chunk.first_at,
        )
        await channel.basic_publish(
            encode_chunk(retry),
            routing_key=name,
            properties=aiormq.spec.Basic.Properties(delivery_mode=2),
        )

    async def _hold(self, run: RunContext, chunk: SendChunk) -> None:
        channel = self._require_channel()
        name = self.queues.hold(run.id)
        await channel.queue_declare(name, durable=True)  # classic: deleted when emptied
        # mandatory: a hold queue deleted meanwhile (the run was resumed) returns the chunk,
        # aiormq raises, and the chunk is redelivered instead of lost
        await channel.basic_publish(
            encode_chunk(chunk),
            routing_key=name,
            mandatory=True,
            properties=aiormq.spec.Basic.Properties(delivery_mode=2),
        )

    async def _fail_uncompiled(self, chunk: SendChunk, reason: str) -> None:
        """A run whose template does not compile: each recipient fails with the reason."""
        info = await asyncio.to_thread(get_run, self.store, chunk.run_id)
        run = RunContext(
            info, MessageTemplate({}), info.state, None, info.topic, info.address_field
        )
        items = await self._items(run, chunk)
        for item in items:
            if item.outcome is None:
                item.outcome = Outcome(item.key, "failed", diagnostic=one_line(reason))
                item.event = "failed"
        await self._finish_skipped(run, items)

    # --- runs --------------------------------------------------------------------------------
    def _connection_url(self, name: str) -> str:
        """The URL of a named data connection (templates' external SQL), from the store."""
        from herald.campaigns.content import connection_url

        return connection_url(self.store, name)

    def _run(self, run_id: str) -> RunContext | None:
        now = time.monotonic()
        found = self.runs.get(run_id)
        if found is None and len(self.runs) >= MAX_CACHED_RUNS:
            # runs not seen for a while (their chunks are done) leave the cache
            for stale in [r for r, c in self.runs.items() if now - c.checked_at > RUN_IDLE]:
                self.runs.pop(stale).close()
                self.run_limiters.pop(stale, None)
        if found is None:
            try:
                info = get_run(self.store, run_id)
            except UnknownSendRun:
                return None
            try:
                found = RunContext.from_info(info, self._connection_url)
            except MessageTemplateError as exc:
                log.error("run %s has a template that does not compile: %s", run_id, exc)
                raise
            found.checked_at = now
            self.runs[run_id] = found
            return found
        if now - found.checked_at > RUN_REFRESH_SECONDS:
            state = run_states(self.store, [run_id]).get(run_id)
            if state is not None:
                found.state, found.throttle_per_second = state
            found.checked_at = now
        return found


def install_signal_handlers(worker: SendWorker) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, worker.stop)


async def run_worker(settings: Settings, worker_id: str) -> None:
    worker = SendWorker(settings, worker_id)
    install_signal_handlers(worker)
    await worker.run()


def main(worker_id: str, home: Path | None = None) -> None:
    """Entry point of one worker process (`herald serve sender` starts these)."""
    from herald.settings import load_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = load_settings()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency
        pass
    asyncio.run(run_worker(settings, worker_id))


__all__ = ["MxTemporaryError", "SendWorker", "main"]


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="One Herald sender worker.")
    parser.add_argument("--id", required=True, help="the worker's id, host:slot")
    main(parser.parse_args().id)
