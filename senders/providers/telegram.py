"""The Telegram provider: one Bot API `sendMessage` call per message.

    provider = TelegramProvider(TelegramConfig(token=settings.telegram_bot_token))
    result = await provider.send(outbound)     # content: text, parse_mode, buttons, link preview
    await provider.close()

What goes out (https://core.telegram.org/bots/api#sendmessage, #making-requests):
`POST {api_base}/bot<token>/sendMessage` with a JSON body

    {"chat_id": 123456789 | "@channel", "text": "...", "parse_mode": "HTML",
     "link_preview_options": {"is_disabled": true},
     "reply_markup": {"inline_keyboard": [[{"text": "Open", "url": "https://..."}],
                                          [{"text": "Stop", "callback_data": "unsub:42"}]]}}

built from the message's content: "text" (required), "parse_mode" ("HTML" by default; None
sends plain text), "buttons" (rows of {"text", "url"} or {"text", "callback_data"}),
"link_preview_options" (a LinkPreviewOptions object, passed as it is) or
"disable_link_preview": true. `send_message_payload` checks what the Bot API documents before
anything is sent: text of 1-4096 characters (for HTML, the visible text: tags removed,
entities decoded), button text not empty, button url http, https or tg://, callback_data of
1-64 bytes, exactly one of url or callback_data. A violation is `failed` ("content") with
the reason, and the API is not called.

How answers map (`{"ok": true, "result": {"message_id": 42, ...}}` or `{"ok": false,
"error_code": 403, "description": "...", "parameters": {"retry_after": 5}}`):
- ok: sent, `provider_id` the message_id (an ok without one is still sent: Telegram took it);
- 429: deferred, "throttled", `retry_after=<s>` from parameters.retry_after (see
  senders/http_results.py);
- 403 "bot was blocked by the user", "user is deactivated", "bot was kicked", "bot can't
  initiate conversation", ... and 400 "chat not found", a group upgraded to a supergroup
  (`migrate_to_chat_id` in the diagnostic): bounced, hard: the chat is gone for this bot;
- other 400 ("can't parse entities", ...): failed, "content"; other 403: failed, "policy";
  401/404 (a wrong token): failed, "auth"; all with Telegram's description;
- 5xx: deferred, "soft";
- an answer that is not the Bot API's JSON ("garbage answer"): the Bot API answers every
  request with that JSON, so another server answered (a proxy, a captive portal, a wrong
  api_base). After a 2xx it is deferred: the message most likely never reached Telegram, and
  losing it is worse than the rare duplicate; after a 4xx it is failed, after a 5xx deferred.
- no answer (timeout, refused, reset): deferred, "network", naming host:port.

The bot token is part of every request's path; it is never put in a diagnostic, and a
logging filter hides it in httpx's request log lines ("HTTP Request: POST .../bot<token>/...").

Rate limits are Telegram's (Bots FAQ): about 30 messages a second per bot, 1 a second per
chat, 20 a minute per group; the constants below feed senders/limits.py, which enforces them.

The tests (tests/unit/test_sender_telegram.py) run against a local fake Bot API server that
checks requests and answers in the documented format: Telegram itself cannot be reached here.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import orjson

from herald.errors import HeraldError
from senders.channel import DeliveryResult, OutboundMessage, one_line
from senders.http_results import (
    HttpAnswer,
    classify_status,
    deferred,
    failed,
    host_port,
    parse_retry_after,
    pooled_client,
    post,
    transport_result,
)

DEFAULT_API_BASE = "https://api.telegram.org"
MESSAGES_PER_SECOND_PER_BOT = 30  # broadcast to many chats, free tier
MESSAGES_PER_SECOND_PER_CHAT = 1
MESSAGES_PER_MINUTE_PER_GROUP = 20
MAX_TEXT_CHARS = 4096
MAX_CALLBACK_DATA_BYTES = 64
PARSE_MODES = frozenset({"HTML", "MarkdownV2", "Markdown"})

# Descriptions that say this bot can never reach the chat again: the address is suppressed.
_GONE_CHAT = (
    "bot was blocked by the user",
    "user is deactivated",
    "bot was kicked",
    "bot is not a member",
    "bot can't initiate conversation",
    "bot can't send messages to bots",
    "chat not found",
    "user not found",
    "peer_id_invalid",
    "group chat was upgraded",
)
_CHAT_ID = re.compile(r"-?\d{1,20}")
_CHANNEL_NAME = re.compile(r"@[A-Za-z0-9_]{4,64}")
_TAG = re.compile(r"<[^>]*>")
_TOKEN_IN_PATH = re.compile(r"/bot[^/\s\"']+/")


class TelegramConfigError(HeraldError):
    """The bot token or API base URL is unusable."""


class TelegramMessageError(HeraldError):
    """A message breaks the Bot API's documented limits; it is not sent."""


@dataclass(frozen=True)
class TelegramConfig:
    """One bot: its token (secret: never shown) and where its Bot API is."""

    token: str = field(repr=False)
    api_base: str = DEFAULT_API_BASE
    timeout: float = 10.0
    max_connections: int = MESSAGES_PER_SECOND_PER_BOT

    def __post_init__(self) -> None:
        if not self.token or any(char.isspace() or char in "/?#" for char in self.token):
            raise TelegramConfigError("telegram bot token is empty or malformed")
        if not self.api_base.startswith(("http://", "https://")):
            raise TelegramConfigError(f"telegram api base {self.api_base!r} is not http(s)")
        if self.timeout <= 0 or self.max_connections < 1:
            raise TelegramConfigError("telegram timeout and max_connections must be positive")


def send_message_payload(recipient: str, content: Mapping[str, Any]) -> dict[str, Any]:
    """The sendMessage JSON object for one message; TelegramMessageError if it breaks a limit."""
    payload: dict[str, Any] = {"chat_id": _chat_id(recipient)}
    text = content.get("text")
    parse_mode = content.get("parse_mode", "HTML")
    if parse_mode is not None and parse_mode not in PARSE_MODES:
        raise TelegramMessageError(f"parse_mode {parse_mode!r} is not one of {sorted(PARSE_MODES)}")
    if not isinstance(text, str):
        raise TelegramMessageError("text is missing")
    length = visible_length(text, parse_mode)
    if not text.strip() or length > MAX_TEXT_CHARS:
        raise TelegramMessageError(
            f"text is {length} characters; Telegram takes 1-{MAX_TEXT_CHARS}"
        )
    payload["text"] = text
    if parse_mode is not None:
        payload["parse_mode"] = parse_mode
    link_preview = content.get("link_preview_options")
    if link_preview is not None:
        if not isinstance(link_preview, dict):
            raise TelegramMessageError("link_preview_options is not an object")
        payload["link_preview_options"] = link_preview
    elif content.get("disable_link_preview"):
        payload["link_preview_options"] = {"is_disabled": True}
    buttons = content.get("buttons")
    if buttons:
        payload["reply_markup"] = {"inline_keyboard": inline_keyboard(buttons)}
    return payload


def visible_length(text: str, parse_mode: str | None) -> int:
    """Characters Telegram counts: for HTML the text without tags, entities decoded."""
    if parse_mode == "HTML":
        return len(html.unescape(_TAG.sub("", text)))
    return len(text)


def inline_keyboard(rows: Any) -> list[list[dict[str, str]]]:
    """Rows of {text, url} / {text, callback_data} checked against InlineKeyboardButton."""
    if not isinstance(rows, list) or not all(isinstance(row, list) and row for row in rows):
        raise TelegramMessageError("buttons must be a list of non-empty rows (lists)")
    return [[_button(button, place) for place, button in enumerate(row, 1)] for row in rows]


def _button(button: Any, place: int) -> dict[str, str]:
    if not isinstance(button, dict):
        raise TelegramMessageError(f"button {place} is not an object")
    text, url, data = button.get("text"), button.get("url"), button.get("callback_data")
    if not isinstance(text, str) or not text.strip():
        raise TelegramMessageError(f"button {place} has no text")
    if (url is None) == (data is None):
        raise TelegramMessageError(f"button {text!r} needs exactly one of url or callback_data")
    if url is not None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://", "tg://")):
            raise TelegramMessageError(f"button {text!r}: url must be http(s):// or tg://")
        return {"text": text, "url": url}
    if not isinstance(data, str):
        raise TelegramMessageError(f"button {text!r}: callback_data is not a string")
    size = len(data.encode())
    if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
        raise TelegramMessageError(
            f"button {text!r}: callback_data is {size} bytes; Telegram takes 1-64"
        )
    return {"text": text, "callback_data": data}


def _chat_id(recipient: str) -> int | str:
    if _CHAT_ID.fullmatch(recipient):
        return int(recipient)
    if _CHANNEL_NAME.fullmatch(recipient):
        return recipient
    raise TelegramMessageError(f"recipient {recipient!r} is not a chat id or @channelusername")


def classify_answer(answer: HttpAnswer, *, where: str) -> DeliveryResult:
    """A Bot API answer as an outcome (the mapping in this module's docstring)."""
    reply = _bot_api_reply(answer.body)
    if reply is None:
        said = f"garbage answer from {where}: not the Bot API's JSON, another server answered"
        if 200 <= answer.status < 300:
            return deferred(
                f"{said} (HTTP {answer.status}): {answer.text()}",
                code=answer.status,
                bounce_type="network",
            )
        return classify_status(
            answer.status,
            where=where,
            answer=f"garbage answer (not the Bot API's JSON): {answer.text()}",
            retry_after=parse_retry_after(answer.headers.get("retry-after")),
        )
    if reply["ok"] is True:
        return _accepted(reply, answer.status)
    code = reply.get("error_code")
    code = code if isinstance(code, int) else answer.status
    description = str(reply.get("description") or "no description")
    parameters = reply.get("parameters")
    parameters = parameters if isinstance(parameters, dict) else {}
    said = f"Telegram {code}: {description}"
    if code == 429:
        retry_after = parameters.get("retry_after")
        if not isinstance(retry_after, int):
            retry_after = parse_retry_after(answer.headers.get("retry-after"))
        return deferred(said, code=code, retry_after=retry_after, bounce_type="throttled")
    if code >= 500:
        return deferred(said, code=code)
    if code in (400, 403) and any(gone in description.lower() for gone in _GONE_CHAT):
        if "migrate_to_chat_id" in parameters:
            said += f" (migrate_to_chat_id={parameters['migrate_to_chat_id']})"
        return DeliveryResult("bounced", code=code, diagnostic=one_line(said), bounce_type="hard")
    if code in (401, 404):
        return failed(f"{said} (the bot token was refused)", code=code, bounce_type="auth")
    return failed(said, code=code, bounce_type="policy" if code == 403 else "content")


def _bot_api_reply(body: bytes) -> dict[str, Any] | None:
    try:
        reply = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
        return None
    return reply


def _accepted(reply: dict[str, Any], status: int) -> DeliveryResult:
    result = reply.get("result")
    message_id = result.get("message_id") if isinstance(result, dict) else None
    if not isinstance(message_id, int):
        return DeliveryResult("sent", code=status, diagnostic="ok, but no message_id in result")
    return DeliveryResult("sent", code=status, provider_id=str(message_id))


class _HideBotToken(logging.Filter):
    """Replaces `/bot<token>/` in httpx's request log lines with `/bot<hidden>/`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/bot" in message:
            record.msg = _TOKEN_IN_PATH.sub("/bot<hidden>/", message)
            record.args = ()
        return True


def _hide_token_in_logs() -> None:
    httpx_log = logging.getLogger("httpx")
    if not any(isinstance(existing, _HideBotToken) for existing in httpx_log.filters):
        httpx_log.addFilter(_HideBotToken())


class TelegramProvider:
    """Sends each message with one sendMessage call over one pooled keep-alive client."""

    channel = "telegram"

    def __init__(self, config: TelegramConfig) -> None:
        self.config = config
        self._url = f"{config.api_base.rstrip('/')}/bot{config.token}/sendMessage"
        self._where = host_port(config.api_base)
        self._client = pooled_client(timeout=config.timeout, max_connections=config.max_connections)
        _hide_token_in_logs()

    async def send(self, message: OutboundMessage) -> DeliveryResult:
        try:
            payload = send_message_payload(message.recipient, message.content)
        except TelegramMessageError as error:
            return failed(f"not sent: {error}", bounce_type="content")
        headers = {"Content-Type": "application/json"}
        try:
            async with asyncio.timeout(self.config.timeout):
                answer = await post(self._client, self._url, orjson.dumps(payload), headers)
        except (httpx.RequestError, TimeoutError) as error:
            result = transport_result(error, where=self._where, timeout=self.config.timeout)
        else:
            result = classify_answer(answer, where=self._where)
        return self._without_token(result)

    def _without_token(self, result: DeliveryResult) -> DeliveryResult:
        if self.config.token not in result.diagnostic:
            return result
        return replace(result, diagnostic=result.diagnostic.replace(self.config.token, "<hidden>"))

    async def flush(self) -> None:
        """Nothing is buffered: each send is one request."""

    async def close(self) -> None:
        await self._client.aclose()
