"""The channel interface every provider implements, and what a delivery attempt returns.

    provider = SmtpProvider(route)                     # or WebhookProvider, TelegramProvider
    result = await provider.send(outbound)             # one attempt, classified
    await provider.flush(); await provider.close()

The pipeline (senders/worker.py) knows only this interface: it hands a provider an
`OutboundMessage` already rendered for its channel and records the `DeliveryResult`. A new
channel is a new provider class registered in senders/providers/__init__.py; the pipeline
does not change.

Outcomes:
- `sent`: the provider accepted the message (SMTP 250, HTTP 2xx, Telegram ok=true).
- `deferred`: a temporary failure; the pipeline retries it by the destination's schedule.
- `bounced`: a permanent refusal of the recipient (SMTP 5xx for the address); the address
  is suppressed when `bounce_type` is `hard`.
- `failed`: a permanent failure of this message that says nothing about the address (a
  message the provider refuses, a malformed answer, a bad address that never left).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Outcome = Literal["sent", "deferred", "bounced", "failed"]
OUTCOMES: tuple[Outcome, ...] = ("sent", "deferred", "bounced", "failed")


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One rendered message for one recipient on one channel.

    `key` is the idempotency key (senders/keys.py); `recipient` is the channel's address
    (an e-mail address, a Telegram chat id, a webhook's profile id); `destination` is what
    delivery rules group by (the recipient's domain for e-mail, the provider name otherwise).
    `content` is the channel's rendered parts: for e-mail the complete RFC 5322 message
    (bytes, DKIM-signed) under "message" and the envelope sender under "mail_from"; for
    Telegram "text", "parse_mode", "buttons"; for a webhook the JSON document under "body".
    """

    key: str
    channel: str
    recipient: str
    destination: str
    content: dict[str, Any]
    message_id: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What one attempt came to, with the provider's own words for it.

    `code` is the SMTP reply code or HTTP status; `status` the RFC 3463 enhanced status
    (e.g. "5.1.1") when there is one; `diagnostic` the provider's text (one line, at most
    500 characters); `bounce_type` one of senders/bounces.py's classes for bounced and
    deferred results; `provider_id` the provider's id for the message when it gives one.
    """

    outcome: Outcome
    code: int | None = None
    status: str | None = None
    diagnostic: str = ""
    bounce_type: str | None = None
    provider_id: str | None = None

    @property
    def permanent(self) -> bool:
        return self.outcome in ("bounced", "failed")


class Provider(Protocol):
    """A channel provider: small, stateful (connections), used by one asyncio loop."""

    channel: str

    async def send(self, message: OutboundMessage) -> DeliveryResult:
        """Deliver one message; never raise for a delivery problem, return its result."""
        ...

    async def flush(self) -> None:
        """Finish whatever the provider buffers (a batch call, a pipelined transaction)."""
        ...

    async def close(self) -> None:
        """Release connections; the provider is not used after this."""
        ...


def one_line(text: str, limit: int = 500) -> str:
    """A provider's answer as one line for a result's diagnostic."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
