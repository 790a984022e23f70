"""The tracking benchmark's baseline: a raw ASGI app (no framework) that answers as Herald's
tracker does, and does nothing else.

    uvicorn tests.benchmarks.bare_tracking_app:app --workers 2 --loop uvloop --http httptools \
        --no-access-log --log-level warning --port PORT

GET /o/<anything>               200 image/gif, `cache-control: no-store, max-age=0`, the
                                43-byte transparent GIF
POST /v1/track, POST /v1/batch  200 application/json `{"success":true}`, after reading the
                                request body whole
GET /health                     200 application/json `{"ok":true}` (for the start-up wait)
anything else                   404
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

TRANSPARENT_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
SUCCESS = b'{"success":true}'
HEALTHY = b'{"ok":true}'

PIXEL_HEADERS = [
    (b"content-type", b"image/gif"),
    (b"cache-control", b"no-store, max-age=0"),
    (b"content-length", str(len(TRANSPARENT_GIF)).encode()),
]
SUCCESS_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(SUCCESS)).encode()),
]
HEALTHY_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(HEALTHY)).encode()),
]
NOT_FOUND_HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"9")]


async def _respond(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive) -> None:
    """Read the request body to its end, as the tracker must before it answers."""
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    method, path = scope["method"], scope["path"]
    if method == "GET" and path.startswith("/o/"):
        await _respond(send, 200, PIXEL_HEADERS, TRANSPARENT_GIF)
    elif method == "POST" and path in ("/v1/track", "/v1/batch"):
        await _read_body(receive)
        await _respond(send, 200, SUCCESS_HEADERS, SUCCESS)
    elif method == "GET" and path == "/health":
        await _respond(send, 200, HEALTHY_HEADERS, HEALTHY)
    else:
        await _respond(send, 404, NOT_FOUND_HEADERS, b"not found")
