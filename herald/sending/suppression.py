"""Who may not receive a message right now: checked by the sender right before delivery.

    suppress_address(store, "email", "Anna@Example.com", reason="550 5.1.1 user unknown",
                     source="bounce")
    reasons = blocked(store, "email", "news", "shop", [(key, profile_id, address), ...])
    # {key: "address suppressed: ...", key2: "unsubscribed from email/*", ...}

Two things stop a message (rule 4, consent at send time):
- the address is suppressed on the channel (`suppressed_addresses`: hard bounces and
  complaints found by the sender, stop-lists added by people), whoever's profile holds it;
- the profile is `unsubscribed` or `suppressed` on the channel, for the whole channel (`*`)
  or for the run's resource (newsletter or topic) (`profile_subscriptions`, herald.profiles
  .consent).

Both are read from the operational store in one query each per batch, so a change takes
effect for the next batch a worker takes, not at the next build.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Table, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from herald.errors import HeraldError
from herald.store.models import (
    ProfileDatabase,
    ProfileSubscription,
    SuppressedAddress,
    utc_now,
)

SUPPRESSED: Table = SuppressedAddress.__table__  # type: ignore[assignment]
SUBSCRIPTIONS: Table = ProfileSubscription.__table__  # type: ignore[assignment]
SOURCES = ("bounce", "complaint", "stop_list", "api")
BLOCKING_STATUSES = ("unsubscribed", "suppressed")
_IN_BATCH = 500


class SuppressionError(HeraldError):
    """A suppression with an unknown source or an empty address."""


def normalise_address(channel: str, address: str) -> str:
    """The form addresses are compared in: e-mail lowercased (RFC 5321 local parts may be
    case-sensitive, but no mailbox provider treats them so, and a stop-list must not be
    dodged by case); other channels trimmed."""
    address = address.strip()
    return address.lower() if channel == "email" else address


def suppress_address(
    store: Engine,
    channel: str,
    address: str,
    *,
    reason: str,
    source: str,
    run_id: str | None = None,
) -> bool:
    """Suppress an address on a channel; False if it already was (the first reason stays)."""
    if source not in SOURCES:
        raise SuppressionError(f"source {source!r} is not one of {', '.join(SOURCES)}")
    normal = normalise_address(channel, address)
    if not normal:
        raise SuppressionError("an empty address cannot be suppressed")
    insert = pg_insert if store.dialect.name == "postgresql" else sqlite_insert
    with store.begin() as connection:
        done = connection.execute(
            insert(SUPPRESSED)
            .on_conflict_do_nothing(index_elements=["channel", "address"])
            .values(
                channel=channel,
                address=normal[:320],
                reason=reason[:500],
                source=source,
                run_id=run_id,
                created_at=utc_now(),
            )
        )
        return bool(done.rowcount)


def unsuppress_address(store: Engine, channel: str, address: str) -> bool:
    with store.begin() as connection:
        done = connection.execute(
            delete(SUPPRESSED).where(
                SUPPRESSED.c.channel == channel,
                SUPPRESSED.c.address == normalise_address(channel, address),
            )
        )
        return bool(done.rowcount)


def suppressed_addresses(
    store: Engine, channel: str | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    query = select(SUPPRESSED).order_by(SUPPRESSED.c.created_at.desc()).limit(limit)
    if channel:
        query = query.where(SUPPRESSED.c.channel == channel)
    with store.connect() as connection:
        return [_public(dict(row._mapping)) for row in connection.execute(query)]


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


def blocked(
    store: Engine,
    channel: str,
    resource: str,
    database: str | None,
    candidates: Sequence[tuple[str, str, str]],
) -> dict[str, str]:
    """For (key, profile_id, address) candidates, the keys that must not be sent, with why."""
    reasons: dict[str, str] = {}
    if not candidates:
        return reasons
    by_address: dict[str, list[str]] = {}
    by_profile: dict[str, list[str]] = {}
    for key, profile_id, address in candidates:
        if address:
            by_address.setdefault(normalise_address(channel, address), []).append(key)
        by_profile.setdefault(profile_id, []).append(key)
    with store.connect() as connection:
        addresses = list(by_address)
        for start in range(0, len(addresses), _IN_BATCH):
            rows = connection.execute(
                select(SUPPRESSED.c.address, SUPPRESSED.c.source, SUPPRESSED.c.reason).where(
                    SUPPRESSED.c.channel == channel,
                    SUPPRESSED.c.address.in_(addresses[start : start + _IN_BATCH]),
                )
            )
            for address, source, reason in rows:
                for key in by_address[address]:
                    reasons[key] = f"address suppressed ({source}): {reason}"
        if database is None:
            return reasons
        database_id = connection.execute(
            select(ProfileDatabase.id).where(ProfileDatabase.name == database)
        ).scalar_one_or_none()
        if database_id is None:
            return reasons
        profiles = list(by_profile)
        for start in range(0, len(profiles), _IN_BATCH):
            rows = connection.execute(
                select(
                    SUBSCRIPTIONS.c.profile_id,
                    SUBSCRIPTIONS.c.resource,
                    SUBSCRIPTIONS.c.status,
                ).where(
                    SUBSCRIPTIONS.c.database_id == database_id,
                    SUBSCRIPTIONS.c.channel == channel,
                    SUBSCRIPTIONS.c.resource.in_(("*", resource)),
                    SUBSCRIPTIONS.c.status.in_(BLOCKING_STATUSES),
                    SUBSCRIPTIONS.c.profile_id.in_(profiles[start : start + _IN_BATCH]),
                )
            )
            for profile_id, found_resource, status in rows:
                for key in by_profile[profile_id]:
                    reasons.setdefault(key, f"{status} from {channel}/{found_resource}")
    return reasons
