"""The tracking service: a raw ASGI app (no framework on the hot paths).

    uvicorn tracking.app:create_app --factory       # `herald serve tracking` runs it

Routes:
- Segment Spec HTTP API: POST /v1/identify, /v1/track, /v1/page, /v1/screen, /v1/group,
  /v1/alias, /v1/batch (and /v1/b). The write key as HTTP Basic user name (as the SDKs send
  it) or as `writeKey` in the body (as analytics.js does); gzip bodies; CORS.
- Message tracking: GET /o/{token} (open pixel; always the image), GET /c/{token} (302 to the
  link's URL; a bad token never redirects), GET|POST /u/{token} (unsubscribe; RFC 8058
  one-click POST), GET /v/{token} (the web version of a message).
- GET /t.js (the web snippet), /health, /metrics (Prometheus text), /openapi.json.

Every event is answered only once it is durable (tracking/publisher.py). Bad input gets a 4xx
with a clear `error`, never a 5xx: anything unexpected becomes a logged 400 on the API, the
image on the pixel.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import itertools
import logging
import os
import time
import uuid
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import orjson

from herald.i18n import language_of
from herald.sending.web_versions import web_version_path
from herald.settings import Settings, load_settings
from herald.tokens import TokenError, TokenKeys, TrackingToken, verify_token
from herald.tracking_sources import Source, find_source
from tracking import pages
from tracking.metrics import Metrics
from tracking.publisher import DurabilityError, EventPublisher
from tracking.segment import MAX_BATCH_BYTES, MAX_EVENT_BYTES, SegmentError, read_call
from tracking.spool import Spool
from tracking.wire import message_envelope, now_ms, segment_envelope

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")
STATIC = Path(__file__).parent / "static"
CALLS = {
    "/v1/identify": "identify",
    "/v1/track": "track",
    "/v1/page": "page",
    "/v1/screen": "screen",
    "/v1/group": "group",
    "/v1/alias": "alias",
    "/v1/batch": "batch",
    "/v1/b": "batch",
    # analytics-next (Segment's browser SDK) posts to the calls' initials
    "/v1/i": "identify",
    "/v1/t": "track",
    "/v1/p": "page",
    "/v1/s": "screen",
    "/v1/g": "group",
    "/v1/a": "alias",
}
# Request headers the browser SDKs send: RudderStack's AnonymousId, SentAt and Rsa-* (retries),
# analytics-next's X-Retry-Count.
CORS_HEADERS = (
    b"Content-Type, Authorization, Content-Encoding, AnonymousId, SentAt, Rsa-Recovered, "
    b"Rsa-Retry-Attempt, Rsa-Since-Last-Attempt, Rsa-Since-First-Attempt, Rsa-Retry-Reason, "
    b"X-Retry-Count"
)
PIXEL_HEADERS = [
    (b"content-type", b"image/gif"),
    (b"content-length", str(len(PIXEL)).encode()),
    (b"cache-control", b"no-store, max-age=0"),
]
_OK = orjson.dumps({"success": True})
_SOURCE_TTL = 60.0
_UNKNOWN_TTL = 5.0


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _header(scope: Scope, name: bytes) -> str | None:
    headers = scope.get("herald.headers")
    if headers is None:
        headers = scope["herald.headers"] = dict(scope["headers"])
    value = headers.get(name)
    return None if value is None else value.decode("latin-1")


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _BadRequest(400, "the client went away before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _BadRequest(
                400,
                f"the body is over {limit // 1024} KB (32 KB per message, 500 KB per batch)",
            )
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _gunzip(body: bytes, limit: int) -> bytes:
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = decompressor.decompress(body, limit + 1)
    except zlib.error as exc:
        raise _BadRequest(400, f"the body is not valid gzip: {exc}") from None
    if len(data) > limit or decompressor.unconsumed_tail:
        raise _BadRequest(
            400,
            f"the body is over {limit // 1024} KB uncompressed (32 KB per message, 500 KB "
            "per batch)",
        )
    return data


def _basic_user(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "basic":
        raise _BadRequest(401, "use HTTP Basic authentication with the write key as user name")
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeDecodeError, and non-ASCII credentials
        raise _BadRequest(401, "the Authorization header is not valid HTTP Basic") from None
    return decoded.partition(":")[0] or None


def _body_write_key(body: bytes) -> str | None:
    """`writeKey` of a JSON body (analytics.js sends it there), when it has one."""
    if b"writeKey" not in body:
        return None
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    key = document.get("writeKey") if isinstance(document, dict) else None
    return key if isinstance(key, str) else None


class TrackingApp:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()
        self.keys = TokenKeys.from_settings(self.settings)
        self.spool = Spool(self.settings.spool_dir)
        self.metrics = Metrics(self.settings.home / "run" / "tracking-metrics")
        self.publisher: EventPublisher | None = None
        self._sources: dict[str, tuple[Source | None, float]] = {}
        self._store: Any = None
        self._snippet = (STATIC / "t.js").read_bytes() if (STATIC / "t.js").exists() else b""
        self._snippet_gz = gzip.compress(self._snippet, 9, mtime=0)
        self._openapi = (Path(__file__).parent / "openapi.json").read_bytes()
        self._background: list[asyncio.Task[None]] = []
        self._id_prefix = uuid.uuid4().hex[:16]
        self._id_counter = itertools.count(1)

    def _event_id(self) -> str:
        """A new event id: unique per process start, cheaper than a UUID per request."""
        return f"{self._id_prefix}-{next(self._id_counter):x}"

    # --- ASGI ----------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            try:
                await self._route(scope, receive, send)
            except Exception:
                log.exception("unexpected error on %s %s", scope["method"], scope["path"])
                self.metrics.inc("errors")
                if scope["path"].startswith("/o/"):
                    await self._pixel(send)
                else:
                    await self._json(
                        send, 400, {"success": False, "error": "the request could not be read"}
                    )
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.start()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def start(self) -> None:
        self.publisher = EventPublisher(
            self.settings.broker, self.settings.events_queue, self.spool
        )
        await self.publisher.start()
        self._background.append(asyncio.create_task(self._write_metrics()))

    async def stop(self) -> None:
        for task in self._background:
            task.cancel()
        if self.publisher is not None:
            await self.publisher.close()
        self._save_metrics()

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        if path.startswith("/o/"):
            await self._open(scope, path[3:], send)
        elif path.startswith("/v1/projects/") and path.endswith("/settings"):
            await self._sdk_settings(scope, path[len("/v1/projects/") : -len("/settings")], send)
        elif path.startswith("/sourceConfig") and method == "OPTIONS":
            await self._preflight(scope, send, b"GET, HEAD, OPTIONS")
        elif path.startswith("/sourceConfig"):
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            await self._sdk_source_config(scope, (query.get("writeKey") or [""])[0], send)
        elif path.startswith("/v1/"):
            call = CALLS.get(path)
            if call is None:
                await self._json(send, 404, {"success": False, "error": f"no such call {path}"})
            elif method == "OPTIONS":
                await self._preflight(scope, send)
            elif method != "POST":
                await self._json(send, 405, {"success": False, "error": "use POST"})
            else:
                await self._segment(call, scope, receive, send)
        elif path.startswith("/c/") and method in ("GET", "HEAD"):
            await self._click(scope, path[3:], send)
        elif path.startswith("/u/") and method in ("GET", "POST"):
            await self._unsubscribe(scope, path[3:], receive, send)
        elif path.startswith("/v/") and method == "GET":
            await self._web_version(scope, path[3:], send)
        elif path == "/t.js" and method in ("GET", "HEAD"):
            await self._snippet_response(scope, send)
        elif path == "/health":
            await self._health(send)
        elif path == "/metrics":
            await self._metrics(send)
        elif path == "/openapi.json":
            await self._respond(send, 200, self._openapi, b"application/json")
        else:
            await self._json(send, 404, {"success": False, "error": f"no such page {path}"})

    # --- responses -----------------------------------------------------------------------
    @staticmethod
    async def _respond(
        send: Send,
        status: int,
        body: bytes,
        content_type: bytes,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
        if extra:
            headers.extend(extra)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _json(
        self, send: Send, status: int, document: Any, extra: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        await self._respond(send, status, orjson.dumps(document), b"application/json", extra)

    async def _html(self, send: Send, status: int, body: bytes) -> None:
        await self._respond(
            send,
            status,
            body,
            b"text/html; charset=utf-8",
            [(b"cache-control", b"no-store"), (b"x-robots-tag", b"noindex")],
        )

    @staticmethod
    async def _pixel(send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": PIXEL_HEADERS})
        await send({"type": "http.response.body", "body": PIXEL})

    @staticmethod
    def _cors(scope: Scope) -> list[tuple[bytes, bytes]]:
        origin = _header(scope, b"origin")
        if not origin:
            return []
        return [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-credentials", b"true"),
            (b"vary", b"Origin"),
        ]

    async def _preflight(self, scope: Scope, send: Send, methods: bytes = b"POST, OPTIONS") -> None:
        headers = [
            *self._cors(scope),
            (b"access-control-allow-methods", methods),
            (b"access-control-allow-headers", CORS_HEADERS),
            (b"access-control-max-age", b"86400"),
            (b"content-length", b"0"),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    # --- durability ----------------------------------------------------------------------
    async def _keep(self, envelope: bytes) -> bool:
        """True once the envelope is durable (confirmed or spooled)."""
        if self.publisher is None:
            return False
        try:  # the publisher always settles: confirmed, spooled or DurabilityError
            outcome = await self.publisher.publish(envelope)
        except DurabilityError:
            self.metrics.inc("failed")
            return False
        if outcome == "spooled":
            self.metrics.inc("spooled")
        return True

    @staticmethod
    def _client(scope: Scope) -> tuple[str | None, str | None]:
        client = scope.get("client")
        return (client[0] if client else None), _header(scope, b"user-agent")

    # --- the Segment API -----------------------------------------------------------------
    async def _source(self, write_key: str) -> Source | None:
        now = time.monotonic()
        cached = self._sources.get(write_key)
        if cached is not None and cached[1] > now:
            return cached[0]
        if self._store is None:
            from herald.store import create_store_engine

            self._store = create_store_engine(self.settings.database_url)
        source = await asyncio.to_thread(find_source, self._store, write_key)
        if len(self._sources) > 10_000:
            self._sources.clear()
        self._sources[write_key] = (source, now + (_SOURCE_TTL if source else _UNKNOWN_TTL))
        return source

    async def _segment(self, call: str, scope: Scope, receive: Receive, send: Send) -> None:
        cors = self._cors(scope)
        limit = MAX_BATCH_BYTES if call == "batch" else MAX_EVENT_BYTES
        source: Source | None = None
        try:
            write_key = _basic_user(_header(scope, b"authorization"))
            if write_key is not None:
                source = await self._authorized(write_key)
            encoding = (_header(scope, b"content-encoding") or "").lower()
            body = await _read_body(receive, MAX_BATCH_BYTES if encoding else limit)
            if encoding == "gzip":
                body = _gunzip(body, limit)
            elif encoding not in ("", "identity"):
                raise _BadRequest(415, f"Content-Encoding {encoding!r}: send gzip or nothing")
            if source is None:  # the key travels in the body (analytics.js, sendBeacon)
                source = await self._authorized(_body_write_key(body))
        except _BadRequest as exc:
            self.metrics.inc("unauthorized" if exc.status == 401 else "rejected_requests")
            await self._json(send, exc.status, {"success": False, "error": exc.message}, cors)
            return
        try:
            _document, events, refused = read_call(call, body)
        except SegmentError as exc:
            events = []
            refused = [(str(exc), body[:MAX_EVENT_BYTES].decode("utf-8", "replace"))]
        for event in events:
            self._identify_token(event)
        ip, user_agent = self._client(scope)
        envelope = segment_envelope(
            source=source.name,
            database=source.database,
            received_at=now_ms(),
            ip=ip,
            user_agent=user_agent,
            events=events,
        )
        if refused:  # kept with their reasons: the loader sends them to the dead-letter queue
            envelope = envelope[:-1] + b',"rejected":' + orjson.dumps(refused) + b"}"
        self.metrics.inc("received", len(events) + len(refused))
        if not await self._keep(envelope):
            await self._json(
                send,
                503,
                {"success": False, "error": "events could not be stored; retry later"},
                [*cors, (b"retry-after", b"5")],
            )
            return
        self.metrics.inc("accepted", len(events))
        self.metrics.inc("rejected", len(refused))
        reasons = [reason for reason, _ in refused]
        if refused and not events:
            self.metrics.inc("rejected_requests")
            await self._json(send, 400, {"success": False, "error": "; ".join(reasons[:20])}, cors)
        elif refused:
            await self._json(
                send,
                200,
                {"success": True, "accepted": len(events), "rejected": reasons[:100]},
                cors,
            )
        else:
            await self._respond(send, 200, _OK, b"application/json", cors)

    async def _authorized(self, write_key: str | None) -> Source:
        if not write_key:
            raise _BadRequest(
                401,
                "no write key: send it as the HTTP Basic user name (or as writeKey in the body)",
            )
        source = await self._source(write_key)
        if source is None:
            raise _BadRequest(401, "unknown or disabled write key")
        return source

    def _identify_token(self, event: dict[str, Any]) -> None:
        """A signed e-mail link's token in context.heraldToken says whose browser this is;
        the tracker alone may set context.herald."""
        context = event.get("context")
        if not context:
            return
        context.pop("herald", None)
        text = context.pop("heraldToken", None)
        if not isinstance(text, str):
            return
        try:
            token = verify_token(text, self.keys, kinds=("identify", "click"))
        except TokenError as exc:
            context["heraldTokenError"] = str(exc)
            return
        context["herald"] = {"database": token.database, "profile_id": token.profile_id}

    # --- what browser SDKs fetch before they send ---------------------------------------
    def _own_address(self, scope: Scope) -> tuple[str, str]:
        host = _header(scope, b"host") or "127.0.0.1"
        return str(scope.get("scheme") or "http"), host

    async def _sdk_settings(self, scope: Scope, write_key: str, send: Send) -> None:
        """Segment's analytics.js (analytics-next) loads `<cdnURL>/v1/projects/<key>/settings`:
        point its Segment.io destination at this tracker."""
        cors = self._cors(scope) or [(b"access-control-allow-origin", b"*")]
        if await self._source(write_key) is None:
            await self._json(send, 404, {"success": False, "error": "unknown write key"}, cors)
            return
        scheme, host = self._own_address(scope)
        settings = {
            "integrations": {
                "Segment.io": {"apiKey": write_key, "apiHost": f"{host}/v1", "protocol": scheme}
            },
            "plan": {"track": {"__default": {"enabled": True}}},
            "edgeFunction": {},
            "analyticsNextEnabled": True,
            "middlewareSettings": {},
            "enabledMiddleware": {},
            "metrics": {"sampleRate": 0},
            "legacyVideoPluginsEnabled": False,
            "remotePlugins": [],
        }
        await self._json(send, 200, settings, cors)

    async def _sdk_source_config(self, scope: Scope, write_key: str, send: Send) -> None:
        """RudderStack's JavaScript SDK loads `<configUrl>/sourceConfig/?writeKey=…`: a source
        with no destinations; its events go to the data plane URL it is given (this tracker)."""
        cors = self._cors(scope) or [(b"access-control-allow-origin", b"*")]
        source = await self._source(write_key) if write_key else None
        if source is None:
            await self._json(send, 404, {"success": False, "error": "unknown write key"}, cors)
            return
        config = {
            "isHosted": False,
            "source": {
                "id": source.name,
                "name": source.name,
                "writeKey": write_key,
                "workspaceId": "herald",
                "enabled": True,
                "config": {},
                "destinations": [],
            },
        }
        await self._json(send, 200, config, cors)

    # --- message tracking ----------------------------------------------------------------
    def _message(
        self, scope: Scope, event_type: str, token: TrackingToken, url: str | None = None
    ) -> bytes:
        ip, user_agent = self._client(scope)
        return message_envelope(
            event_type=event_type,
            event_id=self._event_id(),
            token=token.payload(),
            received_at=now_ms(),
            ip=ip,
            user_agent=user_agent,
            method=scope["method"],
            url=url,
        )

    async def _open(self, scope: Scope, text: str, send: Send) -> None:
        try:
            token = verify_token(text.removesuffix(".gif"), self.keys, kinds=("open",))
            self.metrics.inc("opens")
            await self._keep(self._message(scope, "opened", token))
        except TokenError:
            self.metrics.inc("bad_tokens")
        except Exception:
            log.exception("open pixel")
            self.metrics.inc("errors")
        await self._pixel(send)

    async def _click(self, scope: Scope, text: str, send: Send) -> None:
        try:
            token = verify_token(text, self.keys, kinds=("click",))
        except TokenError as exc:
            self.metrics.inc("bad_tokens")
            await self._html(send, 400, pages.broken_link("en", str(exc)))
            return
        url = token.url or ""
        self.metrics.inc("clicks")
        await self._keep(self._message(scope, "clicked", token, url))
        await self._respond(
            send,
            302,
            b"",
            b"text/plain",
            [(b"location", url.encode("utf-8")), (b"cache-control", b"no-store")],
        )

    async def _unsubscribe(self, scope: Scope, text: str, receive: Receive, send: Send) -> None:
        try:
            token = verify_token(text, self.keys, kinds=("unsubscribe",))
        except TokenError as exc:
            self.metrics.inc("bad_tokens")
            language = language_of(_header(scope, b"accept-language"))
            await self._html(send, 400, pages.broken_link(language, str(exc)))
            return
        if scope["method"] == "GET":
            await self._html(send, 200, pages.unsubscribe_question(token.language, token.channel))
            return
        try:
            body = await _read_body(receive, 4096)
        except _BadRequest as exc:
            await self._html(send, 400, pages.broken_link(token.language, exc.message))
            return
        one_click = parse_qs(body.decode("latin-1")).get("List-Unsubscribe") == ["One-Click"]
        try:
            await asyncio.to_thread(self._apply_unsubscribe, token)
        except Exception as exc:
            log.exception("unsubscribe %s/%s", token.database, token.profile_id)
            self.metrics.inc("errors")
            await self._html(send, 400, pages.broken_link(token.language, str(exc)[:200]))
            return
        self.metrics.inc("unsubscribes")
        await self._keep(self._message(scope, "unsubscribed", token))
        if one_click:
            await self._respond(send, 200, b"unsubscribed\n", b"text/plain; charset=utf-8")
        else:
            await self._html(send, 200, pages.unsubscribed(token.language))

    def _apply_unsubscribe(self, token: TrackingToken) -> None:
        from herald.profiles.consent import set_subscription
        from herald.store import create_store_engine

        if self._store is None:
            self._store = create_store_engine(self.settings.database_url)
        set_subscription(
            self._store,
            token.database,
            token.profile_id,
            channel=token.channel,
            resource=token.resource,
            status="unsubscribed",
            reason=f"unsubscribe link of {token.campaign_run or 'a message'}",
            source="tracking",
        )

    async def _web_version(self, scope: Scope, text: str, send: Send) -> None:
        try:
            token = verify_token(text, self.keys, kinds=("view",))
        except TokenError as exc:
            self.metrics.inc("bad_tokens")
            await self._html(send, 400, pages.broken_link("en", str(exc)))
            return
        path = web_version_path(self.settings.home, token.campaign_run, token.message_id)
        if path is None or not path.is_file():
            await self._html(send, 404, pages.not_available(token.language))
            return
        await self._keep(self._message(scope, "viewed", token))
        await self._respond(
            send,
            200,
            path.read_bytes(),
            b"text/html; charset=utf-8",
            [
                (b"cache-control", b"private, no-store"),
                (b"content-security-policy", b"sandbox allow-popups allow-top-navigation"),
            ],
        )

    # --- the rest ------------------------------------------------------------------------
    async def _snippet_response(self, scope: Scope, send: Send) -> None:
        gzip_ok = "gzip" in (_header(scope, b"accept-encoding") or "")
        body = self._snippet_gz if gzip_ok else self._snippet
        extra = [(b"cache-control", b"public, max-age=3600"), (b"vary", b"Accept-Encoding")]
        if gzip_ok:
            extra.append((b"content-encoding", b"gzip"))
        await self._respond(send, 200, body, b"application/javascript; charset=utf-8", extra)

    async def _health(self, send: Send) -> None:
        up = self.publisher is not None and self.publisher.connected
        spooled = await asyncio.to_thread(self.spool.count)
        await self._json(
            send,
            200,
            {"status": "ok", "broker": "up" if up else "down", "spooled_bundles": spooled},
        )

    async def _metrics(self, send: Send) -> None:
        self._save_metrics()
        depth = await self.publisher.queue_depth() if self.publisher is not None else None
        spooled = await asyncio.to_thread(self.spool.count)
        text = self.metrics.exposition(queue_depth=depth, spooled_bundles=spooled)
        await self._respond(send, 200, text.encode(), b"text/plain; version=0.0.4; charset=utf-8")

    def _save_metrics(self) -> None:
        if self.publisher is not None:
            self.metrics.set_gauge("broker_up", 1 if self.publisher.connected else 0)
        self.metrics.save()

    async def _write_metrics(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                await asyncio.to_thread(self._save_metrics)
            except OSError as exc:
                log.warning("cannot write metrics: %s", exc)


def create_app() -> TrackingApp:
    """The app for `uvicorn --factory` (settings from the environment)."""
    logging.basicConfig(level=os.environ.get("HERALD_LOG_LEVEL", "WARNING"))
    return TrackingApp()
