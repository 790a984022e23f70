"""Tracking sources: the websites, apps and servers that send events, each with a write key.

    created = create_source(store, "web", database="customers")   # created.write_key: once
    source = find_source(store, write_key)                          # None: unknown or disabled

A write key is shown once, when it is made; the store keeps its SHA-256, so a leaked store
does not leak keys. The source names the profile database its identify calls go to, and
which of the database's fields a Segment `userId` and `anonymousId` fill (by default a
field named `user_id` / `anonymous_id`, or the identifier `external_id` /
`custom:anonymous_id`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from herald.errors import HeraldError
from herald.profiles.databases import get_database
from herald.profiles.schema import ProfileField
from herald.store import ProfileDatabase, session_scope
from herald.store.models import TrackingSource, utc_now

KEY_PREFIX = "hwk_"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class TrackingSourceError(HeraldError):
    """A tracking source that cannot be made or found as asked."""


@dataclass(frozen=True)
class Source:
    """A tracking source as the tracker and the loader use it."""

    name: str
    database: str
    user_id_field: str | None
    anonymous_id_field: str | None
    key_prefix: str
    created_at: datetime
    disabled: bool = False


@dataclass(frozen=True)
class CreatedSource:
    source: Source
    write_key: str


def key_hash(write_key: str) -> str:
    return hashlib.sha256(write_key.encode("utf-8")).hexdigest()


def _default_field(
    fields: tuple[ProfileField, ...], name: str, identifiers: tuple[str, ...]
) -> str | None:
    for item in fields:
        if item.name == name:
            return item.name
    for kind in identifiers:
        for item in fields:
            if item.identifier == kind:
                return item.name
    return None


def _check_field(fields: tuple[ProfileField, ...], name: str | None, what: str) -> None:
    if name is None:
        return
    known = {item.name: item for item in fields}
    if name not in known:
        raise TrackingSourceError(
            f"{what}: the database has no field {name!r} (its fields: {', '.join(known)})"
        )
    if known[name].identifier is None:
        raise TrackingSourceError(
            f"{what}: field {name!r} is not an identifier, so it cannot link events to a profile"
        )


def create_source(
    store: Engine,
    name: str,
    *,
    database: str,
    user_id_field: str | None = None,
    anonymous_id_field: str | None = None,
) -> CreatedSource:
    """Make a source and its write key (returned once, never stored)."""
    if not _NAME.match(name):
        raise TrackingSourceError(
            f"source name {name!r}: use lowercase letters, digits and _ (a letter first)"
        )
    info = get_database(store, database)
    fields = info.schema.fields
    user_field = user_id_field or _default_field(fields, "user_id", ("external_id",))
    anonymous_field = anonymous_id_field or _default_field(
        fields, "anonymous_id", ("custom:anonymous_id",)
    )
    _check_field(fields, user_field, "--user-id-field")
    _check_field(fields, anonymous_field, "--anonymous-id-field")
    write_key = KEY_PREFIX + secrets.token_urlsafe(24)
    try:
        with session_scope(store) as session:
            database_row = session.scalars(
                select(ProfileDatabase).where(ProfileDatabase.name == database)
            ).one()
            row = TrackingSource(
                name=name,
                database_id=database_row.id,
                key_hash=key_hash(write_key),
                key_prefix=write_key[:10],
                user_id_field=user_field,
                anonymous_id_field=anonymous_field,
                created_at=utc_now(),
            )
            session.add(row)
            session.flush()
            source = _source(row, database)
    except IntegrityError:
        raise TrackingSourceError(f"a source named {name!r} already exists") from None
    return CreatedSource(source, write_key)


def _source(row: TrackingSource, database: str) -> Source:
    return Source(
        name=row.name,
        database=database,
        user_id_field=row.user_id_field,
        anonymous_id_field=row.anonymous_id_field,
        key_prefix=row.key_prefix,
        created_at=row.created_at,
        disabled=row.disabled_at is not None,
    )


def find_source(store: Engine, write_key: str) -> Source | None:
    """The enabled source of a write key, or None."""
    if not write_key.startswith(KEY_PREFIX) or len(write_key) > 100:
        return None
    with session_scope(store) as session:
        found = session.execute(
            select(TrackingSource, ProfileDatabase.name)
            .join(ProfileDatabase, ProfileDatabase.id == TrackingSource.database_id)
            .where(TrackingSource.key_hash == key_hash(write_key))
            .where(TrackingSource.disabled_at.is_(None))
        ).first()
        return None if found is None else _source(found[0], found[1])


def get_source(store: Engine, name: str) -> Source:
    with session_scope(store) as session:
        found = session.execute(
            select(TrackingSource, ProfileDatabase.name)
            .join(ProfileDatabase, ProfileDatabase.id == TrackingSource.database_id)
            .where(TrackingSource.name == name)
        ).first()
        if found is None:
            raise TrackingSourceError(f"no tracking source named {name!r}")
        return _source(found[0], found[1])


def list_sources(store: Engine) -> list[Source]:
    with session_scope(store) as session:
        rows = session.execute(
            select(TrackingSource, ProfileDatabase.name)
            .join(ProfileDatabase, ProfileDatabase.id == TrackingSource.database_id)
            .order_by(TrackingSource.name)
        ).all()
        return [_source(row[0], row[1]) for row in rows]


def disable_source(store: Engine, name: str) -> None:
    with session_scope(store) as session:
        row = session.scalars(select(TrackingSource).where(TrackingSource.name == name)).first()
        if row is None:
            raise TrackingSourceError(f"no tracking source named {name!r}")
        if row.disabled_at is None:
            row.disabled_at = utc_now()


def rotate_key(store: Engine, name: str) -> str:
    """A new write key for the source; the old one stops working at once."""
    write_key = KEY_PREFIX + secrets.token_urlsafe(24)
    with session_scope(store) as session:
        row = session.scalars(select(TrackingSource).where(TrackingSource.name == name)).first()
        if row is None:
            raise TrackingSourceError(f"no tracking source named {name!r}")
        row.key_hash = key_hash(write_key)
        row.key_prefix = write_key[:10]
    return write_key
