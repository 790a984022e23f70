"""The webhook provider against a real local HTTP server.

A message's body arrives byte for byte as compact JSON with its idempotency key and a
Stripe-style signature that verifies with the secret and with nothing else; 2xx is sent,
429/5xx and no answer are deferred (Retry-After honoured), other 4xx (410 included: the
endpoint is gone, not the recipient) are failed; connections are pooled and kept alive.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest

from senders.channel import DeliveryResult, OutboundMessage
from senders.http_results import USER_AGENT, parse_retry_after, retry_after_of
from senders.providers.webhook import (
    WebhookConfig,
    WebhookConfigError,
    WebhookProvider,
    sign_webhook,
    verify_webhook_signature,
)

SECRET = "whsec-test-secret"
BODY = {"event": "campaign.message", "profile_id": "p-1", "text": "Привет, Ada", "n": 3}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int


@dataclass
class Endpoint:
    url: str
    received: list[Received] = field(default_factory=list)


class Receiver(BaseHTTPRequestHandler):
    """Answers by path: /ok 200, /html 202 with an HTML page, /error 500, /throttle 429 +
    Retry-After, /gone 410, /busy 503 + an HTTP-date Retry-After, /hangup closes without
    answering, /slow waits a second."""

    protocol_version = "HTTP/1.1"
    received: list[Received]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {name: value for name, value in self.headers.items()}
        self.received.append(Received(self.path, headers, body, self.client_address[1]))
        if self.path == "/hangup":
            self.close_connection = True
            return
        if self.path == "/slow":
            time.sleep(1.0)
        status, extra = {
            "/ok": (200, {}),
            "/html": (202, {}),
            "/slow": (200, {}),
            "/error": (500, {}),
            "/throttle": (429, {"Retry-After": "7"}),
            "/busy": (503, {"Retry-After": formatdate(time.time() + 120, usegmt=True)}),
            "/gone": (410, {}),
        }[self.path]
        answer = b"<html>thanks</html>" if self.path == "/html" else b'{"received": true}'
        try:
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
        except OSError:
            pass  # the client gave up (the slow case)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def endpoint() -> Iterator[Endpoint]:
    received: list[Received] = []
    handler = type("Handler", (Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Endpoint(f"http://127.0.0.1:{server.server_address[1]}", received)
    server.shutdown()
    server.server_close()


def a_message(key: str = "run-7:p-1:webhook:1", body: Any = BODY) -> OutboundMessage:
    return OutboundMessage(
        key=key, channel="webhook", recipient="p-1", destination="webhook", content={"body": body}
    )


def send_all(
    url: str, messages: list[OutboundMessage], timeout: float = 5.0
) -> list[DeliveryResult]:
    async def run() -> list[DeliveryResult]:
        provider = WebhookProvider(WebhookConfig(url=url, secret=SECRET, timeout=timeout))
        try:
            return [await provider.send(message) for message in messages]
        finally:
            await provider.close()

    return asyncio.run(run())


def send_one(
    url: str, message: OutboundMessage | None = None, timeout: float = 5.0
) -> DeliveryResult:
    return send_all(url, [message or a_message()], timeout)[0]


def last_request(endpoint: Endpoint) -> Received:
    return endpoint.received[-1]


def test_a_2xx_is_sent(endpoint: Endpoint) -> None:
    assert send_one(endpoint.url + "/ok").outcome == "sent"


def test_a_2xx_with_any_body_is_acceptance(endpoint: Endpoint) -> None:
    assert send_one(endpoint.url + "/html").outcome == "sent"


def test_the_body_arrives_exactly_as_compact_json(endpoint: Endpoint) -> None:
    send_one(endpoint.url + "/ok")

    assert last_request(endpoint).body == orjson.dumps(BODY)


def test_the_request_carries_json_type_user_agent_and_idempotency_key(endpoint: Endpoint) -> None:
    send_one(endpoint.url + "/ok", a_message(key="run-9:p-2:webhook:1"))

    headers = last_request(endpoint).headers
    assert (headers["Content-Type"], headers["User-Agent"], headers["Idempotency-Key"]) == (
        "application/json",
        USER_AGENT,
        "run-9:p-2:webhook:1",
    )


def test_the_signature_verifies_with_the_secret(endpoint: Endpoint) -> None:
    send_one(endpoint.url + "/ok")

    request = last_request(endpoint)
    assert verify_webhook_signature(SECRET, request.headers["Herald-Signature"], request.body)


def test_the_signature_fails_with_another_secret(endpoint: Endpoint) -> None:
    send_one(endpoint.url + "/ok")

    request = last_request(endpoint)
    assert not verify_webhook_signature("other", request.headers["Herald-Signature"], request.body)


def test_the_signature_fails_on_an_altered_body(endpoint: Endpoint) -> None:
    send_one(endpoint.url + "/ok")

    request = last_request(endpoint)
    altered = request.body.replace(b'"n":3', b'"n":4')
    assert not verify_webhook_signature(SECRET, request.headers["Herald-Signature"], altered)


def test_an_old_signature_is_refused_as_a_replay() -> None:
    header = sign_webhook(SECRET, b"{}", timestamp=1_800_000_000)

    assert not verify_webhook_signature(SECRET, header, b"{}", now=1_800_000_000 + 301)


def test_the_signature_is_stripes_scheme() -> None:
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), b"1800000000.{}", hashlib.sha256).hexdigest()

    assert sign_webhook(SECRET, b"{}", timestamp=1_800_000_000) == f"t=1800000000,v1={expected}"


def test_a_500_is_deferred_soft(endpoint: Endpoint) -> None:
    result = send_one(endpoint.url + "/error")

    assert (result.outcome, result.code, result.bounce_type) == ("deferred", 500, "soft")


def test_a_429_is_deferred_throttled_with_its_retry_after(endpoint: Endpoint) -> None:
    result = send_one(endpoint.url + "/throttle")

    assert (result.outcome, result.bounce_type, retry_after_of(result)) == (
        "deferred",
        "throttled",
        7,
    )


def test_a_retry_after_date_becomes_seconds(endpoint: Endpoint) -> None:
    result = send_one(endpoint.url + "/busy")

    assert 115 <= (retry_after_of(result) or 0) <= 121


def test_a_410_is_failed_not_bounced(endpoint: Endpoint) -> None:
    result = send_one(endpoint.url + "/gone")

    assert (result.outcome, result.code, result.bounce_type) == ("failed", 410, None)


def test_a_server_that_hangs_up_defers(endpoint: Endpoint) -> None:
    result = send_one(endpoint.url + "/hangup")

    assert result.outcome == "deferred" and "closed the connection" in result.diagnostic


def test_a_slow_server_beyond_the_timeout_defers(endpoint: Endpoint) -> None:
    started = time.monotonic()
    result = send_one(endpoint.url + "/slow", timeout=0.2)

    assert (result.outcome, time.monotonic() - started < 0.9) == ("deferred", True)


def test_a_refused_port_defers_naming_host_and_port() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    result = send_one(f"http://127.0.0.1:{port}/hook")

    assert (result.outcome, result.bounce_type, f"127.0.0.1:{port}" in result.diagnostic) == (
        "deferred",
        "network",
        True,
    )


def test_a_body_that_is_not_an_object_fails_without_a_request(endpoint: Endpoint) -> None:
    before = len(endpoint.received)
    result = send_one(endpoint.url + "/ok", a_message(body=["not", "an", "object"]))

    assert (result.outcome, len(endpoint.received)) == ("failed", before)


def test_sends_reuse_one_pooled_connection(endpoint: Endpoint) -> None:
    before = len(endpoint.received)
    send_all(endpoint.url + "/ok", [a_message(key=f"k-{n}") for n in range(5)])

    assert len({request.client_port for request in endpoint.received[before:]}) == 1


def test_extra_headers_may_not_replace_the_signature() -> None:
    with pytest.raises(WebhookConfigError):
        WebhookConfig(
            url="https://hooks.example/x", secret=SECRET, headers={"herald-signature": "x"}
        )


def test_the_secret_is_not_in_the_config_repr() -> None:
    assert SECRET not in repr(WebhookConfig(url="https://hooks.example/x", secret=SECRET))


@pytest.mark.parametrize(("value", "seconds"), [("7", 7), (" 0 ", 0), ("soon", None), (None, None)])
def test_retry_after_seconds(value: str | None, seconds: int | None) -> None:
    assert parse_retry_after(value) == seconds


def test_retry_after_in_the_past_is_zero() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1_800_000_000) == 0
