"""SMTP replies and DSN statuses are sorted into outcomes and bounce types as providers mean."""

from __future__ import annotations

import pytest

from senders.bounces import (
    BOUNCE_TYPES,
    SUPPRESSING_TYPES,
    classify_dsn_status,
    classify_smtp_reply,
    parse_enhanced_status,
)

# (code, reply text as the server sent it, expected outcome, expected bounce type)
REAL_REPLIES: list[tuple[int, str, str, str | None]] = [
    # accepted
    (250, "2.0.0 OK  1700000000 a1-20020a05600c000100b00 - gsmtp", "sent", None),
    (250, "Ok: queued as 4BC8F1C0F3A", "sent", None),
    (250, "2.6.0 <m1@herald.example> [InternalId=123] Queued mail for delivery", "sent", None),
    # Gmail
    (
        550,
        "5.1.1 The email account that you tried to reach does not exist. Please try "
        "double-checking the recipient's email address for typos or unnecessary spaces. "
        "https://support.google.com/mail/?p=NoSuchUser",
        "bounced",
        "hard",
    ),
    (
        550,
        "550-5.1.1 The email account that you tried to reach does not exist.",
        "bounced",
        "hard",
    ),
    (
        421,
        "4.7.0 [203.0.113.5] Our system has detected an unusual rate of unsolicited mail "
        "originating from your IP address. To protect our users from spam, mail sent from "
        "your IP address has been temporarily rate limited.",
        "deferred",
        "throttled",
    ),
    (
        550,
        "5.7.26 Unauthenticated email from herald.example is not accepted due to domain's "
        "DMARC policy. Please contact the administrator of herald.example domain.",
        "bounced",
        "policy",
    ),
    (
        550,
        "5.7.26 This mail has been blocked because the sender is unauthenticated. Gmail "
        "requires all senders to authenticate with either SPF or DKIM.",
        "bounced",
        "policy",
    ),
    (
        452,
        "4.2.2 The email account that you tried to reach is over quota. Please direct the "
        "recipient to https://support.google.com/mail/?p=OverQuotaTemp",
        "deferred",
        "mailbox_full",
    ),
    (
        552,
        "5.2.2 The email account that you tried to reach is over quota and inactive.",
        "deferred",
        "mailbox_full",
    ),
    (
        421,
        "4.7.28 [203.0.113.5] Our system has detected an unusual rate of unsolicited mail "
        "originating from your DKIM domain.",
        "deferred",
        "throttled",
    ),
    (
        550,
        "5.7.1 [203.0.113.5] Our system has detected that this message is likely unsolicited "
        "mail. To reduce the amount of spam sent to Gmail, this message has been blocked.",
        "bounced",
        "policy",
    ),
    (
        552,
        "5.3.4 Your message exceeded Google's message size limits.",
        "failed",
        "content",
    ),
    (
        552,
        "5.7.0 This message was blocked because its content presents a potential security "
        "issue. Please visit https://support.google.com/mail/?p=BlockedMessage",
        "bounced",
        "policy",
    ),
    (
        535,
        "5.7.8 Username and Password not accepted.",
        "failed",
        "auth",
    ),
    (530, "5.7.0 Authentication Required.", "failed", "auth"),
    (550, "5.2.1 The email account that you tried to reach is disabled.", "bounced", "hard"),
    # Outlook / Office 365
    (550, "5.5.0 Requested action not taken: mailbox unavailable", "bounced", "hard"),
    (
        550,
        "5.5.0 Requested action not taken: mailbox unavailable (S2017062302). "
        "[DM6NAM11FT012.eop-nam11.prod.protection.outlook.com]",
        "bounced",
        "hard",
    ),
    (
        550,
        "5.7.1 Unfortunately, messages from [203.0.113.5] weren't sent. Please contact your "
        "Internet service provider since part of their network is on our block list (S3150).",
        "deferred",
        "throttled",
    ),
    (
        550,
        "5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.",
        "bounced",
        "policy",
    ),
    (
        550,
        "5.4.1 Recipient address rejected: Access denied. AS(201806281) "
        "[BN8NAM12FT021.eop-nam12.prod.protection.outlook.com]",
        "bounced",
        "hard",
    ),
    (
        550,
        "5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
        "bounced",
        "hard",
    ),
    (
        451,
        "4.7.650 The mail server [203.0.113.5] has been temporarily rate limited due to IP "
        "reputation.",
        "deferred",
        "throttled",
    ),
    (
        554,
        "5.6.211 Invalid MIME Content: Single text value size (32768) exceeded allowed "
        "maximum (32768) for the 'X-Long' header.",
        "failed",
        "content",
    ),
    # Yahoo / AOL
    (
        554,
        "delivery error: dd This user doesn't have a yahoo.com account (ann@yahoo.com) [0] "
        "- mta1234.mail.gq1.yahoo.com",
        "bounced",
        "hard",
    ),
    (
        421,
        "4.7.0 [TSS04] Messages from 203.0.113.5 temporarily deferred due to unexpected volume "
        "or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
        "deferred",
        "throttled",
    ),
    (
        553,
        "5.7.1 [BL21] Connections will not be accepted from 203.0.113.5, because the ip is in "
        "Spamhaus's list; see https://postmaster.yahooinc.com/error-codes",
        "bounced",
        "policy",
    ),
    (
        552,
        "1 Requested mail action aborted, mailbox not found",
        "bounced",
        "hard",
    ),
    # Yandex
    (550, "5.7.1 No such user!", "bounced", "hard"),
    (
        451,
        "4.7.1 Sorry, the service is currently unavailable. Please come back later.",
        "deferred",
        "throttled",
    ),
    (
        554,
        "5.7.1 [2] Message rejected under suspicion of SPAM; https://ya.cc/1IrBc",
        "bounced",
        "policy",
    ),
    (552, "5.3.4 Message size exceeds fixed limit", "failed", "content"),
    # Mail.ru
    (
        550,
        "Message was not accepted -- invalid mailbox.  Local mailbox ann@mail.ru is "
        "unavailable: user not found",
        "bounced",
        "hard",
    ),
    (
        550,
        "spam message rejected. Please visit http://help.mail.ru/notspam-support",
        "bounced",
        "policy",
    ),
    (451, "Try again later", "deferred", "throttled"),
    (
        421,
        "ratelimit exceeded for this host; see http://help.mail.ru/mail-help/postmaster",
        "deferred",
        "throttled",
    ),
    (
        550,
        "Message was not accepted -- invalid mailbox. Local mailbox ann@mail.ru is "
        "unavailable: account is disabled",
        "bounced",
        "hard",
    ),
    # Postfix, Exim, generic MTAs
    (
        550,
        "5.1.1 <ann@shop.example>: Recipient address rejected: "
        "User unknown in virtual mailbox table",
        "bounced",
        "hard",
    ),
    (
        450,
        "4.1.1 <ann@shop.example>: Recipient address rejected: "
        "User unknown in local recipient table",
        "deferred",
        "soft",
    ),
    (
        450,
        "4.2.0 <ann@shop.example>: Recipient address rejected: Greylisted, see "
        "http://postgrey.schweikert.ch/help/shop.example.html",
        "deferred",
        "throttled",
    ),
    (
        554,
        "5.7.1 Service unavailable; Client host [203.0.113.5] blocked using zen.spamhaus.org",
        "bounced",
        "policy",
    ),
    (554, "5.7.1 <ann@shop.example>: Relay access denied", "bounced", "policy"),
    (
        550,
        "5.1.2 Host or domain name not found. Name service error for name=nope.example type=MX",
        "bounced",
        "hard",
    ),
    (
        556,
        "5.1.10 <ann@nomail.example>: Recipient address rejected: Domain nomail.example "
        "does not accept mail (nullMX)",
        "bounced",
        "hard",
    ),
    (550, "5.4.4 Unable to route: no mail hosts for domain", "bounced", "dns"),
    (451, "4.4.0 DNS resolution failed for shop.example", "deferred", "dns"),
    (421, "4.4.2 shop.example Error: timeout exceeded", "deferred", "network"),
    (421, "Service not available, closing transmission channel", "deferred", "network"),
    (452, "4.3.1 Insufficient system storage", "deferred", "mailbox_full"),
    (451, "4.3.0 Error: queue file write error", "deferred", "network"),
    (550, "Administrative prohibition", "bounced", "policy"),
    (550, "Requested action not taken", "bounced", "hard"),
    (451, "4.7.1 Client host rejected: blocked using bl.spamcop.net", "deferred", "policy"),
    (554, "5.6.0 Message contains a virus (Eicar-Test-Signature)", "failed", "content"),
    (552, "Message size exceeds maximum permitted", "failed", "content"),
    (550, "5.2.2 <ann@shop.example>: user is over quota", "deferred", "mailbox_full"),
    (554, "Transaction failed", "bounced", "policy"),
    (500, "5.5.2 Error: bad syntax", "failed", "network"),
    (553, "5.1.3 Invalid address format", "bounced", "hard"),
    (
        553,
        "5.1.8 <bounce@herald.example>: Sender address rejected: Domain not found",
        "failed",
        "auth",
    ),
    (550, "5.7.606 Access denied, banned sending IP [203.0.113.5]", "bounced", "policy"),
]


@pytest.mark.parametrize(("code", "text", "outcome", "bounce_type"), REAL_REPLIES)
def test_real_world_replies_are_classified(
    code: int, text: str, outcome: str, bounce_type: str | None
) -> None:
    result = classify_smtp_reply(code, text)

    assert (result.outcome, result.bounce_type) == (outcome, bounce_type)


def test_the_table_covers_at_least_forty_real_replies() -> None:
    assert len(REAL_REPLIES) >= 40


def test_every_classified_type_is_a_documented_type() -> None:
    types = {classify_smtp_reply(code, text).bounce_type for code, text, _, _ in REAL_REPLIES}

    assert types - {None} <= set(BOUNCE_TYPES)


def test_a_result_carries_code_status_and_one_line_diagnostic() -> None:
    result = classify_smtp_reply(
        550, "5.1.1 The email account that you tried to reach does not exist.\n  Please try"
    )

    assert (result.code, result.status, result.diagnostic) == (
        550,
        "5.1.1",
        "5.1.1 The email account that you tried to reach does not exist. Please try",
    )


def test_a_given_enhanced_status_wins_over_the_text() -> None:
    result = classify_smtp_reply(550, "Requested action not taken", enhanced="5.2.2")

    assert (result.status, result.outcome, result.bounce_type) == (
        "5.2.2",
        "deferred",
        "mailbox_full",
    )


def test_a_reply_without_enhanced_status_has_none() -> None:
    assert classify_smtp_reply(451, "Try again later").status is None


def test_the_diagnostic_is_at_most_500_characters() -> None:
    assert len(classify_smtp_reply(550, "5.1.1 user unknown " * 100).diagnostic) == 500


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("5.1.1 user unknown", "5.1.1"),
        ("550-5.7.26 DMARC", "5.7.26"),
        ("550 5.4.1 Recipient address rejected", "5.4.1"),
        ("#5.1.10 no such", "5.1.10"),
        ("Try again later", None),
        ("550 user unknown", None),
    ],
)
def test_enhanced_status_is_read_from_the_start_of_the_text(text: str, status: str | None) -> None:
    assert parse_enhanced_status(text) == status


def test_only_hard_bounces_suppress() -> None:
    assert {"hard"} == SUPPRESSING_TYPES


def test_a_spam_block_under_550_is_not_an_address_problem() -> None:
    result = classify_smtp_reply(550, "5.7.1 Message rejected as spam by Content Filtering")

    assert result.bounce_type not in SUPPRESSING_TYPES


@pytest.mark.parametrize(
    ("status", "diagnostic", "expected"),
    [
        ("5.1.1", "smtp; 550 5.1.1 <ann@shop.example>: User unknown", ("hard", True)),
        (
            "5.0.0",
            "smtp; 550-5.1.1 The email account that you tried to reach does not exist.",
            ("hard", True),
        ),
        ("5.2.2", "smtp; 552 5.2.2 Mailbox full", ("mailbox_full", False)),
        (
            "4.4.7",
            "X-Postfix; delivery temporarily suspended: connection timed out",
            ("network", False),
        ),
        ("5.4.4", "X-Postfix; Host or domain name not found", ("dns", True)),
        (
            "5.7.1",
            "smtp; 554 5.7.1 Service unavailable; blocked using zen.spamhaus.org",
            ("policy", True),
        ),
        ("4.7.0", "smtp; 421 4.7.0 [TSS04] Messages temporarily deferred", ("throttled", False)),
        ("5.0.0", "", ("hard", True)),
        ("5.3.4", "smtp; 552 5.3.4 Message size exceeds fixed limit", ("content", True)),
        ("", "smtp; 550 5.1.1 user unknown", ("hard", True)),
    ],
)
def test_dsn_statuses_are_classified(
    status: str, diagnostic: str, expected: tuple[str, bool]
) -> None:
    assert classify_dsn_status(status, diagnostic) == expected
