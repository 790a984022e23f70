"""What segments read from the operational store: subscription states and relations, as rows
for herald.segments.inputs to copy into the warehouse."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from herald.store.engine import session_scope
from herald.store.models import ProfileDatabase, ProfileRelation, ProfileSubscription


def subscription_rows(store: Engine) -> list[dict[str, Any]]:
    with session_scope(store) as session:
        names = {row.id: row.name for row in session.scalars(select(ProfileDatabase))}
        return [
            {
                "database": names[row.database_id],
                "profile_id": row.profile_id,
                "channel": row.channel,
                "resource": row.resource,
                "status": row.status,
                "changed_at": row.updated_at,
            }
            for row in session.scalars(select(ProfileSubscription))
            if row.database_id in names
        ]


def relation_rows(store: Engine) -> list[dict[str, Any]]:
    with session_scope(store) as session:
        names = {row.id: row.name for row in session.scalars(select(ProfileDatabase))}
        return [
            {
                "database": names[row.database_id],
                "from_profile_id": row.from_profile_id,
                "to_profile_id": row.to_profile_id,
                "kind": row.kind,
            }
            for row in session.scalars(select(ProfileRelation))
            if row.database_id in names
        ]
