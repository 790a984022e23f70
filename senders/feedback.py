"""`herald bounces process`: read the bounce mailbox and apply what it says.

    summary = process_mailbox(settings, store, "maildir:/var/mail/bounces")
    # {"read": 12, "bounced": 7, "delayed": 2, "complaints": 1, "unmatched": 1, "unknown": 1}

Reports come from senders/mailbox.py (DSNs, ARF complaints, text bounces). Each is matched to
its message by our `X-Herald-Key` header in the returned original (else its Message-ID), then
applied (herald/sending/feedback.py): a permanent failure makes the message `bounced` and a
hard one suppresses the address; a complaint suppresses the address and unsubscribes the
profile. Each is also published to the events queue (`bounced`, `complained`), so it reaches
`message_events`. A mail is removed from the mailbox only after all of that is done; a mail
that is not a report (an auto-reply) stays for a person to read. Running it again over the
same mails is harmless: an event's id derives from its message and kind, and applying is
idempotent.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from typing import Any

import pika
from sqlalchemy import Engine

from herald.broker import declare_events_queues
from herald.sending.events import event_bundle, sender_event
from herald.sending.feedback import SentMessage, apply_bounce, apply_complaint, find_message
from herald.settings import Settings
from senders.mailbox import MailboxReport, open_mailbox


def process_mailbox(
    settings: Settings, store: Engine, url: str, *, limit: int = 500
) -> dict[str, int]:
    reader = open_mailbox(url)
    reports = reader.read(limit)
    counts: Counter[str] = Counter(read=len(reports))
    events: list[dict[str, Any]] = []
    confirmed: list[str] = []
    for report in reports:
        if report.kind == "unknown":
            counts["unknown"] += 1
            continue
        message = find_message(store, report.herald_key, report.original_message_id)
        if message is None:
            counts["unmatched"] += 1
            confirmed.append(report.source_handle)
            continue
        if report.kind == "complaint":
            apply_complaint(store, message, feedback_type=report.feedback_type)
            events.append(_event(report, message, "complained"))
            counts["complaints"] += 1
        elif report.kind == "bounce" and report.permanent:
            changed = apply_bounce(
                store,
                message,
                status=report.status,
                diagnostic=report.diagnostic,
                bounce_type=report.bounce_type,
            )
            if changed:  # a second report of the same bounce changes nothing and counts once
                events.append(_event(report, message, "bounced"))
            counts["bounced"] += 1
        else:
            counts["delayed"] += 1
        confirmed.append(report.source_handle)
    if events:
        _publish(settings, events)
    if confirmed:
        reader.done(sorted(set(confirmed)))
    return dict(counts)


def _event(report: MailboxReport, message: SentMessage, event_type: str) -> dict[str, Any]:
    # one bounce or complaint per message, however many reports say so
    event_id = hashlib.blake2b(
        f"{message.key}|{event_type}|mailbox".encode(), digest_size=16
    ).hexdigest()
    arrived = report.arrived_at
    return sender_event(
        event_type=event_type,
        event_id=event_id,
        message_id=message.message_id,
        run_id=message.run_id,
        channel=message.channel,
        recipient=message.recipient,
        database=message.database,
        profile_id=message.profile_id,
        occurred_at=int((arrived.timestamp() if arrived else time.time()) * 1000),
        provider=report.remote_mta or report.user_agent,
        bounce_type=report.bounce_type if event_type == "bounced" else "complaint",
        smtp_status=report.status,
        diagnostic=report.diagnostic or report.feedback_type,
    )


def _publish(settings: Settings, events: list[dict[str, Any]]) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(settings.broker))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        declare_events_queues(channel, settings.events_queue)
        channel.basic_publish(
            exchange="",
            routing_key=settings.events_queue,
            body=event_bundle(events),
            properties=pika.BasicProperties(delivery_mode=2),
            mandatory=True,
        )
    finally:
        connection.close()
