"""Transactional sends through the HTTP API (`POST /api/v1/transactional`, ui/campaigns_api.py),
end to end: a transactional campaign created from a campaign file and launched with
`herald campaign launch`, the API in-process (starlette's TestClient) publishing to the real
RabbitMQ's priority lane, an in-process worker delivering to a real SMTP server (aiosmtpd).

The shop (30 clients imported and unified) and its campaigns are set up once per module;
each test sends with idempotency keys of its own and looks only at its own messages.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from herald.campaigns.catalog import campaign_launches, launch_runs
from tests.support.campaigns import CampaignShop, profile, shared_folder
from tests.support.sending import MailSink, ReceivedMail
from ui.api import create_app

pytestmark = pytest.mark.slow

ORDER = {
    "channel": "email",
    "subject": "Order {{ order_number }} [{{ request }}]",
    "html": (
        "<html><body><p>Hello {{ given_name }},</p>"
        "<p>Your order {{ order_number }} of {{ total }} EUR is confirmed.</p></body></html>"
    ),
    "from": "orders@shop.test",
    "from_name": "Shop",
}
NEWS = {
    "channel": "email",
    "subject": "News for {{ given_name }}",
    "html": "<html><body><p>Hello {{ given_name }}</p></body></html>",
    "from": "news@shop.test",
}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, sink: MailSink) -> Iterator[CampaignShop]:
    made = CampaignShop.create(
        tmp_path_factory.mktemp("transactional"),
        sink,
        clients=30,
        shared=shared_folder(tmp_path_factory),
    )
    made.template("order", ORDER)
    made.template("news", NEWS)
    made.segment("everyone", "{field: bonus_points, op: greater, value: 0}")
    made.campaign({"name": "order-confirmation", "kind": "transactional", "template": "order"})
    made.ok("campaign", "launch", "order-confirmation")
    made.campaign({"name": "receipt-draft", "kind": "transactional", "template": "order"})
    made.campaign(
        {"name": "newsletter", "template": "news", "audience": {"segments": ["everyone"]}}
    )
    yield made
    made.close()


@pytest.fixture(scope="module")
def client(shop: CampaignShop) -> Iterator[TestClient]:
    with TestClient(create_app(shop.settings)) as api:
        yield api


def transactional_run(shop: CampaignShop, name: str) -> str:
    launched = campaign_launches(shop.store, name, limit=1)
    return launch_runs(shop.store, [launched[0].id])[0].id


def request_id() -> str:
    return uuid.uuid4().hex[:12]


def sent_for(sink: MailSink, request: str) -> list[ReceivedMail]:
    """The messages whose subject carries this request's id (the template puts it there)."""
    return [mail for mail in sink.messages if f"[{request}]" in str(mail.message["Subject"])]


def send(client: TestClient, **body: Any) -> Any:
    return client.post("/api/v1/transactional", json={"campaign": "order-confirmation", **body})


# --- sending ---------------------------------------------------------------------------------


def test_a_transactional_send_reaches_the_smtp_server_with_its_data_rendered(
    shop: CampaignShop, sink: MailSink, client: TestClient
) -> None:
    request = request_id()

    answer = send(
        client,
        to="anna@example.com",
        data={"order_number": "A-1001", "total": 42, "given_name": "Anna", "request": request},
        idempotency_key=f"order-{request}",
    )
    shop.work_until_idle()

    run_id = transactional_run(shop, "order-confirmation")
    assert answer.status_code == 202
    assert answer.json()["run"] == run_id
    [mail] = sent_for(sink, request)
    body = mail.message.get_body(("html",)).get_content()
    assert mail.recipients == ["anna@example.com"]
    assert mail.message["Subject"] == f"Order A-1001 [{request}]"
    assert "Your order A-1001 of 42 EUR is confirmed" in body
    assert "Hello Anna" in body
    assert mail.message["X-Herald-Run"] == run_id


def test_the_same_idempotency_key_twice_delivers_one_message(
    shop: CampaignShop, sink: MailSink, client: TestClient
) -> None:
    request = request_id()
    body = {
        "to": "boris@example.com",
        "data": {"order_number": "B-2002", "request": request},
        "idempotency_key": f"order-{request}",
    }

    first = send(client, **body)
    again = send(client, **body)  # both in the queue at once
    shop.work_until_idle()
    late = send(client, **body)  # after the first was delivered
    shop.work_until_idle()

    assert [first.status_code, again.status_code, late.status_code] == [202, 202, 202]
    assert len(sent_for(sink, request)) == 1


def test_different_idempotency_keys_send_one_message_each(
    shop: CampaignShop, sink: MailSink, client: TestClient
) -> None:
    request = request_id()

    for number in range(3):
        data = {"order_number": f"C-{number}", "request": request}
        send(client, to="chloe@example.com", data=data, idempotency_key=f"{request}-{number}")
    shop.work_until_idle()

    subjects = sorted(str(mail.message["Subject"]) for mail in sent_for(sink, request))
    assert subjects == [f"Order C-{n} [{request}]" for n in range(3)]


def test_a_profile_without_an_address_is_sent_to_its_email_from_the_warehouse(
    shop: CampaignShop, sink: MailSink, client: TestClient
) -> None:
    request = request_id()

    answer = send(
        client,
        profile_id=profile("c5"),
        data={"order_number": "D-5", "request": request},
        idempotency_key=f"order-{request}",
    )
    shop.work_until_idle()

    [mail] = sent_for(sink, request)
    assert answer.status_code == 202
    assert mail.recipients == ["user5@example.com"]
    assert "Hello Name5," in mail.message.get_body(("html",)).get_content()


def test_a_transactional_message_overtakes_a_queued_campaign_backlog(
    shop: CampaignShop, sink: MailSink, client: TestClient
) -> None:
    request = request_id()
    backlog = shop.sending.run_for(
        [(f"b{n}", f"backlog{n}@example.org", {}) for n in range(400)], database=None
    )
    shop.sending.launch(backlog.id)  # four chunks wait on the sends lane

    send(
        client,
        to="urgent@example.com",
        data={"order_number": "E-1", "request": request},
        idempotency_key=f"order-{request}",
    )
    sink.handler.delay = 0.01  # the backlog takes a few seconds to drain
    try:
        shop.work_until_idle()
    finally:
        sink.handler.delay = 0.0

    backlog_times = sorted(
        m.received_at for m in sink.messages if m.recipients[0].startswith("backlog")
    )
    [urgent] = sent_for(sink, request)
    assert len(backlog_times) == 400
    # delivered while most of the backlog was still waiting
    assert urgent.received_at < backlog_times[len(backlog_times) // 2]


# --- bad requests are clear answers, never a 5xx ----------------------------------------------


def test_an_unknown_campaign_is_404(client: TestClient) -> None:
    answer = client.post(
        "/api/v1/transactional", json={"campaign": "no-such-campaign", "to": "a@example.com"}
    )

    assert answer.status_code == 404
    assert "no-such-campaign" in answer.json()["error"]


def test_a_transactional_campaign_not_launched_is_409(client: TestClient) -> None:
    answer = client.post(
        "/api/v1/transactional", json={"campaign": "receipt-draft", "to": "a@example.com"}
    )

    assert answer.status_code == 409
    assert "launch it" in answer.json()["error"]


def test_a_campaign_that_is_not_transactional_is_409(client: TestClient) -> None:
    answer = client.post(
        "/api/v1/transactional", json={"campaign": "newsletter", "to": "a@example.com"}
    )

    assert answer.status_code == 409
    assert "not transactional" in answer.json()["error"]


def test_a_send_without_an_address_or_profile_is_422(client: TestClient) -> None:
    answer = send(client, data={"order_number": "F-1"})

    assert answer.status_code == 422
    assert "to" in answer.json()["error"]


def test_an_unknown_profile_is_404(client: TestClient) -> None:
    answer = send(client, profile_id=profile("c999"))

    assert answer.status_code == 404
    assert "c999" in answer.json()["error"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"campaign": "order-confirmation", "to": ',  # malformed JSON
        b'["order-confirmation"]',  # not an object
        b'{"to": "a@example.com"}',  # no campaign
        b'{"campaign": "order-confirmation", "data": "not an object"}',
    ],
)
def test_an_invalid_body_is_422_with_a_json_error(client: TestClient, body: bytes) -> None:
    answer = client.post(
        "/api/v1/transactional", content=body, headers={"content-type": "application/json"}
    )

    assert answer.status_code == 422
    assert isinstance(answer.json()["error"], str)


def test_a_too_long_idempotency_key_is_422(client: TestClient) -> None:
    answer = send(client, to="a@example.com", idempotency_key="k" * 500)

    assert answer.status_code == 422
    assert "idempotency_key" in answer.json()["error"]
