"""Asynchronous bounces and complaints: `herald bounces process` over a local Maildir drop
with a DSN (RFC 3464) and an ARF complaint (RFC 5965) about messages the sender really sent."""

from __future__ import annotations

import json
import mailbox

import pytest
from typer.testing import CliRunner

from herald.cli import app
from herald.profiles.consent import list_subscriptions
from herald.sending.suppression import suppressed_addresses
from tests.support.sending import sending

pytestmark = pytest.mark.slow


def original_headers(data: bytes) -> str:
    return data.split(b"\r\n\r\n", 1)[0].decode()


def dsn(recipient: str, original: bytes) -> str:
    return f"""From: MAILER-DAEMON@mx.ok.test
To: bounces@shop.test
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn-{recipient}@mx.ok.test>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

--B1
Content-Type: text/plain

Your message could not be delivered.

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.ok.test

Final-Recipient: rfc822; {recipient}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: User unknown

--B1
Content-Type: text/rfc822-headers

{original_headers(original)}

--B1--
"""


def arf(recipient: str, original: bytes) -> str:
    return f"""From: feedback@fbl.ok.test
To: fbl@shop.test
Subject: Abuse report
Message-ID: <arf-{recipient}@fbl.ok.test>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="B2"

--B2
Content-Type: text/plain

This is an abuse report.

--B2
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: OkFBL/1.0
Version: 1
Original-Rcpt-To: {recipient}

--B2
Content-Type: text/rfc822-headers

{original_headers(original)}

--B2--
"""


def test_bounces_and_complaints_from_the_mailbox_update_log_suppression_and_events(tmp_path):
    with sending(tmp_path) as (sink, home):
        run = home.run_for([("p0", "gone@ok.test", {}), ("p1", "angry@ok.test", {}),
                            ("p2", "happy@ok.test", {})])  # fmt: skip
        home.launch(run.id)
        home.work_until_idle()
        home.events()  # the launch and delivery events are not what this test looks at
        sent = {mail.recipients[0]: mail.data for mail in sink.messages}
        drop = mailbox.Maildir(tmp_path / "bounces", create=True)
        drop.add(dsn("gone@ok.test", sent["gone@ok.test"]).encode())
        drop.add(arf("angry@ok.test", sent["angry@ok.test"]).encode())
        drop.add(b"From: someone@ok.test\nSubject: Out of office\n\nI am away.\n")

        result = CliRunner().invoke(
            app, ["bounces", "process", "--mailbox", f"maildir:{tmp_path / 'bounces'}"],
            env=home.env, catch_exceptions=False,
        )  # fmt: skip

        assert result.exit_code == 0, result.output
        assert json.loads(result.output) == {"read": 3, "bounced": 1, "complaints": 1,
                                             "unknown": 1}  # fmt: skip
        assert home.states(run.id) == {"p0": "bounced", "p1": "sent", "p2": "sent"}
        suppressed = {item["address"]: item["source"] for item in suppressed_addresses(home.store)}
        assert suppressed == {"gone@ok.test": "bounce", "angry@ok.test": "complaint"}
        [subscription] = list_subscriptions(home.store, "customers", ["p1"])
        assert subscription["status"] == "unsubscribed"
        events = sorted((e["profile_id"], e["type"]) for e in home.events())
        assert events == [("p0", "bounced"), ("p1", "complained")]
        assert len(mailbox.Maildir(tmp_path / "bounces")) == 1  # the auto-reply stays

        again = CliRunner().invoke(
            app, ["bounces", "process", "--mailbox", f"maildir:{tmp_path / 'bounces'}"],
            env=home.env, catch_exceptions=False,
        )  # fmt: skip
        assert json.loads(again.output) == {"read": 1, "unknown": 1}
