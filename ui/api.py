"""Herald's HTTP API: create or update profiles in a profile database.

`create_app()` builds the FastAPI app (`herald serve-api` runs it with uvicorn). A request's
profiles go through the same import path as a file (`run_import`, kind `api`): every value is
normalised and validated by the database's schema, accepted profiles become landing files that
the landing sensor loads into the warehouse, rejected ones are kept in the import's report with
their reasons.

The client card (`herald.profiles.card`, the same code as `herald profile ...`) reads a profile
from the warehouse, opened read-only for the request (a DuckDB file a writer holds for longer
than 10 s answers 503), and from the operational store; an edit of its fields is validated by
the schema and written as a landing file (source `card`), never into the warehouse.

Endpoints (JSON in and out; errors are `{"error": "..."}` with a 4xx status):

- `POST /api/v1/databases/{database}/profiles` — import one profile or a batch of up to
  10,000. Idempotent by `request_id`: a repeated id returns the first import's counts with
  `"duplicate": true` and imports nothing.
- `GET /api/v1/imports/{import_id}` — an import's status and counts.
- `GET /api/v1/databases` — the profile databases with their schema versions and fields.
- `GET /api/v1/profiles/{id_or_identifier}?database=` — the client card: a profile by its id,
  a merged id (answered with the live profile and `alias_of`) or an identifier value (e-mail,
  phone, ... as typed or normalised); fields with pending edits, identifiers, source records,
  aliases, merges, subscriptions, relations and the first page of the timeline
  (`timeline_limit`, 0 for none). An identifier shared by profiles of several databases is a
  409: give `database`.
- `GET /api/v1/profiles/{id_or_identifier}/timeline?database=&limit=&cursor=` — a page of the
  profile's web events, orders and message events, newest first; `next_cursor` goes on.
- `PATCH /api/v1/profiles/{id_or_identifier}/fields` — edit fields (`{"fields": {...},
  "edited_by": "..."}`): validated by the schema (422 naming the field), kept as a new source
  record and shown on the card at once as pending until the next build.
- `GET /api/v1/profiles/{id_or_identifier}/subscriptions` — subscriptions per channel and
  resource, with their history; `PUT` the same path sets one (`{"channel": "email",
  "resource": "news", "status": "unsubscribed", "reason": "..."}`).
- `GET /api/v1/profiles/{id_or_identifier}/relations` — typed links both ways; `POST` adds one
  (`{"to": "...", "kind": "family"}`, 201; 409 if it exists), `DELETE ...?to=&kind=` removes
  one (204; 404 if there is none).
- `POST /api/v1/databases/{database}/unmerges` — undo a wrong merge (`{"merged_id": "...",
  "by": "...", "reason": "..."}`): 202; the merged id's records get their profile back at the
  next build (`herald unify`), and later builds keep them apart. 404 for an id never merged.
- `GET /healthz` — liveness (no auth).

Rejection reasons are in English, or in Russian for a request with `Accept-Language: ru`.

Auth: when `HERALD_API_TOKEN` is set, every `/api/` request needs
`Authorization: Bearer <token>` (401 otherwise).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from herald.errors import HeraldError, WarehouseBusy, WarehouseError
from herald.i18n import N_, language_of, translate_reason
from herald.imports import SourceRow, TableReader, open_rows
from herald.profiles.card import (
    AmbiguousProfile,
    UnknownProfile,
    card_edit,
    card_relate,
    card_relations,
    card_set_subscription,
    card_subscriptions,
    card_timeline,
    card_unrelate,
    open_card_warehouse,
    read_card,
)
from herald.profiles.consent import SubscriptionError
from herald.profiles.databases import UnknownProfileDatabase, get_database, list_databases
from herald.profiles.edits import FieldEditError
from herald.profiles.importing import (
    ImportRequest,
    ImportSetupError,
    column_mapping,
    run_import,
)
from herald.profiles.merges import CannotUnmerge, request_unmerge
from herald.profiles.relations import RelationError, RelationExists, UnknownRelation
from herald.profiles.schema import ProfileField
from herald.profiles.timeline import MAX_LIMIT as MAX_TIMELINE_LIMIT
from herald.profiles.timeline import InvalidCursor
from herald.settings import Settings, load_settings
from herald.store import ProfileDatabase, ProfileImport, create_store_engine, migrate, session_scope
from herald.store.models import CHANNELS, SUBSCRIPTION_STATUSES
from herald.warehouse.base import Warehouse
from ui.campaigns_api import add_campaign_routes
from ui.delivery_rules_api import add_delivery_rules_routes
from ui.errors import APIError
from ui.reports_api import add_report_routes
from ui.segments_api import add_segment_routes
from ui.sending_api import add_sending_routes

MAX_PROFILES = 10_000
MAX_BODY_BYTES = 256 * 1024 * 1024
INDEX_COLUMN = "_batch_index"
"""A column the API adds to every row: the profile's 0-based position in the batch. It keeps
rows of an empty profile from being skipped as blank, and shows the position in the report."""
_LIST_SEPARATOR_CHARS = (",", ";", "\n")


# ---------------------------------------------------------------------------------------------
# Models (they are the OpenAPI document)


class ProfilesRequest(BaseModel):
    """A batch of profiles for one profile database."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "request_id": "shop-backend-2026-11-25-000123",
                    "source": "shop-backend",
                    "key": "customer_id",
                    "mode": "upsert",
                    "profiles": [
                        {
                            "customer_id": "10042",
                            "email": "Ivan.Petrov@Mail.RU",
                            "phone": "+7 916 123-45-67",
                            "given_name": "Иван",
                            "level": "gold",
                            "bonus_points": 120,
                            "email_opt_in": True,
                            "tags": ["vip", "newsletter"],
                        }
                    ],
                }
            ]
        }
    )

    request_id: str = Field(
        min_length=1,
        max_length=200,
        description="The caller's idempotency key: a request with an id already imported "
        "returns that import's counts with `duplicate: true` and imports nothing.",
    )
    source: str = Field(
        min_length=1,
        max_length=200,
        description="A label for where the profiles come from, kept as each record's lineage.",
    )
    key: str | None = Field(
        default=None,
        max_length=200,
        description="The attribute holding each profile's record key in the source (a schema "
        "field or any other attribute); profiles without a value for it are rejected. "
        "Without it, each profile gets a key of its own (import id and position).",
    )
    mode: Literal["upsert", "insert", "update"] = Field(
        default="upsert",
        description="upsert: create or update; insert: new profiles only; update: existing only.",
    )
    profiles: list[dict[str, Any]] = Field(
        description=f"1 to {MAX_PROFILES:,} profiles. Each is an object of field values (strings, "
        "numbers, booleans, lists, objects for json fields, null for empty), keyed by the "
        "database's field names (matched case-insensitively, spaces read as underscores). A "
        "profile with an attribute that is not a field (other than `key`) is rejected.",
    )


class RejectedRow(BaseModel):
    index: int = Field(description="0-based position of the profile in the request's batch.")
    reason: str = Field(description="Why it was rejected.")


class ProfilesResponse(BaseModel):
    """What became of every profile of the request: received = accepted + rejected."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "import_id": "imp-3f2a9c0b1d4e5f60",
                    "status": "succeeded",
                    "received": 2,
                    "accepted": 1,
                    "rejected": 1,
                    "rejected_rows": [{"index": 1, "reason": "email: invalid email"}],
                    "duplicate": False,
                }
            ]
        }
    )

    import_id: str = Field(description="The import's id (GET /api/v1/imports/{import_id}).")
    status: str = Field(description="running, succeeded or failed.")
    received: int
    accepted: int
    rejected: int
    rejected_rows: list[RejectedRow] = Field(
        description="Every rejected profile with its reason, in batch order."
    )
    duplicate: bool = Field(
        description="True when the request_id was already imported: the counts are the first "
        "import's and nothing was imported this time."
    )


class UnmergeCreate(BaseModel):
    """Undo the latest merge of a profile id into another."""

    merged_id: str = Field(min_length=1, max_length=1000, description="The id merged away.")
    by: str | None = Field(default=None, max_length=200, description="Who undoes it.")
    reason: str | None = Field(default=None, max_length=2000, description="Why it was wrong.")


class UnmergeAccepted(BaseModel):
    database: str
    kept_id: str = Field(description="The profile the id was merged into.")
    merged_id: str
    merge_build_id: str = Field(description="The build that made the merge.")
    records: int = Field(description="The records set apart, under merged_id again.")
    already_requested: bool


class ImportStatus(BaseModel):
    import_id: str
    database: str
    source: str
    kind: str = Field(description="file, paste, manual, api, sql, copy or card (a card edit).")
    mode: str
    status: str = Field(description="running, succeeded or failed.")
    received: int
    accepted: int
    rejected: int
    request_id: str | None
    error: str | None
    started_at: datetime
    finished_at: datetime | None


class DatabaseInfo(BaseModel):
    name: str
    title: str | None
    schema_version: int
    fields: list[str]


class ErrorResponse(BaseModel):
    error: str


# --- the client card ---------------------------------------------------------------------------


class Identifier(BaseModel):
    kind: str = Field(description="email, phone, external_id, ... or custom:<name>.")
    value: str


class SourceRecord(BaseModel):
    source: str
    record_key: str
    import_id: str
    row_number: int


class Merge(BaseModel):
    kept_id: str
    merged_id: str
    merged_at: datetime | None
    build_id: str | None = None


class PendingField(BaseModel):
    value: Any = Field(description="The edited value, shown in `fields` already.")
    edited_at: datetime
    edited_by: str | None
    import_id: str = Field(description="The edit's import: its source record's lineage.")


class Subscription(BaseModel):
    channel: str = Field(description=", ".join(CHANNELS) + ".")
    resource: str = Field(description="A newsletter or topic; * for the whole channel.")
    status: str = Field(description=", ".join(SUBSCRIPTION_STATUSES) + ".")
    reason: str | None
    source: str = Field(description="Who set it: api, cli, ...")
    updated_at: datetime
    profile_id: str = Field(description="The id it was set on (the live id or a merged one).")


class SubscriptionChangeInfo(BaseModel):
    channel: str
    resource: str
    status: str
    previous_status: str | None = Field(description="None for a new subscription.")
    reason: str | None
    source: str
    changed_at: datetime
    profile_id: str


class Relation(BaseModel):
    direction: Literal["outgoing", "incoming"] = Field(
        description="outgoing: this profile is `kind` of `profile_id`; incoming: the other way."
    )
    kind: str
    profile_id: str = Field(description="The other profile.")
    from_profile_id: str
    to_profile_id: str
    created_at: datetime
    created_by: str | None


class TimelineItem(BaseModel):
    type: Literal["event", "message", "order"]
    id: str = Field(description="event_id or order_id.")
    occurred_at: datetime
    name: str | None = Field(description="Event name, message event type or order status.")
    details: dict[str, Any] = Field(description="The row's other non-empty columns.")


class TimelinePage(BaseModel):
    items: list[TimelineItem] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; None: last.")
    sources: list[str] = Field(description="The tables read (those the warehouse has).")


class ProfileTimeline(TimelinePage):
    profile_id: str
    database: str


class ProfileCard(BaseModel):
    """A profile as the client card shows it."""

    profile_id: str = Field(description="The live profile id.")
    database: str
    alias_of: str | None = Field(
        default=None, description="The merged id the profile was asked by, if it was."
    )
    created_at: datetime | None
    updated_at: datetime | None = Field(description="The latest record's import time.")
    fields: dict[str, Any] = Field(description="The golden record, with pending edits laid over.")
    pending: dict[str, PendingField] = Field(
        description="Fields edited on the card that no build has taken in yet."
    )
    identifiers: list[Identifier]
    sources: list[SourceRecord]
    aliases: list[str] = Field(description="Ids merged into this profile.")
    merges: list[Merge]
    subscriptions: list[Subscription]
    relations: list[Relation]
    timeline: TimelinePage | None


class FieldsEdit(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"fields": {"level": "gold", "tags": ["vip"]}, "edited_by": "anna"}]
        }
    )

    fields: dict[str, Any] = Field(
        description="Field → new value (JSON: a text, number, boolean, a list for list fields, "
        "any JSON for json fields). Null or empty values are refused: an edit cannot clear a "
        "field."
    )
    edited_by: str | None = Field(default=None, max_length=200, description="Who edits.")


class FieldsEdited(BaseModel):
    import_id: str
    database: str
    profile_id: str
    fields: dict[str, Any] = Field(description="The edited values, normalised.")
    edited_at: datetime
    edited_by: str | None
    pending: bool = Field(description="True: shown on the card, in the golden record next build.")


class SubscriptionUpdate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"channel": "email", "resource": "news", "status": "unsubscribed", "reason": "x"}
            ]
        }
    )

    channel: str = Field(description=", ".join(CHANNELS) + ".")
    resource: str = Field(default="*", description="A newsletter or topic; * (default): all.")
    status: Literal["subscribed", "unsubscribed", "suppressed"]
    reason: str | None = Field(default=None, max_length=2000)
    source: str = Field(default="api", min_length=1, max_length=200)


class ProfileSubscriptions(BaseModel):
    profile_id: str
    database: str
    subscriptions: list[Subscription]
    history: list[SubscriptionChangeInfo] = Field(description="Changes, newest first.")
    changed: bool | None = Field(
        default=None, description="After a PUT: False when it was already so."
    )


class RelationCreate(BaseModel):
    to: str = Field(min_length=1, description="The other profile: id, merged id or identifier.")
    kind: str = Field(min_length=1, max_length=100, description='e.g. "family", "manager of".')
    created_by: str | None = Field(default=None, max_length=200)


class ProfileRelations(BaseModel):
    profile_id: str
    database: str
    relations: list[Relation]


_bearer = HTTPBearer(auto_error=False, description="The value of HERALD_API_TOKEN.")
_Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (401, 404, 409, 413, 422, 503)
}


# ---------------------------------------------------------------------------------------------
# Profiles → rows of text for run_import


def _as_text(value: Any, json_field: bool) -> str:
    """A JSON value as the text cell an import reads (json fields get the value as JSON)."""
    if value is None:
        return ""
    if json_field:
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return ", ".join(_as_text(item, False) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


@dataclass
class _ProfileRows(TableReader):
    """Rows read from in-memory cells, with the problems the API found, by row number."""

    problems: dict[int, str] = field(default_factory=dict)

    def batches(self, size: int = 10_000) -> Iterator[list[SourceRow]]:
        for batch in super().batches(size):
            for row in batch:
                problem = self.problems.get(row.row_number)
                if problem:
                    row.problem = f"{row.problem}; {problem}" if row.problem else problem
            yield batch


def _profile_rows(
    profiles: list[dict[str, Any]], fields: tuple[ProfileField, ...], key: str | None
) -> tuple[_ProfileRows, dict[str, str]]:
    """The batch as a reader of text rows (row n = profile n - 1) and its column mapping."""
    attributes: dict[str, None] = {}
    for profile in profiles:
        attributes.update(dict.fromkeys(name for name in profile if name != INDEX_COLUMN))
    if key is not None and key not in attributes:
        raise APIError(422, f"key {key!r} is an attribute of no profile")
    by_name = {item.name: item for item in fields}
    taken = {name.strip().lower().replace(" ", "_") for name in attributes}
    # A required field no profile has still gets a column, so each profile is rejected for
    # missing it (with the reason) instead of the whole batch.
    missing = [
        item.name
        for item in fields
        if item.required and item.default is None and item.name not in taken
    ]
    columns = [INDEX_COLUMN, *attributes, *missing]
    try:
        mapping = column_mapping(columns, fields, {})
    except ImportSetupError as exc:  # not expected: every required field has a column
        raise APIError(422, str(exc)) from None
    unknown = {name for name in attributes if name not in mapping and name != key}
    json_columns = {column for column, target in mapping.items() if by_name[target].type == "json"}
    list_columns = {column for column, target in mapping.items() if by_name[target].type == "list"}
    problems: dict[int, str] = {}
    for index, profile in enumerate(profiles):
        reasons = []
        extra = sorted(name for name in profile if name in unknown or name == INDEX_COLUMN)
        if extra:
            template = (
                N_("unknown fields: {names} (fields: {fields})")
                if len(extra) > 1
                else N_("unknown field: {names} (fields: {fields})")
            )
            reasons.append(template.format(names=", ".join(extra), fields=", ".join(by_name)))
        if not any(
            profile.get(name) not in (None, "", [], {}) for name in profile if name in mapping
        ):
            reasons.append(N_("empty profile: no field values"))
        for column in list_columns:
            value = profile.get(column)
            if isinstance(value, list) and any(
                isinstance(item, str) and any(sep in item for sep in _LIST_SEPARATOR_CHARS)
                for item in value
            ):
                reasons.append(
                    N_("{field}: {detail}").format(
                        field=mapping[column],
                        detail=N_("a list item contains ',', ';' or a line break"),
                    )
                )
        if reasons:
            problems[index + 1] = "; ".join(reasons)

    def rows() -> Iterator[list[str]]:
        for index, profile in enumerate(profiles):
            yield [
                str(index),
                *(_as_text(profile.get(name), name in json_columns) for name in columns[1:]),
            ]

    base = open_rows(columns, rows, source="api")
    reader = _ProfileRows(
        source=base.source,
        columns=base.columns,
        has_header=base.has_header,
        encoding=base.encoding,
        delimiter=base.delimiter,
        sheet=base.sheet,
        warnings=base.warnings,
        max_cell_chars=base.max_cell_chars,
        _raw_rows=rows,
        problems=problems,
    )
    return reader, mapping


def _rejected_rows(report_path: str | None, language: str = "en") -> list[RejectedRow]:
    """The rejected rows of an import's report CSV (rows numbered from 1 = batch index 0),
    their reasons in `language`."""
    if not report_path or not Path(report_path).is_file():
        return []
    rejected = []
    with open(report_path, encoding="utf-8-sig", newline="") as handle:
        for record in csv.DictReader(handle):
            reason = record["reason"]
            if reason.startswith("'") and reason[1:2] in ("=", "+", "-", "@", "\t", "\r"):
                reason = reason[1:]
            rejected.append(
                RejectedRow(
                    index=int(record["row_number"]) - 1,
                    reason=translate_reason(reason, language),
                )
            )
    return rejected


# ---------------------------------------------------------------------------------------------
# The app


class BodyLimit:
    """Refuses a request whose Content-Length is over MAX_BODY_BYTES (413), as plain ASGI:
    Starlette's `@app.middleware("http")` costs a task group and streams per request."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"content-length":
                    if value.isdigit() and int(value) > MAX_BODY_BYTES:
                        megabytes = MAX_BODY_BYTES // (1024 * 1024)
                        response = _error(413, f"request body over {megabytes} MB")
                        await response(scope, receive, send)
                        return
                    break
        await self.app(scope, receive, send)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    """The first validation error as one readable line."""
    errors = exc.errors()
    if not errors:
        return "invalid request"
    first = errors[0]
    if first.get("type") == "json_invalid":
        detail = (first.get("ctx") or {}).get("error")
        return f"malformed JSON body: {detail}" if detail else "malformed JSON body"
    location = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    message = f"{location}: {first.get('msg')}" if location else str(first.get("msg"))
    more = len(errors) - 1
    return message + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API app over the operational store of `settings` (read from the environment if
    None). `HERALD_API_TOKEN`, read now, turns on bearer-token auth."""
    settings = settings or load_settings()
    token = os.environ.get("HERALD_API_TOKEN") or None
    store = create_store_engine(settings.database_url)
    migrate(store)
    home = settings.home

    app = FastAPI(
        title="Herald API",
        version="1",
        description="Create or update customer profiles in Herald's profile databases. "
        + (
            "Every /api/ request needs `Authorization: Bearer <token>`."
            if token
            else "Auth is off (HERALD_API_TOKEN is not set)."
        ),
    )

    app.state.settings = settings

    async def authorized(credentials: _Credentials) -> None:  # async: no thread per request
        if token is None:
            return
        if credentials is None or not secrets.compare_digest(
            credentials.credentials.encode(), token.encode()
        ):
            raise APIError(401, "missing or wrong bearer token (Authorization: Bearer <token>)")

    @app.exception_handler(APIError)
    async def api_error(request: Request, exc: APIError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        language = language_of(request.headers.get("accept-language"))
        response = _error(exc.status, translate_reason(exc.message, language), headers)
        if exc.details:
            response = JSONResponse(
                {"error": translate_reason(exc.message, language), **exc.details},
                status_code=exc.status,
                headers=headers,
            )
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        return _error(500, f"internal error ({type(exc).__name__}); see the server log")

    app.add_middleware(BodyLimit)

    @app.get("/healthz", tags=["meta"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/api/v1/databases",
        response_model=list[DatabaseInfo],
        responses=_ERRORS,
        dependencies=[Depends(authorized)],
        tags=["databases"],
    )
    def databases() -> list[DatabaseInfo]:
        return [
            DatabaseInfo(
                name=info.name,
                title=info.title,
                schema_version=info.version,
                fields=[item.name for item in info.schema.fields],
            )
            for info in list_databases(store)
        ]

    @app.get(
        "/api/v1/imports/{import_id}",
        response_model=ImportStatus,
        responses=_ERRORS,
        dependencies=[Depends(authorized)],
        tags=["imports"],
    )
    def import_status(import_id: str) -> ImportStatus:
        with session_scope(store) as session:
            row = session.execute(
                select(ProfileImport, ProfileDatabase.name)
                .join(ProfileDatabase, ProfileDatabase.id == ProfileImport.database_id)
                .where(ProfileImport.import_id == import_id)
            ).first()
            if row is None:
                raise APIError(404, f"no import {import_id!r}")
            entry, database = row
            return ImportStatus(
                import_id=entry.import_id,
                database=database,
                source=entry.source,
                kind=entry.kind,
                mode=entry.mode,
                status=entry.status,
                received=entry.received,
                accepted=entry.accepted,
                rejected=entry.rejected,
                request_id=entry.request_id,
                error=entry.error,
                started_at=entry.started_at,
                finished_at=entry.finished_at,
            )

    @app.post(
        "/api/v1/databases/{database}/profiles",
        response_model=ProfilesResponse,
        responses=_ERRORS,
        dependencies=[Depends(authorized)],
        tags=["profiles"],
        summary="Create or update profiles",
    )
    def import_profiles(
        database: str, body: ProfilesRequest, accept_language: _AcceptLanguage = None
    ) -> ProfilesResponse:
        """Import one profile or a batch; each is accepted or rejected with its reason."""
        language = language_of(accept_language)
        try:
            info = get_database(store, database)
        except UnknownProfileDatabase:
            raise APIError(404, f"no profile database {database!r}") from None
        if len(body.profiles) > MAX_PROFILES:
            raise APIError(
                413,
                f"{len(body.profiles):,} profiles in one request; send at most "
                f"{MAX_PROFILES:,} per request",
            )
        if not body.profiles:
            raise APIError(422, "profiles: give at least one profile")
        earlier = _previous(store, body.request_id, database, language)
        if earlier is not None:
            return earlier
        reader, mapping = _profile_rows(body.profiles, info.schema.fields, body.key)
        request = ImportRequest(
            database=database,
            source=body.source,
            kind="api",
            mode=body.mode,
            key_column=body.key,
            mapping=mapping,
            request_id=body.request_id,
        )
        try:
            result = run_import(store, home, reader, request, workers=0)
        except IntegrityError:
            # The same request_id committed by a concurrent request: the unique constraint
            # refused this one before anything was written.
            earlier = _previous(store, body.request_id, database, language)
            if earlier is None:
                raise
            return earlier
        except HeraldError as exc:
            raise APIError(422, str(exc)) from None
        outcome = result.outcome
        return ProfilesResponse(
            import_id=result.import_id,
            status="succeeded",
            received=outcome.received,
            accepted=outcome.accepted,
            rejected=outcome.rejected,
            rejected_rows=_rejected_rows(
                str(outcome.rejects_path) if outcome.rejects_path else None, language
            ),
            duplicate=False,
        )

    # --- the client card -----------------------------------------------------------------------

    card_route = "/api/v1/profiles/{id_or_identifier}"
    card_options: dict[str, Any] = {
        "responses": _ERRORS,
        "dependencies": [Depends(authorized)],
        "tags": ["client card"],
    }

    @app.get(card_route, response_model=ProfileCard, summary="The client card", **card_options)
    def profile_card(
        id_or_identifier: str,
        wh: _Warehouse,
        database: _Database = None,
        timeline_limit: Annotated[int, Query(ge=0, le=MAX_TIMELINE_LIMIT)] = 20,
    ) -> Any:
        """A profile by its id, a merged id or an identifier, with everything the card shows."""
        with _card_errors():
            return read_card(wh, store, id_or_identifier, database, timeline_limit=timeline_limit)

    @app.get(card_route + "/timeline", response_model=ProfileTimeline, **card_options)
    def profile_timeline(
        id_or_identifier: str,
        wh: _Warehouse,
        database: _Database = None,
        limit: Annotated[int, Query(ge=1, le=MAX_TIMELINE_LIMIT)] = 20,
        cursor: Annotated[str | None, Query(max_length=2000)] = None,
    ) -> Any:
        """A page of the profile's activity, newest first."""
        with _card_errors():
            return card_timeline(wh, id_or_identifier, database, limit=limit, cursor=cursor)

    @app.patch(card_route + "/fields", response_model=FieldsEdited, **card_options)
    def edit_profile_fields(
        id_or_identifier: str, body: FieldsEdit, wh: _Warehouse, database: _Database = None
    ) -> FieldsEdited:
        """Edit fields: validated by the schema, kept as a source record, shown at once."""
        with _card_errors():
            done = card_edit(
                wh,
                store,
                settings.landing_dir,
                id_or_identifier,
                database,
                body.fields,
                edited_by=body.edited_by,
            )
        return FieldsEdited(
            import_id=done.import_id,
            database=done.database,
            profile_id=done.profile_id,
            fields=done.fields,
            edited_at=done.edited_at,
            edited_by=done.edited_by,
            pending=True,
        )

    @app.get(card_route + "/subscriptions", response_model=ProfileSubscriptions, **card_options)
    def profile_subscriptions(
        id_or_identifier: str, wh: _Warehouse, database: _Database = None
    ) -> Any:
        """Subscriptions per channel and resource, and their history."""
        with _card_errors():
            return card_subscriptions(wh, store, id_or_identifier, database)

    @app.put(card_route + "/subscriptions", response_model=ProfileSubscriptions, **card_options)
    def set_profile_subscription(
        id_or_identifier: str,
        body: SubscriptionUpdate,
        wh: _Warehouse,
        database: _Database = None,
    ) -> Any:
        """Set one subscription's status; the change is kept in the history."""
        with _card_errors():
            return card_set_subscription(
                wh,
                store,
                id_or_identifier,
                database,
                channel=body.channel,
                resource=body.resource,
                status=body.status,
                reason=body.reason,
                source=body.source,
            )

    @app.get(card_route + "/relations", response_model=ProfileRelations, **card_options)
    def profile_relations(id_or_identifier: str, wh: _Warehouse, database: _Database = None) -> Any:
        """The profile's relations, both directions."""
        with _card_errors():
            return card_relations(wh, store, id_or_identifier, database)

    @app.post(card_route + "/relations", response_model=Relation, status_code=201, **card_options)
    def relate_profile(
        id_or_identifier: str, body: RelationCreate, wh: _Warehouse, database: _Database = None
    ) -> Any:
        """Relate this profile to another of its database (this profile is `kind` of `to`)."""
        with _card_errors():
            return card_relate(
                wh,
                store,
                id_or_identifier,
                body.to,
                database,
                kind=body.kind,
                created_by=body.created_by,
            )

    @app.delete(card_route + "/relations", status_code=204, **card_options)
    def unrelate_profile(
        id_or_identifier: str,
        wh: _Warehouse,
        to: Annotated[str, Query(min_length=1, description="The other profile.")],
        kind: Annotated[str, Query(min_length=1, max_length=100)],
        database: _Database = None,
    ) -> Response:
        """Remove a relation from this profile to another."""
        with _card_errors():
            card_unrelate(wh, store, id_or_identifier, to, database, kind=kind)
        return Response(status_code=204)

    @app.post(
        "/api/v1/databases/{database}/unmerges",
        response_model=UnmergeAccepted,
        status_code=202,
        responses=_ERRORS,
        dependencies=[Depends(authorized)],
        tags=["client card"],
        summary="Undo a wrong merge",
    )
    def unmerge_profile(database: str, body: UnmergeCreate, wh: _Warehouse) -> Any:
        """Undo the latest merge of `merged_id`: its records get their profile back at the next
        build, and later builds keep them apart."""
        try:
            with _card_errors():
                request = request_unmerge(
                    store, wh, database, body.merged_id, by=body.by, reason=body.reason
                )
        except CannotUnmerge as exc:
            raise APIError(404, str(exc)) from None
        return request.as_dict()

    add_segment_routes(app, store, authorized, _card_warehouse)
    add_report_routes(app, authorized, _card_warehouse)
    add_delivery_rules_routes(app, authorized)
    add_sending_routes(app, store, settings, authorized)
    add_campaign_routes(app, store, settings, authorized)
    return app


def _previous(
    store: Engine, request_id: str, database: str, language: str = "en"
) -> ProfilesResponse | None:
    """The response of the import that already has this request_id, if there is one."""
    with session_scope(store) as session:
        row = session.execute(
            select(ProfileImport, ProfileDatabase.name)
            .join(ProfileDatabase, ProfileDatabase.id == ProfileImport.database_id)
            .where(ProfileImport.request_id == request_id)
        ).first()
        if row is None:
            return None
        entry, name = row
        if name != database:
            raise APIError(409, f"request_id {request_id!r} was already used for database {name!r}")
        return ProfilesResponse(
            import_id=entry.import_id,
            status=entry.status,
            received=entry.received,
            accepted=entry.accepted,
            rejected=entry.rejected,
            rejected_rows=_rejected_rows(entry.report_path, language),
            duplicate=True,
        )


@contextlib.contextmanager
def _card_errors() -> Iterator[None]:
    """The card's errors as API errors: a clear message and a 4xx (or 503), never a 500."""
    try:
        yield
    except (UnknownProfile, UnknownRelation, UnknownProfileDatabase) as exc:
        raise APIError(404, str(exc)) from None
    except (AmbiguousProfile, RelationExists) as exc:
        raise APIError(409, str(exc)) from None
    except (FieldEditError, SubscriptionError, RelationError, InvalidCursor) as exc:
        raise APIError(422, str(exc)) from None
    except WarehouseBusy as exc:
        raise APIError(503, str(exc)) from None
    except WarehouseError as exc:
        raise APIError(503, f"the warehouse cannot be read now: {exc}") from None


def _card_warehouse(request: Request) -> Iterator[Warehouse]:
    """The warehouse, opened read-only for one request."""
    with _card_errors():
        opened = open_card_warehouse(request.app.state.settings)
    try:
        yield opened
    finally:
        opened.close()


_Warehouse = Annotated[Warehouse, Depends(_card_warehouse)]
_AcceptLanguage = Annotated[
    str | None, Header(description="en (default) or ru: the language of rejection reasons.")
]
_Database = Annotated[
    str | None, Query(description="The profile database (needed when an identifier is shared).")
]
