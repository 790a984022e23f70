"""The Telegram provider against a local fake Bot API server (Telegram cannot be reached here).

The fake speaks the documented format (https://core.telegram.org/bots/api#making-requests,
#sendmessage): it accepts only `POST /bot<token>/sendMessage` with a JSON body whose fields
are sendMessage's with their documented types, and answers `{"ok": true, "result": {...}}` or
`{"ok": false, "error_code": ..., "description": ..., "parameters": {...}}` as Telegram does.
A request that breaks the format is answered 400 with the problem, so the test sending it
fails. The chat id picks the answer.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest

from senders.channel import DeliveryResult, OutboundMessage
from senders.http_results import retry_after_of
from senders.providers.telegram import (
    MESSAGES_PER_SECOND_PER_BOT,
    MESSAGES_PER_SECOND_PER_CHAT,
    TelegramConfig,
    TelegramProvider,
)

TOKEN = "123456789:AAH-fake_test_token_0123456789abcdef"
OK, BLOCKED, DEACTIVATED, NO_CHAT, BAD_ENTITIES, FLOOD, DOWN, GARBAGE, OK_NO_ID = range(1001, 1010)
UPGRADED_GROUP = -100123

SEND_MESSAGE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "business_connection_id": str,
    "chat_id": (int, str),
    "message_thread_id": int,
    "text": str,
    "parse_mode": str,
    "entities": list,
    "link_preview_options": dict,
    "disable_notification": bool,
    "protect_content": bool,
    "message_effect_id": str,
    "reply_parameters": dict,
    "reply_markup": dict,
}
LINK_PREVIEW_FIELDS = {
    "is_disabled",
    "url",
    "prefer_small_media",
    "prefer_large_media",
    "show_above_text",
}


def answer_for(chat_id: int | str) -> tuple[int, dict[str, Any] | bytes]:
    """What the Bot API answers for this chat (its documented answers for these cases)."""

    def error(code: int, description: str, **parameters: Any) -> tuple[int, dict[str, Any]]:
        reply: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if parameters:
            reply["parameters"] = parameters
        return code, reply

    answers: dict[int | str, tuple[int, dict[str, Any] | bytes]] = {
        OK: (200, {"ok": True, "result": {"message_id": 4242, "chat": {"id": OK}, "date": 1}}),
        BLOCKED: error(403, "Forbidden: bot was blocked by the user"),
        DEACTIVATED: error(403, "Forbidden: user is deactivated"),
        NO_CHAT: error(400, "Bad Request: chat not found"),
        BAD_ENTITIES: error(400, "Bad Request: can't parse entities: Unsupported start tag"),
        FLOOD: error(429, "Too Many Requests: retry after 5", retry_after=5),
        DOWN: error(500, "Internal Server Error"),
        GARBAGE: (200, b"<html><body>Welcome to the hotel Wi-Fi</body></html>"),
        OK_NO_ID: (200, {"ok": True, "result": True}),
        UPGRADED_GROUP: error(
            400,
            "Bad Request: group chat was upgraded to a supergroup chat",
            migrate_to_chat_id=-100999,
        ),
    }
    return answers[chat_id]


class _VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def text_after_entities_parsing(request: dict[str, Any]) -> str:
    """The text Telegram measures: for HTML, what is left once the markup is parsed."""
    text = request.get("text", "")
    if request.get("parse_mode") != "HTML" or not isinstance(text, str):
        return str(text)
    parser = _VisibleText()
    parser.feed(text)
    parser.close()
    return "".join(parser.parts)


def format_problems(path: str, content_type: str, body: bytes) -> list[str]:
    """Where a request breaks the documented sendMessage format."""
    if path != f"/bot{TOKEN}/sendMessage":
        return [f"path {path!r}"]
    if content_type.split(";")[0].strip() != "application/json":
        return [f"content type {content_type!r}"]
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ["body is not JSON"]
    problems = [
        f"field {name}: {type(value).__name__}"
        for name, value in request.items()
        if name not in SEND_MESSAGE_FIELDS or not isinstance(value, SEND_MESSAGE_FIELDS[name])
    ]
    problems += [f"missing {name}" for name in ("chat_id", "text") if name not in request]
    if not 1 <= len(text_after_entities_parsing(request)) <= 4096:
        problems.append("text length")
    if request.get("parse_mode", "HTML") not in ("HTML", "MarkdownV2", "Markdown"):
        problems.append("parse_mode")
    if set(request.get("link_preview_options", {})) - LINK_PREVIEW_FIELDS:
        problems.append("link_preview_options fields")
    markup = request.get("reply_markup", {"inline_keyboard": []})
    rows = markup.get("inline_keyboard")
    if set(markup) != {"inline_keyboard"} or not isinstance(rows, list):
        return [*problems, "reply_markup"]
    for row in rows:
        for button in row if isinstance(row, list) else [None]:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                problems.append("button")
            elif len(set(button) & {"url", "callback_data"}) != 1 or len(button) != 2:
                problems.append("button fields")
    return problems


@dataclass
class FakeBotApi:
    base: str
    requests: list[dict[str, Any]] = field(default_factory=list)


class BotApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    requests: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if not self.path.startswith(f"/bot{TOKEN}/"):
            self.answer(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            return
        problems = format_problems(self.path, self.headers.get("Content-Type", ""), body)
        if problems:
            self.answer(
                400, {"ok": False, "error_code": 400, "description": f"Bad Request: {problems}"}
            )
            return
        request = orjson.loads(body)
        self.requests.append(request)
        self.answer(*answer_for(request["chat_id"]))

    def answer(self, status: int, reply: dict[str, Any] | bytes) -> None:
        body = reply if isinstance(reply, bytes) else orjson.dumps(reply)
        kind = "text/html" if isinstance(reply, bytes) else "application/json"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def bot_api() -> Iterator[FakeBotApi]:
    requests: list[dict[str, Any]] = []
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), type("Handler", (BotApiHandler,), {"requests": requests})
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield FakeBotApi(f"http://127.0.0.1:{server.server_address[1]}", requests)
    server.shutdown()
    server.server_close()


def a_message(chat: int | str = OK, **content: Any) -> OutboundMessage:
    return OutboundMessage(
        key=f"run-1:{chat}:telegram:1",
        channel="telegram",
        recipient=str(chat),
        destination="telegram",
        content={"text": "<b>Sale</b> starts today", **content},
    )


def send(bot_api: FakeBotApi, message: OutboundMessage, token: str = TOKEN) -> DeliveryResult:
    async def run() -> DeliveryResult:
        provider = TelegramProvider(TelegramConfig(token=token, api_base=bot_api.base, timeout=5.0))
        try:
            return await provider.send(message)
        finally:
            await provider.close()

    return asyncio.run(run())


def test_ok_is_sent_with_the_message_id(bot_api: FakeBotApi) -> None:
    result = send(bot_api, a_message())

    assert (result.outcome, result.provider_id) == ("sent", "4242")


def test_the_request_is_documented_send_message_json(bot_api: FakeBotApi) -> None:
    send(bot_api, a_message(disable_link_preview=True))

    assert bot_api.requests[-1] == {
        "chat_id": OK,
        "text": "<b>Sale</b> starts today",
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": True},
    }


def test_buttons_go_as_an_inline_keyboard(bot_api: FakeBotApi) -> None:
    buttons = [
        [
            {"text": "Open", "url": "https://shop.example/sale"},
            {"text": "App", "url": "tg://resolve?domain=shop"},
        ],
        [{"text": "Stop", "callback_data": "unsub:42"}],
    ]
    send(bot_api, a_message(buttons=buttons))

    assert bot_api.requests[-1]["reply_markup"] == {"inline_keyboard": buttons}


def test_plain_text_omits_parse_mode(bot_api: FakeBotApi) -> None:
    send(bot_api, a_message(parse_mode=None))

    assert "parse_mode" not in bot_api.requests[-1]


def test_a_blocked_bot_bounces_hard(bot_api: FakeBotApi) -> None:
    result = send(bot_api, a_message(BLOCKED))

    assert (result.outcome, result.bounce_type, result.code) == ("bounced", "hard", 403)


def test_a_deactivated_user_bounces_hard(bot_api: FakeBotApi) -> None:
    result = send(bot_api, a_message(DEACTIVATED))

    assert (result.outcome, result.bounce_type) == ("bounced", "hard")


def test_chat_not_found_bounces_hard(bot_api: FakeBotApi) -> None:
    result = send(bot_api, a_message(NO_CHAT))

    assert (result.outcome, result.bounce_type, result.code) == ("bounced", "hard", 400)


def test_an_upgraded_group_bounces_naming_the_new_chat(bot_api: FakeBotApi) -> None:
    result = send(bot_api, a_message(UPGRADED_GROUP))

    assert result.outcome == "bounced" and "migrate_to_chat_id=-100999" in result.diagnostic


def test_unparsable_entities_fail_with_telegrams_description(bot_api: FakeBotApi) -> None:
    result = send(bot_api, a_message(BAD_ENTITIES))

    assert (result.outcome, result.bounce_type, "can't parse entities" in result.diagnostic) == (
        "failed",
        "content",
        True,
    )


def test_flood_control_defers_throttled_with_retry_after(bot_api: FakeBotApi) -> None:
    result = send(bot_api, a_message(FLOOD))

    assert (result.outcome, result.bounce_type, retry_after_of(result)) == (
        "deferred",
        "throttled",
        5,
    )


def test_a_server_error_defers(bot_api: FakeBotApi) -> None:
    result = send(bot_api, a_message(DOWN))

    assert (result.outcome, result.code) == ("deferred", 500)


def test_a_non_json_answer_defers_as_garbage(bot_api: FakeBotApi) -> None:
    result = send(bot_api, a_message(GARBAGE))

    assert result.outcome == "deferred" and "garbage answer" in result.diagnostic


def test_ok_without_a_message_id_is_still_sent(bot_api: FakeBotApi) -> None:
    result = send(bot_api, a_message(OK_NO_ID))

    assert (result.outcome, result.provider_id) == ("sent", None)


def test_a_refused_token_fails(bot_api: FakeBotApi) -> None:
    result = send(bot_api, a_message(), token="999:wrong-token")

    assert (result.outcome, result.code, result.bounce_type) == ("failed", 401, "auth")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ({"text": "x" * 4097}, "4097 characters"),
        ({"text": "   "}, "1-4096"),
        ({"buttons": [[{"text": "", "url": "https://shop.example"}]]}, "no text"),
        ({"buttons": [[{"text": "Go", "url": "ftp://shop.example"}]]}, "url must be"),
        ({"buttons": [[{"text": "Go", "callback_data": "é" * 33}]]}, "66 bytes"),
        ({"buttons": [[{"text": "Go"}]]}, "exactly one"),
        ({"parse_mode": "html"}, "parse_mode"),
    ],
)
def test_a_message_breaking_a_documented_limit_fails_without_calling_the_api(
    bot_api: FakeBotApi, content: dict[str, Any], reason: str
) -> None:
    before = len(bot_api.requests)
    result = send(bot_api, a_message(**content))

    assert (result.outcome, reason in result.diagnostic, len(bot_api.requests)) == (
        "failed",
        True,
        before,
    )


def test_4096_visible_characters_of_html_are_accepted(bot_api: FakeBotApi) -> None:
    result = send(bot_api, a_message(text="<b>" + "x" * 4096 + "</b>"))

    assert result.outcome == "sent"


def test_a_recipient_that_is_not_a_chat_fails_locally(bot_api: FakeBotApi) -> None:
    assert send(bot_api, a_message("not a chat")).outcome == "failed"


def test_an_unreachable_api_defers_naming_the_host_not_the_token() -> None:
    unreachable = FakeBotApi("http://127.0.0.1:9")
    result = send(unreachable, a_message())

    assert (result.outcome, "127.0.0.1:9" in result.diagnostic, TOKEN in result.diagnostic) == (
        "deferred",
        True,
        False,
    )


def test_the_token_is_in_no_diagnostic(bot_api: FakeBotApi) -> None:
    chats = [
        OK,
        BLOCKED,
        DEACTIVATED,
        NO_CHAT,
        BAD_ENTITIES,
        FLOOD,
        DOWN,
        GARBAGE,
        OK_NO_ID,
        UPGRADED_GROUP,
    ]
    diagnostics = [send(bot_api, a_message(chat)).diagnostic for chat in chats]

    assert [text for text in diagnostics if TOKEN in text or TOKEN.split(":")[1] in text] == []


def test_the_token_is_hidden_in_httpx_request_logs(
    bot_api: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        send(bot_api, a_message())

    assert ("/bot<hidden>/sendMessage" in caplog.text, TOKEN.split(":")[1] in caplog.text) == (
        True,
        False,
    )


def test_the_token_is_not_in_the_config_repr() -> None:
    assert TOKEN not in repr(TelegramConfig(token=TOKEN))


def test_documented_rate_limits_are_exposed() -> None:
    assert (MESSAGES_PER_SECOND_PER_BOT, MESSAGES_PER_SECOND_PER_CHAT) == (30, 1)
