"""The campaigns part of the JSON API: templates, fragments, campaigns, the calendar, and
transactional sends.

- `GET /api/v1/templates`, `GET /api/v1/templates/{name}`, `PUT /api/v1/templates/{name}`
  (a template document: `{"channel", "parts", "data", "locale"}`; saved as a new version
  when valid, else 422 with the problems), `POST /api/v1/templates/validate`,
  `POST /api/v1/templates/preview` (`{"template": name | "document": {...}, "database",
  "profile_id", "fields"}`); `GET|PUT /api/v1/fragments/{name}` (`{"source": ...}`).
- `GET /api/v1/campaigns`, `GET /api/v1/campaigns/{name}` (status with launches, runs and
  results per variant), `PUT /api/v1/campaigns/{name}` (the campaign file as JSON),
  `POST /api/v1/campaigns/{name}/launch|pause|resume|cancel`.
- `GET /api/v1/campaigns-calendar?start=&end=` — scheduled and past launches.
- `POST /api/v1/transactional` — `{"campaign", "to", "profile_id", "data", "idempotency_key"}`:
  one message of an active transactional campaign, queued at once on the priority lane
  (202). The same idempotency key again is never sent twice.

Unknown names are 404, actions a state does not allow are 409, invalid documents 422,
RabbitMQ away 503. No `from __future__ import annotations`: FastAPI must see the route
annotations.
"""

import asyncio
import contextlib
import importlib
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiormq
import aiormq.abc
from fastapi import Depends, FastAPI
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from herald.campaigns import catalog, content, control
from herald.campaigns.definition import CampaignError, parse_campaign
from herald.campaigns.preview import (
    check_campaign,
    preview_template,
    profile_fields_for,
    validate_document,
    validate_fragment,
)
from herald.errors import HeraldError
from herald.sending.admin import BrokerUnavailable
from herald.sending.keys import MAX_KEY_CHARS
from herald.sending.queues import SendQueues
from herald.sending.runs import DEFAULT_ADDRESS_FIELDS
from herald.sending.wire import Recipient, SendChunk, encode_chunk
from herald.settings import Settings
from ui.errors import APIError

CAMPAIGN_CACHE_SECONDS = 5.0


class PreviewRequest(BaseModel):
    template: str | None = Field(None, description="A saved template's name.")
    version: int | None = None
    document: dict[str, Any] | None = Field(None, description="Or a template document.")
    database: str | None = None
    profile_id: str | None = None
    fields: dict[str, Any] = {}


class FragmentRequest(BaseModel):
    source: str = Field(..., max_length=1_000_000)


class TransactionalRequest(BaseModel):
    campaign: str = Field(..., max_length=63)
    to: str | None = Field(
        None, max_length=320, description="The address (default: the profile's)."
    )
    profile_id: str | None = Field(None, max_length=255)
    data: dict[str, Any] = Field({}, description="Fields the template sees beside the profile's.")
    idempotency_key: str | None = Field(
        None, max_length=120, description="The same key again is never sent twice."
    )


@contextlib.contextmanager
def campaign_errors() -> Iterator[None]:
    """A HeraldError as the API's answer: unknown names 404, a state that forbids the
    action 409, RabbitMQ away 503, anything else the caller can mend 422."""
    try:
        yield
    except HeraldError as exc:
        raise _answer(exc) from None


def _answer(exc: HeraldError) -> APIError:
    if isinstance(exc, catalog.UnknownCampaign):
        return APIError(404, str(exc))
    if isinstance(exc, content.ContentError) and str(exc).startswith("no "):
        return APIError(404, str(exc))
    if isinstance(exc, BrokerUnavailable):
        return APIError(503, str(exc))
    if isinstance(exc, CampaignError) and "cannot become" in str(exc):
        return APIError(409, str(exc))
    return APIError(422, str(exc))


class TransactionalPublisher:
    """Publishes transactional sends with publisher confirms on one AMQP connection of this
    API process (aiormq on the server's event loop); reconnects after a broker failure.

    Requests for the same run that arrive within LINGER_SECONDS go out as one chunk (each
    recipient with its own step), confirmed once: a worker then claims, records and reports
    them together, which is most of a message's cost. Each request is answered when its
    chunk is confirmed."""

    LINGER_SECONDS = 0.01
    MAX_BATCH = 100

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.queues = SendQueues(settings.sends_queue)
        self._channel: aiormq.abc.AbstractChannel | None = None
        self._connection: aiormq.abc.AbstractConnection | None = None
        self._lock = asyncio.Lock()
        self._pending: dict[str, list[tuple[Recipient, asyncio.Future[None]]]] = {}
        self._tasks: set[asyncio.Future[None]] = set()

    async def send(self, run_id: str, recipient: Recipient) -> None:
        """Queue one recipient of a run; returns once RabbitMQ confirmed it."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        batch = self._pending.setdefault(run_id, [])
        batch.append((recipient, done))
        if len(batch) >= self.MAX_BATCH:
            self._flush(run_id)
        elif len(batch) == 1:
            loop.call_later(self.LINGER_SECONDS, self._flush, run_id)
        await done

    def _flush(self, run_id: str) -> None:
        batch = self._pending.pop(run_id, None)
        if batch:
            task = asyncio.ensure_future(self._publish_batch(run_id, batch))
            self._tasks.add(task)  # held until done (the loop keeps only weak references)
            task.add_done_callback(self._tasks.discard)

    async def _publish_batch(
        self, run_id: str, batch: list[tuple[Recipient, asyncio.Future[None]]]
    ) -> None:
        try:
            await self.publish(SendChunk(run_id, [recipient for recipient, _ in batch]))
        except Exception as exc:  # every waiting request hears why
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        for _, done in batch:
            if not done.done():
                done.set_result(None)

    async def channel(self) -> aiormq.abc.AbstractChannel:
        if self._channel is not None and not self._channel.is_closed:
            return self._channel
        async with self._lock:
            if self._channel is not None and not self._channel.is_closed:
                return self._channel
            await asyncio.to_thread(self._declare)
            try:
                self._connection = await aiormq.connect(self.settings.broker)
                self._channel = await self._connection.channel(publisher_confirms=True)
            except (aiormq.exceptions.AMQPError, OSError) as exc:
                raise BrokerUnavailable(f"RabbitMQ is not reachable: {exc!r}") from None
            return self._channel

    def _declare(self) -> None:
        from herald.sending.admin import broker_channel

        with broker_channel(self.settings) as channel:
            self.queues.declare(channel)

    async def publish(self, chunk: SendChunk) -> None:
        channel = await self.channel()
        try:
            confirmation = await channel.basic_publish(
                encode_chunk(chunk),
                routing_key=self.queues.priority,
                properties=aiormq.spec.Basic.Properties(delivery_mode=2),
                mandatory=True,
            )
        except (aiormq.exceptions.AMQPError, OSError) as exc:
            self._channel = None
            raise BrokerUnavailable(f"RabbitMQ did not take the message: {exc!r}") from None
        if not isinstance(confirmation, aiormq.spec.Basic.Ack):
            raise BrokerUnavailable("RabbitMQ did not confirm the message")

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()


def add_campaign_routes(
    app: FastAPI, store: Engine, settings: Settings, authorized: Callable[..., None]
) -> None:
    options: dict[str, Any] = {"dependencies": [Depends(authorized)], "tags": ["campaigns"]}
    publisher = TransactionalPublisher(settings)
    app.state.transactional_publisher = publisher
    runs: dict[str, tuple[float, str, str, str | None]] = {}

    # -- templates and fragments -----------------------------------------------------------

    @app.get("/api/v1/templates", **options)
    def templates() -> list[dict[str, Any]]:
        return content.list_content(store, "template")

    @app.get("/api/v1/templates/{name}", **options)
    def template(name: str, version: int | None = None) -> dict[str, Any]:
        with campaign_errors():
            return content.get_content(store, "template", name, version).public()

    @app.put("/api/v1/templates/{name}", **options)
    def save_template(name: str, document: dict[str, Any]) -> dict[str, Any]:
        with campaign_errors():
            shaped = content.template_document(document)
            problems = validate_document(store, shaped)
            if any(p["severity"] == "error" for p in problems):
                raise APIError(422, "the template is not valid", details={"problems": problems})
            info = content.save_content(store, "template", name, shaped)
        return {**info.public(), "warnings": problems}

    @app.post("/api/v1/templates/validate", **options)
    def validate(document: dict[str, Any], database: str | None = None) -> dict[str, Any]:
        with campaign_errors():
            problems = validate_document(
                store, content.template_document(document), database=database
            )
        return {"valid": not any(p["severity"] == "error" for p in problems), "problems": problems}

    @app.post("/api/v1/templates/preview", **options)
    def preview(request: PreviewRequest) -> dict[str, Any]:
        with campaign_errors():
            if request.template:
                document = content.get_content(
                    store, "template", request.template, request.version
                ).document
            elif request.document is not None:
                document = content.template_document(request.document)
            else:
                raise APIError(422, "give a template name or a document")
            result = preview_template(
                settings,
                store,
                document,
                database=request.database,
                profile_id=request.profile_id,
                fields=request.fields,
            )
        # What the external sources answered is shown only as the rendered parts: the
        # API does not hand out raw answers of internal services and databases.
        result.pop("data", None)
        return result

    @app.get("/api/v1/fragments/{name}", **options)
    def fragment(name: str, version: int | None = None) -> dict[str, Any]:
        with campaign_errors():
            return content.get_content(store, "fragment", name, version).public()

    @app.put("/api/v1/fragments/{name}", **options)
    def save_fragment(name: str, request: FragmentRequest) -> dict[str, Any]:
        problems = validate_fragment(name, request.source)
        if problems:
            raise APIError(422, "the fragment is not valid", details={"problems": problems})
        with campaign_errors():
            info = content.save_content(store, "fragment", name, {"source": request.source})
        return info.public()

    # -- campaigns -------------------------------------------------------------------------

    @app.get("/api/v1/campaigns", **options)
    def campaigns() -> list[dict[str, Any]]:
        return [c.public() for c in catalog.list_campaigns(store)]

    @app.get("/api/v1/campaigns-calendar", **options)
    def calendar(
        start: datetime | None = None, end: datetime | None = None
    ) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        since = _aware(start) if start else now - timedelta(days=7)
        until = _aware(end) if end else now + timedelta(days=30)
        return catalog.calendar(store, since, until)

    @app.get("/api/v1/campaigns/{name}", **options)
    def campaign(name: str) -> dict[str, Any]:
        with campaign_errors():
            return control.campaign_status(settings, store, name)

    @app.put("/api/v1/campaigns/{name}", **options)
    def save_campaign(name: str, document: dict[str, Any]) -> dict[str, Any]:
        with campaign_errors():
            definition = parse_campaign({**document, "name": name})
            check_campaign(store, definition)
            info, created = catalog.save_campaign(store, definition)
        return {**info.public(), "created": created}

    @app.post("/api/v1/campaigns/{name}/launch", **options)
    def launch(name: str, now: bool = False) -> dict[str, Any]:
        scheduler = importlib.import_module("senders.campaigns")
        with campaign_errors():
            return dict(scheduler.activate_campaign(settings, store, name, launch_now=now))

    @app.post("/api/v1/campaigns/{name}/pause", **options)
    def pause(name: str) -> dict[str, Any]:
        with campaign_errors():
            return control.pause_campaign(settings, store, name)

    @app.post("/api/v1/campaigns/{name}/resume", **options)
    def resume(name: str) -> dict[str, Any]:
        with campaign_errors():
            return control.resume_campaign(settings, store, name)

    @app.post("/api/v1/campaigns/{name}/cancel", **options)
    def cancel(name: str) -> dict[str, Any]:
        with campaign_errors():
            return control.cancel_campaign(settings, store, name)

    # -- transactional ---------------------------------------------------------------------

    def transactional_run(name: str) -> tuple[str, str, str | None]:
        """The campaign's run, its address field and database, read from the store (and
        kept for CAMPAIGN_CACHE_SECONDS; the route reads the cache without a thread)."""
        info = catalog.get_campaign(store, name)
        if info.kind != "transactional":
            raise APIError(409, f"campaign {name!r} is {info.kind}, not transactional")
        if info.state != "active":
            raise APIError(
                409, f"campaign {name!r} is {info.state}: launch it (`herald campaign launch`)"
            )
        launched = catalog.campaign_launches(store, name, limit=1)
        found = catalog.launch_runs(store, [launched[0].id]) if launched else []
        if not found:
            raise APIError(409, f"campaign {name!r} has no run: launch it again")
        run = found[0]
        field = str(
            run.spec.get("address_field") or DEFAULT_ADDRESS_FIELDS.get(run.channel, "address")
        )
        runs[name] = (time.monotonic(), run.id, field, info.definition.database)
        return run.id, field, info.definition.database

    @app.post("/api/v1/transactional", status_code=202, **options)
    async def transactional(request: TransactionalRequest) -> dict[str, Any]:
        """Send one message of a transactional campaign now (the priority lane)."""
        cached = runs.get(request.campaign)
        with campaign_errors():
            if cached is not None and time.monotonic() - cached[0] < CAMPAIGN_CACHE_SECONDS:
                run_id, field, database = cached[1], cached[2], cached[3]
            else:
                run_id, field, database = await asyncio.to_thread(
                    transactional_run, request.campaign
                )
        fields: dict[str, Any] = {}
        if request.profile_id and database and not request.to:
            with campaign_errors():
                found = await asyncio.to_thread(
                    profile_fields_for, settings, database, request.profile_id
                )
            if found is None:
                raise APIError(404, f"no profile {request.profile_id!r} in {database}")
            fields.update(found)
        fields.update(request.data)
        address = request.to or str(fields.get(field) or "")
        if not address.strip():
            raise APIError(422, f"give `to` (or a profile with {field})")
        fields[field] = address
        key = request.idempotency_key or uuid.uuid4().hex
        profile_id = request.profile_id or f"to:{address.strip().lower()}"
        step = f"tx:{key}"
        if len(step) > MAX_KEY_CHARS // 2:
            raise APIError(422, "the idempotency key is too long")
        recipient = Recipient(profile_id, address.strip(), fields, step=step)
        with campaign_errors():
            await publisher.send(run_id, recipient)
        return {"campaign": request.campaign, "run": run_id, "step": step, "queued": True}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
