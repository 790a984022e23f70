"""The operational store's key of a profile database, for tables that refer to it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from herald.profiles.databases import UnknownProfileDatabase
from herald.store import ProfileDatabase


def database_id(session: Session, name: str) -> int:
    """The id of the profile database `name`; UnknownProfileDatabase if there is none."""
    found = session.execute(
        select(ProfileDatabase.id).where(ProfileDatabase.name == name)
    ).scalar_one_or_none()
    if found is None:
        raise UnknownProfileDatabase(name)
    return int(found)
