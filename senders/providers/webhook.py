"""The webhook (custom channel) provider: a signed JSON POST to the customer's own endpoint.

    provider = WebhookProvider(WebhookConfig(url="https://hooks.shop.example/herald",
                                             secret="whsec-..."))
    result = await provider.send(outbound)      # outbound.content["body"]: a JSON object
    await provider.close()

Each message is one `POST <url>` of `content["body"]` as compact JSON, with the headers

    Content-Type: application/json
    User-Agent: Herald/<version>
    Idempotency-Key: <message key>          same on every retry: receivers dedupe with it
    Herald-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>

The signature follows Stripe's scheme. A receiver checks it on the raw body, before parsing:

    from senders.providers.webhook import verify_webhook_signature
    if not verify_webhook_signature(SECRET, request.headers["Herald-Signature"], raw_body):
        return 400

or, without Herald installed (Python): split the header on ",", take `t` and every `v1`,
compute `hmac.new(secret, f"{t}.".encode() + raw_body, "sha256").hexdigest()`, compare with
`hmac.compare_digest`, and refuse a `t` more than 5 minutes away from now (replays).

Outcomes (senders/http_results.py): a 2xx is acceptance, whatever the body says; 408, 429
and 5xx are deferred (`Retry-After` honoured, see `retry_after_of`); other 4xx, 410 included,
are failed: the URL is the endpoint's, not the recipient's, so a 410 says the endpoint is
gone, which is a configuration problem and no reason to suppress a profile; 3xx is failed
(redirects are not followed); no answer (timeout, refused, hung up) is deferred naming
host:port. A body that is not a JSON object fails before anything is sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from herald.errors import HeraldError
from senders.channel import DeliveryResult, OutboundMessage
from senders.http_results import (
    classify_status,
    failed,
    host_port,
    parse_retry_after,
    pooled_client,
    post,
    transport_result,
)

SIGNATURE_HEADER = "Herald-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
SIGNATURE_TOLERANCE = 300  # seconds between signing and verifying that a receiver accepts
_OWN_HEADERS = frozenset(
    name.lower()
    for name in (
        "Content-Type",
        "Content-Length",
        "Host",
        "User-Agent",
        SIGNATURE_HEADER,
        IDEMPOTENCY_HEADER,
    )
)


class WebhookConfigError(HeraldError):
    """A webhook's URL, secret or limits are unusable."""


class WebhookBodyError(HeraldError):
    """A message's body is not a JSON object that can be sent."""


@dataclass(frozen=True)
class WebhookConfig:
    """Where a webhook goes and how: `headers` are extra ones (an API key of the receiver's)."""

    url: str
    secret: str = field(repr=False)
    timeout: float = 10.0
    max_connections: int = 20
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            parsed = httpx.URL(self.url)
        except httpx.InvalidURL as error:
            raise WebhookConfigError(f"webhook url {self.url!r}: {error}") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise WebhookConfigError(f"webhook url {self.url!r} is not an http(s) address")
        if not self.secret:
            raise WebhookConfigError("webhook secret is empty: every webhook is signed")
        if self.timeout <= 0 or self.max_connections < 1:
            raise WebhookConfigError("webhook timeout and max_connections must be positive")
        clashing = sorted(name for name in self.headers if name.lower() in _OWN_HEADERS)
        if clashing:
            raise WebhookConfigError(f"webhook headers set by Herald itself: {clashing}")


def encode_body(content: Mapping[str, Any]) -> bytes:
    """The compact JSON of `content["body"]`; WebhookBodyError if it is not a JSON object."""
    body = content.get("body")
    if not isinstance(body, dict):
        raise WebhookBodyError(f"content['body'] is {type(body).__name__}, not a JSON object")
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError as error:
        raise WebhookBodyError(f"content['body'] is not JSON: {error}") from None


def sign_webhook(secret: str, body: bytes, timestamp: int) -> str:
    """The `Herald-Signature` header value for `body` signed at `timestamp` (Unix seconds)."""
    return f"t={timestamp},v1={_signature(secret, body, timestamp)}"


def verify_webhook_signature(
    secret: str,
    header: str,
    body: bytes,
    tolerance: int = SIGNATURE_TOLERANCE,
    *,
    now: float | None = None,
) -> bool:
    """Whether `header` signs exactly `body` with `secret`, within `tolerance` seconds of now."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = _signature(secret, body, timestamp)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


def _signature(secret: str, body: bytes, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


class WebhookProvider:
    """POSTs each message to one endpoint over one pooled keep-alive client."""

    channel = "webhook"

    def __init__(self, config: WebhookConfig) -> None:
        self.config = config
        self._where = host_port(config.url)
        self._client = pooled_client(
            timeout=config.timeout,
            max_connections=config.max_connections,
            headers=dict(config.headers),
        )

    async def send(self, message: OutboundMessage) -> DeliveryResult:
        try:
            body = encode_body(message.content)
        except WebhookBodyError as error:
            return failed(f"not sent: {error}", bounce_type="content")
        headers = {
            "Content-Type": "application/json",
            IDEMPOTENCY_HEADER: message.key,
            SIGNATURE_HEADER: sign_webhook(self.config.secret, body, int(time.time())),
        }
        try:
            async with asyncio.timeout(self.config.timeout):
                answer = await post(self._client, self.config.url, body, headers)
        except (httpx.RequestError, TimeoutError) as error:
            return transport_result(error, where=self._where, timeout=self.config.timeout)
        return classify_status(
            answer.status,
            where=self._where,
            answer=answer.text(),
            retry_after=parse_retry_after(answer.headers.get("retry-after")),
        )

    async def flush(self) -> None:
        """Nothing is buffered: each send is one request."""

    async def close(self) -> None:
        await self._client.aclose()
