"""The links in a message, against the real tracker, RabbitMQ and loader: the open pixel, a
tracked link, the unsubscribe link (RFC 8058 one-click too) and the web version.

A good token is answered and its event lands in `landing/herald_message_events/` with who,
which run and from where; a bad one is never followed (no redirect, nothing changed,
nothing landed), though the pixel still answers the image. Every test uses its own message
id, and loads what it sent, so the shared tracker and queue carry nothing between tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from herald.profiles.consent import list_subscriptions
from herald.store import create_store_engine
from herald.tokens import TokenKeys, TokenKind, TrackingToken, sign_token
from tests.support.tracking import TrackingHome

pytestmark = pytest.mark.slow

BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
SALE = "https://shop.example/sale?utm_source=herald&utm_campaign=black-friday#shoes"
FORGING_KEYS = TokenKeys.parse("t1:" + "f" * 32)  # the tracker's key id, another secret


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackingHome]:
    service = TrackingHome.create(tmp_path_factory.mktemp("links"))
    try:
        yield service
    finally:
        service.delete_queues()


@pytest.fixture(scope="module")
def url(service: TrackingHome) -> Iterator[str]:
    with service.tracker(workers=1) as url:
        yield url


@pytest.fixture(scope="module")
def keys(service: TrackingHome) -> TokenKeys:
    return TokenKeys.parse(service.env["HERALD_TRACKING_KEYS"])


def a_token(kind: TokenKind, **fields: Any) -> TrackingToken:
    """A token of `kind` for profile p1 of `customers`, with a message id of its own."""
    values: dict[str, Any] = {
        "database": "customers",
        "profile_id": "p1",
        "campaign_run": "run-1",
        "message_id": f"m-{uuid.uuid4().hex[:12]}",
    }
    if kind == "click":
        values.update(link=3, url=SALE)
    values.update(fields)
    return TrackingToken(kind=kind, **values)


def message_events(service: TrackingHome, message_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in service.landed("herald_message_events"):
        rows.extend(
            row for row in pq.read_table(path).to_pylist() if row["message_id"] == message_id
        )
    return rows


def the_one_event(service: TrackingHome, message_id: str) -> dict[str, Any]:
    service.load(until_idle=0.5)
    [row] = message_events(service, message_id)
    return row


def nothing_landed(service: TrackingHome, message_id: str) -> bool:
    """Neither a landed row nor a dead letter for the message, once the queue is loaded."""
    service.load(until_idle=0.5)
    dead = [body for _reason, body in service.dead_letters() if message_id.encode() in body]
    return message_events(service, message_id) == [] and dead == []


def altered(text: str) -> str:
    key_id, payload, signature = text.split(".")
    return f"{key_id}.{payload[:-2]}{'AB' if payload[-2:] != 'AB' else 'CD'}.{signature}"


# --- the open pixel --------------------------------------------------------------------


def test_the_pixel_of_a_valid_token_is_a_43_byte_gif(url: str, keys: TokenKeys) -> None:
    response = httpx.get(f"{url}/o/{sign_token(a_token('open'), keys)}.gif")

    assert (response.status_code, response.headers["content-type"]) == (200, "image/gif")
    assert len(response.content) == 43
    assert response.content.startswith(b"GIF89a") and response.content.endswith(b";")
    assert "no-store" in response.headers["cache-control"]


def test_an_open_lands_with_the_recipient_the_run_and_the_client(
    service: TrackingHome, url: str, keys: TokenKeys
) -> None:
    token = a_token("open", campaign_run="run-opens")

    httpx.get(f"{url}/o/{sign_token(token, keys)}", headers={"user-agent": BROWSER})

    row = the_one_event(service, token.message_id)
    assert {key: row[key] for key in ("event_type", "database", "profile_id", "campaign_run")} == {
        "event_type": "opened",
        "database": "customers",
        "profile_id": "p1",
        "campaign_run": "run-opens",
    }
    assert (row["ip"], row["user_agent"], row["channel"]) == ("127.0.0.1", BROWSER, "email")


@pytest.mark.parametrize(
    "text",
    ["garbage", "t1.e30.AAAA", "t1..", "x" * 5000, "t1.%C3%A9.x"],
    ids=["garbage", "forged", "empty-parts", "oversized", "non-ascii"],
)
def test_a_bad_open_token_still_gets_the_image(url: str, text: str) -> None:
    response = httpx.get(f"{url}/o/{text}")

    assert (response.status_code, response.headers["content-type"]) == (200, "image/gif")
    assert len(response.content) == 43


def test_a_forged_open_token_lands_nothing(service: TrackingHome, url: str) -> None:
    token = a_token("open")

    httpx.get(f"{url}/o/{sign_token(token, FORGING_KEYS)}")

    assert nothing_landed(service, token.message_id)


# --- tracked links ---------------------------------------------------------------------


def test_a_click_redirects_to_the_link_s_url_exactly(url: str, keys: TokenKeys) -> None:
    response = httpx.get(f"{url}/c/{sign_token(a_token('click'), keys)}")

    assert (response.status_code, response.headers["location"]) == (302, SALE)
    assert response.headers["cache-control"] == "no-store"


def test_a_click_lands_with_the_link_s_position_and_url(
    service: TrackingHome, url: str, keys: TokenKeys
) -> None:
    token = a_token("click", link=2)

    httpx.get(f"{url}/c/{sign_token(token, keys)}", headers={"user-agent": BROWSER})

    row = the_one_event(service, token.message_id)
    assert {key: row[key] for key in ("event_type", "profile_id", "link_position", "url")} == {
        "event_type": "clicked",
        "profile_id": "p1",
        "link_position": 2,
        "url": SALE,
    }
    assert (row["ip"], row["user_agent"], row["automated"]) == ("127.0.0.1", BROWSER, None)


def test_a_head_request_on_a_link_redirects_and_lands_as_automated(
    service: TrackingHome, url: str, keys: TokenKeys
) -> None:
    token = a_token("click")

    response = httpx.head(f"{url}/c/{sign_token(token, keys)}", headers={"user-agent": BROWSER})

    assert (response.status_code, response.headers["location"]) == (302, SALE)
    assert the_one_event(service, token.message_id)["automated"] == "head_request"


def test_a_click_by_a_crawler_lands_as_automated(
    service: TrackingHome, url: str, keys: TokenKeys
) -> None:
    token = a_token("click")

    httpx.get(f"{url}/c/{sign_token(token, keys)}", headers={"user-agent": GOOGLEBOT})

    assert the_one_event(service, token.message_id)["automated"] == "crawler"


@pytest.mark.parametrize(
    ("make_token", "reason"),
    [
        (lambda keys: sign_token(a_token("click"), FORGING_KEYS), "the link was altered or forged"),
        (
            lambda keys: altered(sign_token(a_token("click"), keys)),
            "the link was altered or forged",
        ),
        (
            lambda keys: sign_token(a_token("click", expires_at=1_700_000_000), keys),
            "the link has expired",
        ),
        (
            lambda keys: sign_token(a_token("open"), keys),
            "this is not a link of that kind (it is a open link)",
        ),
        (
            lambda keys: sign_token(a_token("click"), TokenKeys.parse("t9:" + "n" * 32)),
            "the link was signed by a key this service does not know",
        ),
        (lambda keys: "t1.%C3%A9.x", "the link is incomplete or damaged"),
    ],
    ids=["forged", "altered", "expired", "open-token", "unknown-key", "non-ascii"],
)
def test_a_bad_click_token_never_redirects_and_says_why(
    url: str, keys: TokenKeys, make_token: Any, reason: str
) -> None:
    response = httpx.get(f"{url}/c/{make_token(keys)}")

    assert response.status_code == 400
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "location" not in response.headers
    assert "This link does not work" in response.text
    assert reason in response.text


def test_bad_click_tokens_land_nothing(service: TrackingHome, url: str, keys: TokenKeys) -> None:
    token = a_token("click")
    bad_tokens = (
        sign_token(token, FORGING_KEYS),
        altered(sign_token(token, keys)),
        sign_token(replace(token, expires_at=1_700_000_000), keys),
    )

    statuses = [httpx.get(f"{url}/c/{text}").status_code for text in bad_tokens]

    assert statuses == [400, 400, 400]
    assert nothing_landed(service, token.message_id)


# --- unsubscribe -----------------------------------------------------------------------


def subscriptions(service: TrackingHome, profile_id: str) -> list[tuple[str, str, str]]:
    store = create_store_engine(f"sqlite:///{service.home}/herald.sqlite")
    try:
        found = list_subscriptions(store, "customers", [profile_id])
    finally:
        store.dispose()
    return [(row["channel"], row["resource"], row["status"]) for row in found]


def test_the_unsubscribe_page_asks_in_the_recipient_s_language(
    service: TrackingHome, url: str, keys: TokenKeys
) -> None:
    token = a_token("unsubscribe", profile_id="p-ru-question", language="ru")

    response = httpx.get(f"{url}/u/{sign_token(token, keys)}")

    assert response.status_code == 200
    assert '<html lang="ru">' in response.text
    assert "Отписаться" in response.text
    assert '<form method="post">' in response.text


def test_opening_the_unsubscribe_page_changes_nothing(
    service: TrackingHome, url: str, keys: TokenKeys
) -> None:
    token = a_token("unsubscribe", profile_id="p-only-looked")

    httpx.get(f"{url}/u/{sign_token(token, keys)}")

    assert subscriptions(service, "p-only-looked") == []


def test_confirming_unsubscribes_at_once_and_lands_the_event(
    service: TrackingHome, url: str, keys: TokenKeys
) -> None:
    token = a_token("unsubscribe", profile_id="p-confirmed", resource="news")

    response = httpx.post(f"{url}/u/{sign_token(token, keys)}")

    assert response.status_code == 200
    assert "You are unsubscribed" in response.text
    assert subscriptions(service, "p-confirmed") == [("email", "news", "unsubscribed")]
    assert the_one_event(service, token.message_id)["event_type"] == "unsubscribed"


def test_the_confirmation_reads_in_the_recipient_s_language(url: str, keys: TokenKeys) -> None:
    token = a_token("unsubscribe", profile_id="p-ru-confirmed", language="ru")

    response = httpx.post(f"{url}/u/{sign_token(token, keys)}")

    assert response.status_code == 200
    assert "Вы отписались" in response.text


def test_a_one_click_unsubscribe_from_the_mail_client_is_answered_in_plain_text(
    service: TrackingHome, url: str, keys: TokenKeys
) -> None:
    token = a_token("unsubscribe", profile_id="p-one-click")

    response = httpx.post(
        f"{url}/u/{sign_token(token, keys)}",
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )

    assert (response.status_code, response.text) == (200, "unsubscribed\n")
    assert subscriptions(service, "p-one-click") == [("email", "*", "unsubscribed")]
    assert the_one_event(service, token.message_id)["profile_id"] == "p-one-click"


def test_a_forged_unsubscribe_changes_nothing(service: TrackingHome, url: str) -> None:
    token = a_token("unsubscribe", profile_id="p-forged")

    response = httpx.post(
        f"{url}/u/{sign_token(token, FORGING_KEYS)}",
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )

    assert response.status_code == 400
    assert subscriptions(service, "p-forged") == []
    assert nothing_landed(service, token.message_id)


def test_a_broken_unsubscribe_link_says_so_in_the_browser_s_language(url: str) -> None:
    response = httpx.get(f"{url}/u/t1.e30.AAAA", headers={"accept-language": "ru-RU,ru;q=0.9"})

    assert response.status_code == 400
    assert '<html lang="ru">' in response.text
    assert "Ссылка не работает" in response.text


# --- the web version -------------------------------------------------------------------


def test_a_web_version_that_is_not_kept_is_a_404_page(url: str, keys: TokenKeys) -> None:
    response = httpx.get(f"{url}/v/{sign_token(a_token('view'), keys)}")

    assert response.status_code == 404
    assert "This message is not available" in response.text


def test_a_kept_web_version_is_served_in_a_sandbox(
    service: TrackingHome, url: str, keys: TokenKeys
) -> None:
    token = a_token("view", campaign_run="run-web")
    kept = service.home / "web-versions" / "run-web" / f"{token.message_id}.html"
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_text("<html><body><h1>Black Friday</h1></body></html>", "utf-8")

    response = httpx.get(f"{url}/v/{sign_token(token, keys)}")

    assert response.status_code == 200
    assert response.text == "<html><body><h1>Black Friday</h1></body></html>"
    assert response.headers["content-security-policy"].startswith("sandbox")
    assert the_one_event(service, token.message_id)["event_type"] == "viewed"


@pytest.mark.parametrize("message_id", ["../../herald", ".hidden", "a\\b"])
def test_a_web_version_outside_its_folder_is_never_served(
    url: str, keys: TokenKeys, message_id: str
) -> None:
    token = a_token("view", message_id=message_id)

    response = httpx.get(f"{url}/v/{sign_token(token, keys)}")

    assert response.status_code == 404
