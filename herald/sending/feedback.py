"""What comes back after a message was accepted: asynchronous bounces and complaints, applied
to the send log and the suppression list.

    applied = apply_bounce(store, key, status="5.1.1", diagnostic="...", bounce_type="hard",
                           recipient="anna@example.com")      # "sent" -> "bounced"
    apply_complaint(store, key, recipient="anna@example.com", feedback_type="abuse")

A hard bounce suppresses the address; a complaint (a recipient marked the message as spam)
suppresses the address and unsubscribes the profile from the channel, because sending to
people who complain is what gets a sender blocked. Both take effect at once for every run.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from sqlalchemy import Engine, select, update

from herald.profiles.consent import set_subscription
from herald.profiles.databases import UnknownProfileDatabase
from herald.sending.send_log import LOG
from herald.sending.suppression import suppress_address
from herald.store.models import SendRun, utc_now

SUPPRESSING_BOUNCES = frozenset({"hard"})


@dataclass(frozen=True)
class SentMessage:
    key: str
    run_id: str
    profile_id: str
    channel: str
    recipient: str
    state: str
    attempts: int
    message_id: str | None
    database: str | None


def find_message(
    store: Engine, key: str | None, message_id: str | None = None
) -> SentMessage | None:
    """The send-log entry of a key (our X-Herald-Key), else of a Message-ID."""
    if not key and not message_id:
        return None
    condition = LOG.c.key == key if key else LOG.c.message_id == (message_id or "").strip("<>")
    with store.connect() as connection:
        row = connection.execute(
            select(
                LOG.c.key,
                LOG.c.run_id,
                LOG.c.profile_id,
                LOG.c.channel,
                LOG.c.recipient,
                LOG.c.state,
                LOG.c.attempts,
                LOG.c.message_id,
                SendRun.database,
            )
            .join(SendRun, SendRun.id == LOG.c.run_id, isouter=True)
            .where(condition)
        ).first()
    return SentMessage(*row) if row else None


def apply_bounce(
    store: Engine,
    message: SentMessage,
    *,
    status: str | None,
    diagnostic: str,
    bounce_type: str | None,
) -> bool:
    """Mark an accepted message bounced (a DSN came back); True if the log changed."""
    with store.begin() as connection:
        changed = connection.execute(
            update(LOG)
            .where(LOG.c.key == message.key, LOG.c.state == "sent")
            .values(
                state="bounced",
                status=(status or "")[:16] or None,
                bounce_type=bounce_type,
                diagnostic=diagnostic[:500],
                updated_at=utc_now(),
            )
        ).rowcount
    if bounce_type in SUPPRESSING_BOUNCES:
        suppress_address(
            store,
            message.channel,
            message.recipient,
            reason=f"bounced ({status}): {diagnostic}"[:500],
            source="bounce",
            run_id=message.run_id,
        )
    return bool(changed)


def apply_complaint(store: Engine, message: SentMessage, *, feedback_type: str | None) -> None:
    reason = f"complaint ({feedback_type or 'abuse'})"
    suppress_address(
        store, message.channel, message.recipient, reason=reason, source="complaint",
        run_id=message.run_id,
    )  # fmt: skip
    if message.database:
        with contextlib.suppress(UnknownProfileDatabase):
            set_subscription(
                store,
                message.database,
                message.profile_id,
                channel=message.channel,
                status="unsubscribed",
                reason=reason,
                source="complaint",
            )
