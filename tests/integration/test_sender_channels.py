"""Channels other than e-mail through the same pipeline: Telegram (against a local server that
speaks the Bot API's documented request and response formats, since Telegram cannot be
reached here) and a signed webhook (a local HTTP receiver)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from herald.sending.suppression import suppressed_addresses
from senders.providers.webhook import verify_webhook_signature
from tests.support.sending import sending

pytestmark = pytest.mark.slow

TOKEN = "123456:TEST-token"
BLOCKED_CHAT = "666"


class Recorder:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.lock = threading.Lock()


def serve(recorder: Recorder, answer) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with recorder.lock:
                recorder.requests.append((self.path, dict(self.headers), body))
            status, document = answer(self.path, body)
            data = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def bot_api(path: str, body: bytes) -> tuple[int, dict]:
    request = json.loads(body)
    if path != f"/bot{TOKEN}/sendMessage":
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
    if str(request["chat_id"]) == BLOCKED_CHAT:
        return 403, {"ok": False, "error_code": 403,
                     "description": "Forbidden: bot was blocked by the user"}  # fmt: skip
    return 200, {"ok": True, "result": {"message_id": 77, "chat": {"id": request["chat_id"]},
                                        "date": 1795680000, "text": request["text"]}}  # fmt: skip


def test_a_telegram_run_sends_formatted_messages_with_buttons(tmp_path):
    recorder = Recorder()
    server = serve(recorder, bot_api)
    try:
        with sending(tmp_path) as (_sink, home):
            home.settings = home.settings.model_copy(update={
                "telegram_bot_token": TOKEN,
                "telegram_api_url": f"http://127.0.0.1:{server.server_port}",
            })  # fmt: skip
            spec = {
                "template": {
                    "text": "<b>Hi {{ first_name }}</b>, the sale starts today",
                    "parse_mode": "HTML",
                    "buttons": [[{"text": "Open", "url": "https://shop.test/sale"}]],
                },
            }
            run = home.run_for(
                [("p0", "1001", {"first_name": "Anna"}), ("p1", BLOCKED_CHAT, {"first_name": "B"})],
                spec=spec, channel="telegram", address_field="telegram_chat_id",
            )  # fmt: skip
            home.launch(run.id)
            home.work_until_idle()

            states = {row["profile_id"]: row for row in home.log_rows(run.id)}
            suppressed = [item["address"] for item in suppressed_addresses(home.store, "telegram")]
    finally:
        server.shutdown()

    sent = json.loads(next(body for _, _, body in recorder.requests if b"1001" in body))
    assert sent["text"] == "<b>Hi Anna</b>, the sale starts today"
    assert sent["parse_mode"] == "HTML"
    assert sent["reply_markup"] == {
        "inline_keyboard": [[{"text": "Open", "url": "https://shop.test/sale"}]]
    }
    assert states["p0"]["state"] == "sent"
    assert states["p1"]["state"] == "bounced" and states["p1"]["bounce_type"] == "hard"
    assert suppressed == [BLOCKED_CHAT]
    assert all(TOKEN not in (row["diagnostic"] or "") for row in states.values())


def test_a_webhook_run_posts_signed_documents_once(tmp_path, monkeypatch):
    recorder = Recorder()
    server = serve(recorder, lambda path, body: (200, {"received": True}))
    monkeypatch.setenv("HOOK_SECRET", "s3cret-hook")
    try:
        with sending(tmp_path) as (_sink, home):
            spec = {
                "webhook": {
                    "url": f"http://127.0.0.1:{server.server_port}/hook",
                    "secret_env": "HOOK_SECRET",
                },
                "template": {"body": {"greeting": "Hello {{ first_name }}", "kind": "promo"}},
            }
            run = home.run_for(
                [(f"p{i}", f"crm-{i}", {"first_name": f"N{i}"}) for i in range(5)],
                spec=spec, channel="webhook", address_field="address",
            )  # fmt: skip
            home.launch(run.id)
            home.work_until_idle()
            states = home.states(run.id)
    finally:
        server.shutdown()

    assert set(states.values()) == {"sent"}
    assert len(recorder.requests) == 5
    keys = set()
    for _path, headers, body in recorder.requests:
        assert verify_webhook_signature("s3cret-hook", headers["Herald-Signature"], body)
        keys.add(headers["Idempotency-Key"])
    assert len(keys) == 5
    documents = sorted(json.loads(body)["greeting"] for _, _, body in recorder.requests)
    assert documents == [f"Hello N{i}" for i in range(5)]
