"""A profile's subscriptions per channel and resource, with the history of every change.

    set_subscription(store, "shop", "p_shop:crm:1", channel="email", resource="news",
                     status="unsubscribed", reason="clicked unsubscribe", source="api")

The current status is one row of `profile_subscriptions` per (database, profile, channel,
resource); every change that alters the status or the reason is also appended to
`profile_subscription_changes`, which is never updated. A resource names a newsletter or a
topic; `*` stands for the whole channel. Consent lives in the operational store, so it takes
effect at once (the sender checks it at send time), not at the next build.

The caller resolves the profile (an id, alias or identifier) to its live id first; reading
takes the live id and its aliases, so a subscription set before a merge stays on the card.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from herald.errors import HeraldError
from herald.profiles.store_ids import database_id
from herald.store import ProfileSubscription, ProfileSubscriptionChange, session_scope
from herald.store.models import CHANNELS, SUBSCRIPTION_STATUSES, utc_now

WHOLE_CHANNEL = "*"
_RESOURCE = re.compile(r"^[^\s].{0,198}[^\s]$|^[^\s]$")


class SubscriptionError(HeraldError):
    """A subscription change with an unknown channel or status, or a malformed resource."""


@dataclass(frozen=True)
class SubscriptionChange:
    """What `set_subscription` did: the status before (None if new) and after."""

    channel: str
    resource: str
    status: str
    previous_status: str | None
    changed: bool


def check_subscription(channel: str, resource: str, status: str) -> None:
    """SubscriptionError naming what is wrong with a channel, resource or status."""
    if channel not in CHANNELS:
        raise SubscriptionError(f"channel {channel!r} is not one of {', '.join(CHANNELS)}")
    if status not in SUBSCRIPTION_STATUSES:
        raise SubscriptionError(
            f"status {status!r} is not one of {', '.join(SUBSCRIPTION_STATUSES)}"
        )
    if not _RESOURCE.match(resource) or "\n" in resource:
        raise SubscriptionError(
            f"resource {resource[:40]!r}: give a newsletter or topic name (1 to 200 characters, "
            f"one line, no surrounding spaces) or {WHOLE_CHANNEL!r} for the whole channel"
        )


def set_subscription(
    store: Engine,
    database: str,
    profile_id: str,
    *,
    channel: str,
    resource: str = WHOLE_CHANNEL,
    status: str,
    reason: str | None = None,
    source: str = "api",
) -> SubscriptionChange:
    """Make a profile's subscription to a channel and resource `status`; the change (if any)
    is kept in the history. Two first changes at once: the loser sees the winner's row and
    tries once more as a change of it."""
    check_subscription(channel, resource, status)
    try:
        return _set(store, database, profile_id, channel, resource, status, reason, source)
    except IntegrityError:
        return _set(store, database, profile_id, channel, resource, status, reason, source)


def _set(
    store: Engine,
    database: str,
    profile_id: str,
    channel: str,
    resource: str,
    status: str,
    reason: str | None,
    source: str,
) -> SubscriptionChange:
    now = utc_now()
    with session_scope(store) as session:
        db_id = database_id(session, database)
        current = session.execute(
            select(ProfileSubscription).where(
                ProfileSubscription.database_id == db_id,
                ProfileSubscription.profile_id == profile_id,
                ProfileSubscription.channel == channel,
                ProfileSubscription.resource == resource,
            )
        ).scalar_one_or_none()
        previous = current.status if current is not None else None
        if current is not None and (current.status, current.reason) == (status, reason):
            return SubscriptionChange(channel, resource, status, previous, changed=False)
        if current is None:
            session.add(
                ProfileSubscription(
                    database_id=db_id,
                    profile_id=profile_id,
                    channel=channel,
                    resource=resource,
                    status=status,
                    reason=reason,
                    source=source,
                    updated_at=now,
                )
            )
        else:
            current.status, current.reason = status, reason
            current.source, current.updated_at = source, now
        session.add(
            ProfileSubscriptionChange(
                database_id=db_id,
                profile_id=profile_id,
                channel=channel,
                resource=resource,
                status=status,
                previous_status=previous,
                reason=reason,
                source=source,
                changed_at=now,
            )
        )
    return SubscriptionChange(channel, resource, status, previous, changed=True)


def list_subscriptions(
    store: Engine, database: str, profile_ids: list[str]
) -> list[dict[str, Any]]:
    """The current subscriptions of a profile (its live id and aliases), by channel and
    resource; where an alias and the live id both have one, the latest wins."""
    with session_scope(store) as session:
        db_id = database_id(session, database)
        rows = (
            session.execute(
                select(ProfileSubscription)
                .where(
                    ProfileSubscription.database_id == db_id,
                    ProfileSubscription.profile_id.in_(profile_ids),
                )
                .order_by(ProfileSubscription.updated_at, ProfileSubscription.id)
            )
            .scalars()
            .all()
        )
        latest = {
            (row.channel, row.resource): {
                "channel": row.channel,
                "resource": row.resource,
                "status": row.status,
                "reason": row.reason,
                "source": row.source,
                "updated_at": row.updated_at,
                "profile_id": row.profile_id,
            }
            for row in rows
        }
    return [latest[key] for key in sorted(latest)]


def subscription_history(
    store: Engine, database: str, profile_ids: list[str], limit: int = 500
) -> list[dict[str, Any]]:
    """The latest `limit` changes of a profile's subscriptions, newest first."""
    with session_scope(store) as session:
        db_id = database_id(session, database)
        rows = (
            session.execute(
                select(ProfileSubscriptionChange)
                .where(
                    ProfileSubscriptionChange.database_id == db_id,
                    ProfileSubscriptionChange.profile_id.in_(profile_ids),
                )
                .order_by(
                    ProfileSubscriptionChange.changed_at.desc(),
                    ProfileSubscriptionChange.id.desc(),
                )
                .limit(limit)
            )
            .scalars()
            .all()
        )
        return [_change(row) for row in rows]


def _change(row: ProfileSubscriptionChange) -> dict[str, Any]:
    changed_at: datetime = row.changed_at
    return {
        "channel": row.channel,
        "resource": row.resource,
        "status": row.status,
        "previous_status": row.previous_status,
        "reason": row.reason,
        "source": row.source,
        "changed_at": changed_at,
        "profile_id": row.profile_id,
    }
