"""The sender end to end: launcher -> RabbitMQ `sends` -> worker -> a real SMTP server
(aiosmtpd), with the send log, consent, suppression, retries and events in between."""

from __future__ import annotations

import dkim
import pytest

from herald.profiles.consent import set_subscription
from herald.sending.runs import record_enqueued
from herald.sending.suppression import suppress_address, suppressed_addresses
from tests.support.sending import default_spec, recipients, sending

pytestmark = pytest.mark.slow


def test_every_recipient_receives_one_signed_message(tmp_path):
    with sending(tmp_path) as (sink, home):
        run = home.run_for(recipients(120))
        home.launch(run.id)
        home.work_until_idle()

        assert sink.by_recipient() == {f"user{i}@ok.test": 1 for i in range(120)}
        for mail in sink.messages[:5]:
            assert dkim.verify(mail.data, dnsfunc=home.dkim_dns)
        assert set(home.states(run.id).values()) == {"sent"}


def test_both_dkim_signatures_verify_and_cover_the_unsubscribe_headers(tmp_path):
    with sending(tmp_path) as (sink, home):
        home.settings = home.settings.model_copy(update={"tracking_url": "https://t.shop.test"})
        run = home.run_for(recipients(1))
        home.launch(run.id)
        home.work_until_idle()

        mail = sink.messages[0]
        signatures = mail.message.get_all("DKIM-Signature")
        assert len(signatures) == 2
        assert {"a=rsa-sha256", "a=ed25519-sha256"} <= {
            part.strip() for sig in signatures for part in sig.split(";")
        }
        for index in range(2):
            assert dkim.DKIM(mail.data).verify(idx=index, dnsfunc=home.dkim_dns)
        signed = " ".join(signatures).replace(" ", "").lower()
        assert "list-unsubscribe:list-unsubscribe-post" in signed
        assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_personalised_content_and_tracked_links(tmp_path):
    with sending(tmp_path) as (sink, home):
        run = home.run_for(recipients(1))
        home.launch(run.id)
        home.work_until_idle()

        message = sink.messages[0].message
        html = message.get_body(("html",)).get_content()
        text = message.get_body(("plain",)).get_content()
        assert message["Subject"] == "Hello Name0"
        assert "Hi Name0" in html and "Hi Name0" in text
        assert "http://127.0.0.1:8090/c/" in html and "shop.test/sale" not in html
        assert "http://127.0.0.1:8090/o/" in html
        assert message["Feedback-ID"].startswith(f"{run.id}:")


def test_a_chunk_delivered_twice_sends_each_message_once(tmp_path):
    with sending(tmp_path) as (sink, home):
        run = home.run_for(recipients(30))
        home.launch(run.id)
        # the run's enqueued count is reset, as after a launcher that died before saving it
        record_enqueued(home.store, run.id, 0, finished=False)
        home.launch(run.id)
        worker = home.work_until_idle()

        assert sink.by_recipient() == {f"user{i}@ok.test": 1 for i in range(30)}
        rows = home.log_rows(run.id)
        assert [(row["state"], row["attempts"]) for row in rows] == [("sent", 1)] * 30
        assert worker.counters.outcomes["duplicate"] >= 1  # the second copy met the first


def test_a_profile_twice_in_a_snapshot_gets_one_message(tmp_path):
    with sending(tmp_path) as (sink, home):
        run = home.run_for(recipients(3) + recipients(1))  # p0 again, with the same address
        home.launch(run.id)
        home.work_until_idle()

        assert sink.by_recipient() == {f"user{i}@ok.test": 1 for i in range(3)}


def test_a_5xx_hard_bounce_suppresses_the_address_and_stops_further_sends(tmp_path):
    answers = {"bounce.test": "550 5.1.1 <x@bounce.test>: Recipient address rejected"}
    with sending(tmp_path, answers=answers) as (sink, home):
        run = home.run_for(recipients(2, "bounce.test") + recipients(1, start=2))
        home.launch(run.id)
        home.work_until_idle()

        rows = {row["recipient"]: row for row in home.log_rows(run.id)}
        assert rows["user0@bounce.test"]["state"] == "bounced"
        assert rows["user0@bounce.test"]["bounce_type"] == "hard"
        assert rows["user0@bounce.test"]["attempts"] == 1
        suppressed = {item["address"] for item in suppressed_addresses(home.store, "email")}
        assert suppressed == {"user0@bounce.test", "user1@bounce.test"}

        sink.handler.answers.clear()
        second = home.run_for(recipients(2, "bounce.test"))
        home.launch(second.id)
        home.work_until_idle()
        assert set(home.states(second.id).values()) == {"skipped"}
        assert sink.by_recipient() == {"user2@ok.test": 1}


def test_suppressed_and_unsubscribed_profiles_never_receive(tmp_path):
    with sending(tmp_path) as (sink, home):
        set_subscription(home.store, "customers", "p1", channel="email", status="unsubscribed")
        set_subscription(
            home.store, "customers", "p2", channel="email", resource="news", status="unsubscribed"
        )
        set_subscription(
            home.store, "customers", "p3", channel="email", resource="other", status="unsubscribed"
        )
        suppress_address(home.store, "email", "USER4@ok.test", reason="stop", source="stop_list")
        run = home.run_for(recipients(6))
        home.launch(run.id)
        home.work_until_idle()

        states = home.states(run.id)
        assert states == {"p0": "sent", "p1": "skipped", "p2": "skipped", "p3": "sent",
                          "p4": "skipped", "p5": "sent"}  # fmt: skip
        assert sorted(sink.by_recipient()) == ["user0@ok.test", "user3@ok.test", "user5@ok.test"]
        reasons = {row["profile_id"]: row["diagnostic"] for row in home.log_rows(run.id)}
        assert "unsubscribed" in reasons["p1"] and "suppressed" in reasons["p4"]


def test_every_state_change_is_published_as_an_event(tmp_path):
    answers = {"bounce.test": "550 5.1.1 no such user"}
    with sending(tmp_path, answers=answers) as (_sink, home):
        suppress_address(home.store, "email", "user2@ok.test", reason="stop", source="stop_list")
        run = home.run_for(recipients(2) + recipients(1, start=2) + recipients(1, "bounce.test", 3))
        home.launch(run.id)
        home.work_until_idle()

        events = home.events()
        kinds = sorted((e["profile_id"], e["type"]) for e in events)
        assert kinds == [("p0", "queued"), ("p0", "sent"), ("p1", "queued"), ("p1", "sent"),
                         ("p2", "queued"), ("p2", "skipped"), ("p3", "bounced"),
                         ("p3", "queued")]  # fmt: skip
        bounced = next(e for e in events if e["type"] == "bounced")
        assert bounced["smtp_code"] == 550 and bounced["bounce_type"] == "hard"
        assert all(e["source"] == "sender" and e["run"] == run.id for e in events)


def test_bad_input_fails_or_defers_with_a_reason_and_the_run_goes_on(tmp_path):
    spec = default_spec()
    spec["template"]["subject"] = "{{ 1 // divisor }} Hello {{ first_name }}"
    with sending(tmp_path, domains=("ok.test", "xn--e1afmkfd.xn--p1ai", "closed.test")) as (
        sink,
        home,
    ):
        home.route("closed.test", "127.0.0.1:9")
        run = home.run_for(
            [
                ("p0", "good@ok.test", {"first_name": "A", "divisor": 1}),
                ("p1", "not an address", {"first_name": "B", "divisor": 1}),
                ("p2", "", {"first_name": "C", "divisor": 1}),
                ("p3", "raises@ok.test", {"first_name": "D", "divisor": 0}),
                ("p4", "ivan@пример.рф", {"first_name": "Иван", "divisor": 1}),
                ("p5", "nofields@ok.test", {"divisor": 1}),
                ("p6", "far@closed.test", {"first_name": "F", "divisor": 1}),
            ],
            spec=spec,
        )
        home.launch(run.id)
        home.work_until_idle(idle=1.0, timeout=20)

        rows = {row["profile_id"]: row for row in home.log_rows(run.id)}
        assert rows["p0"]["state"] == "sent"
        assert (
            rows["p1"]["state"] == "failed" and "not an e-mail address" in rows["p1"]["diagnostic"]
        )
        assert rows["p2"]["state"] == "failed" and "no address" in rows["p2"]["diagnostic"]
        assert rows["p3"]["state"] == "failed" and "ZeroDivisionError" in rows["p3"]["diagnostic"]
        assert rows["p4"]["state"] == "sent"
        assert rows["p5"]["state"] == "sent"
        assert rows["p6"]["state"] in ("deferred", "failed", "sending")
        assert "127.0.0.1:9" in (rows["p6"]["diagnostic"] or "127.0.0.1:9")
        received = sink.by_recipient()
        assert received == {"good@ok.test": 1, "ivan@xn--e1afmkfd.xn--p1ai": 1,
                            "nofields@ok.test": 1}  # fmt: skip
        assert len(rows) == 7  # received = accepted + rejected: every recipient has an outcome


def test_a_template_that_does_not_compile_fails_each_recipient_with_the_reason(tmp_path):
    spec = default_spec()
    spec["template"]["subject"] = "{% if %}"
    with sending(tmp_path) as (sink, home):
        run = home.run_for(recipients(3), spec=spec)
        home.launch(run.id)
        home.work_until_idle(idle=1.0)

        rows = home.log_rows(run.id)
        assert [row["state"] for row in rows] == ["failed"] * 3
        assert all("does not compile" in row["diagnostic"] for row in rows)
        assert sink.messages == []


def test_a_transactional_message_overtakes_a_campaign_backlog(tmp_path):
    with sending(tmp_path, delay=0.02) as (sink, home):
        campaign = home.run_for(recipients(600))
        home.launch(campaign.id)
        urgent = home.run_for([("t0", "urgent@other.test", {})], kind="transactional")
        home.launch(urgent.id)
        home.work_until_idle(idle=1.0)

        times = {mail.recipients[0]: mail.received_at for mail in sink.messages}
        assert len(times) == 601
        campaign_times = sorted(t for r, t in times.items() if r != "urgent@other.test")
        # delivered while most of the campaign was still waiting
        assert times["urgent@other.test"] < campaign_times[len(campaign_times) // 2]
