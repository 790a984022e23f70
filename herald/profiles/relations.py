"""Typed links between two profiles of one database ("family", "manager of").

    add_relation(store, "shop", "p_shop:crm:1", "p_shop:crm:2", kind="manager of")

A relation has a direction (from → to) and a kind; the card of either profile shows it, as
`outgoing` on the first and `incoming` on the second. The caller checks that both profiles
exist (they live in the warehouse) and passes their live ids.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, delete, or_, select
from sqlalchemy.exc import IntegrityError

from herald.errors import HeraldError
from herald.profiles.store_ids import database_id
from herald.store import ProfileRelation, session_scope
from herald.store.models import utc_now

MAX_KIND_LENGTH = 100


class RelationError(HeraldError):
    """A relation that cannot be made: a bad kind, a profile related to itself."""


class RelationExists(RelationError):
    """The same relation (from, to, kind) is already there."""


class UnknownRelation(RelationError):
    """No such relation to delete."""


def check_kind(kind: str) -> str:
    """The kind as stored (surrounding spaces removed); RelationError if it is unusable."""
    cleaned = " ".join(kind.split())
    if not cleaned or len(cleaned) > MAX_KIND_LENGTH:
        raise RelationError(
            f"kind {kind[:40]!r}: give a short name for the relation (1 to {MAX_KIND_LENGTH} "
            'characters), such as "family" or "manager of"'
        )
    return cleaned


def add_relation(
    store: Engine,
    database: str,
    from_profile_id: str,
    to_profile_id: str,
    *,
    kind: str,
    created_by: str | None = None,
) -> dict[str, Any]:
    """Link two profiles; RelationExists if that link is already there."""
    kind = check_kind(kind)
    if from_profile_id == to_profile_id:
        raise RelationError(f"a profile cannot be related to itself ({from_profile_id})")
    try:
        with session_scope(store) as session:
            relation = ProfileRelation(
                database_id=database_id(session, database),
                from_profile_id=from_profile_id,
                to_profile_id=to_profile_id,
                kind=kind,
                created_at=utc_now(),
                created_by=created_by,
            )
            session.add(relation)
            session.flush()
            return _relation(relation, "outgoing")
    except IntegrityError:
        raise RelationExists(
            f"{from_profile_id} is already related to {to_profile_id} as {kind!r}"
        ) from None


def delete_relation(
    store: Engine, database: str, from_profile_id: str, to_profile_id: str, *, kind: str
) -> None:
    """Remove a link; UnknownRelation if there is none."""
    kind = check_kind(kind)
    with session_scope(store) as session:
        db_id = database_id(session, database)
        result = session.execute(
            delete(ProfileRelation).where(
                ProfileRelation.database_id == db_id,
                ProfileRelation.from_profile_id == from_profile_id,
                ProfileRelation.to_profile_id == to_profile_id,
                ProfileRelation.kind == kind,
            )
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise UnknownRelation(
                f"{from_profile_id} is not related to {to_profile_id} as {kind!r}"
            )


def list_relations(store: Engine, database: str, profile_ids: list[str]) -> list[dict[str, Any]]:
    """A profile's relations (its live id and aliases) both ways: `direction` is outgoing
    (this profile → `profile_id`) or incoming (`profile_id` → this profile)."""
    ids = set(profile_ids)
    with session_scope(store) as session:
        db_id = database_id(session, database)
        rows = (
            session.execute(
                select(ProfileRelation)
                .where(
                    ProfileRelation.database_id == db_id,
                    or_(
                        ProfileRelation.from_profile_id.in_(ids),
                        ProfileRelation.to_profile_id.in_(ids),
                    ),
                )
                .order_by(ProfileRelation.created_at, ProfileRelation.id)
            )
            .scalars()
            .all()
        )
        found = []
        for row in rows:
            if row.from_profile_id in ids:
                found.append(_relation(row, "outgoing"))
            if row.to_profile_id in ids:
                found.append(_relation(row, "incoming"))
        return found


def _relation(row: ProfileRelation, direction: str) -> dict[str, Any]:
    other = row.to_profile_id if direction == "outgoing" else row.from_profile_id
    return {
        "direction": direction,
        "kind": row.kind,
        "profile_id": other,
        "from_profile_id": row.from_profile_id,
        "to_profile_id": row.to_profile_id,
        "created_at": row.created_at,
        "created_by": row.created_by,
    }
