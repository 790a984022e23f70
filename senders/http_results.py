"""HTTP answers as delivery outcomes, shared by the HTTP providers (webhook, Telegram, ...).

    client = pooled_client(timeout=10.0, max_connections=20)
    try:
        async with asyncio.timeout(10.0):
            answer = await post(client, url, body, headers)
    except (httpx.RequestError, TimeoutError) as error:
        return transport_result(error, where=host_port(url), timeout=10.0)
    result = classify_status(answer.status, where=host_port(url), answer=answer.text(),
                             retry_after=parse_retry_after(answer.headers.get("retry-after")))
    retry_after_of(result)                      # 7 after "429 Too Many Requests, Retry-After: 7"

The rules, for an endpoint that speaks plain HTTP:
- 2xx: sent (for a webhook, a 2xx is acceptance, whatever the body says);
- 408 and 5xx: deferred, "soft"; 429: deferred, "throttled". A `Retry-After` (seconds or
  an HTTP date) makes any deferral "throttled" and starts its diagnostic with
  `retry_after=<seconds>; `, which `retry_after_of` reads back (DeliveryResult has no field
  for it);
- 3xx: failed (redirects are not followed: a POST must not be replayed elsewhere silently);
- other 4xx: failed: the endpoint refuses this message; nothing says the recipient is gone
  (401 and 403: bounce type "auth", our credentials);
- a timeout, a refused or reset connection, a server that hangs up without answering:
  deferred, "network", with a diagnostic naming host:port. The request may have arrived, so
  receivers dedupe by the `Idempotency-Key` header and the retry is safe.
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from importlib.metadata import PackageNotFoundError, version

import httpx

from senders.channel import DeliveryResult, one_line

ANSWER_LIMIT = 64 * 1024  # bytes of an answer kept; the rest is not read
_RETRY_AFTER = re.compile(r"\bretry_after=(\d+)\b")


def _herald_version() -> str:
    try:
        return version("herald")
    except PackageNotFoundError:
        return "0"


USER_AGENT = f"Herald/{_herald_version()}"


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """An endpoint's answer: status, headers and the first ANSWER_LIMIT bytes of the body."""

    status: int
    headers: httpx.Headers
    body: bytes

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def pooled_client(
    *, timeout: float, max_connections: int, headers: Mapping[str, str] | None = None
) -> httpx.AsyncClient:
    """One keep-alive connection pool for one provider; redirects are not followed."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout),
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
        ),
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        follow_redirects=False,
        trust_env=False,
    )


async def post(
    client: httpx.AsyncClient, url: str, body: bytes, headers: Mapping[str, str]
) -> HttpAnswer:
    """POST `body` and read at most ANSWER_LIMIT bytes of the answer."""
    async with client.stream("POST", url, content=body, headers=dict(headers)) as response:
        kept = bytearray()
        async for chunk in response.aiter_raw():
            kept += chunk
            if len(kept) >= ANSWER_LIMIT:
                break
        return HttpAnswer(response.status_code, response.headers, bytes(kept[:ANSWER_LIMIT]))


def host_port(url: str | httpx.URL) -> str:
    """`host:port` of a URL, for diagnostics (never its path, which may hold a secret)."""
    parsed = httpx.URL(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return f"{parsed.host}:{port}"


def parse_retry_after(value: str | None, *, now: float | None = None) -> int | None:
    """Seconds to wait from a `Retry-After` value (delay-seconds or an HTTP date), or None."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0, math.ceil(when.timestamp() - current))


def retry_after_of(result: DeliveryResult) -> int | None:
    """The delay a throttled or deferred result asks for, in seconds, or None."""
    match = _RETRY_AFTER.search(result.diagnostic)
    return int(match.group(1)) if match else None


def deferred(
    diagnostic: str,
    *,
    code: int | None = None,
    retry_after: int | None = None,
    bounce_type: str = "soft",
) -> DeliveryResult:
    """A temporary failure (senders/bounces.py's types): "throttled" whenever there is a
    delay, and then the diagnostic starts with `retry_after=<seconds>; `."""
    if retry_after is not None:
        diagnostic = f"retry_after={retry_after}; {diagnostic}"
        bounce_type = "throttled"
    return DeliveryResult(
        "deferred", code=code, diagnostic=one_line(diagnostic), bounce_type=bounce_type
    )


def failed(
    diagnostic: str, *, code: int | None = None, bounce_type: str | None = None
) -> DeliveryResult:
    """A permanent failure of this message, saying nothing about the recipient."""
    return DeliveryResult(
        "failed", code=code, diagnostic=one_line(diagnostic), bounce_type=bounce_type
    )


def classify_status(
    status: int, *, where: str, answer: str = "", retry_after: int | None = None
) -> DeliveryResult:
    """A plain HTTP endpoint's status as an outcome (the rules in this module's docstring)."""
    said = f"HTTP {status} {_reason(status)} from {where}"
    if answer.strip():
        said += f": {answer}"
    if 200 <= status < 300:
        return DeliveryResult("sent", code=status, diagnostic=one_line(said))
    if status == 429:
        return deferred(said, code=status, retry_after=retry_after, bounce_type="throttled")
    if status == 408 or status >= 500:
        return deferred(said, code=status, retry_after=retry_after)
    return failed(said, code=status, bounce_type="auth" if status in (401, 403) else None)


def transport_result(error: Exception, *, where: str, timeout: float) -> DeliveryResult:
    """A request that got no HTTP answer: deferred ("network"), naming the host and what
    went wrong."""
    return deferred(_no_answer(error, where=where, timeout=timeout), bounce_type="network")


def _no_answer(error: Exception, *, where: str, timeout: float) -> str:
    if isinstance(error, httpx.ConnectTimeout):
        return f"no connection to {where} within {timeout:g}s"
    if isinstance(error, TimeoutError | httpx.TimeoutException) and not isinstance(
        error, httpx.PoolTimeout
    ):
        return f"no answer from {where} within {timeout:g}s"
    if isinstance(error, httpx.PoolTimeout):
        return f"no free connection to {where} within {timeout:g}s (pool full)"
    if isinstance(error, httpx.ConnectError):
        return f"cannot connect to {where}: {error or 'connection failed'}"
    if isinstance(error, httpx.RemoteProtocolError):
        return f"{where} closed the connection without a complete answer: {error}"
    kind = type(error).__name__
    return f"{kind} talking to {where}: {error or 'no detail'}"


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
