"""Segments in the operational store: save (a new version each time), list, freeze, delete,
and the hand-kept lists of static segments.

    segment = save_segment(store, definition, check=checker)   # SegmentDefinitionError if bad
    frozen = freeze_segment(store, "gold", "gold-2026-11")     # a static copy, filled by the
                                                               # next refresh
    change_list(store, "vip", ["p_1", "p_2"], included=True, source="cli")

What a definition names is checked before anything is written: the database exists, other
segments exist in the same database and no segment depends on itself through others, and
`check` (herald.segments.service) compiles it against the schema and the warehouse.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from herald.errors import HeraldError
from herald.i18n import N_
from herald.profiles.store_ids import database_id
from herald.segments.definition import (
    SegmentDefinition,
    SegmentDefinitionError,
    parse_definition,
    referenced_segments,
)
from herald.store.engine import session_scope
from herald.store.models import (
    ProfileDatabase,
    Segment,
    SegmentListEntry,
    SegmentVersion,
    utc_now,
)

MAX_LIST_CHANGE = 1_000_000


class UnknownSegment(HeraldError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(N_("there is no segment {name}").format(name=repr(name)))


class SegmentInUse(HeraldError):
    """A segment other segments name cannot be deleted."""


class SegmentExists(SegmentDefinitionError):
    """A new segment's name is taken."""


class NotAStaticSegment(HeraldError):
    """Profiles are added to and removed from static segments only."""


@dataclass(frozen=True)
class SegmentInfo:
    id: int
    name: str
    database: str
    kind: str
    title: str | None
    description: str | None
    version: int
    refresh: str | None
    frozen_from: str | None
    frozen_at: datetime | None
    depends_on: tuple[str, ...]
    definition: SegmentDefinition
    created_at: datetime
    updated_at: datetime

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "database": self.database,
            "kind": self.kind,
            "title": self.title,
            "version": self.version,
            "refresh": self.refresh,
            "frozen_from": self.frozen_from,
            "frozen_at": self.frozen_at,
            "depends_on": list(self.depends_on),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


Checker = Callable[[SegmentDefinition], None]


def save_segment(
    store: Engine,
    definition: SegmentDefinition,
    *,
    check: Checker | None = None,
    created_by: str | None = None,
) -> SegmentInfo:
    """Create the segment, or add a version to it; nothing is written if the definition is
    refused. A segment keeps its database and kind."""
    with session_scope(store) as session:
        db_id = database_id(session, definition.database)
        existing = _find(session, definition.name)
        if existing is not None:
            if existing.database_id != db_id:
                raise SegmentDefinitionError(
                    "database: "
                    + N_("segment {name} belongs to another profile database").format(
                        name=repr(definition.name)
                    )
                    + "; "
                    + N_("a segment keeps its database (create a new segment instead)")
                )
            if existing.kind != definition.kind:
                raise SegmentDefinitionError(
                    "kind: "
                    + N_("segment {name} is {kind}").format(
                        name=repr(definition.name), kind=existing.kind
                    )
                    + "; "
                    + N_("a segment keeps its kind")
                )
        _check_references(session, definition, db_id)
    if check is not None:
        check(definition)
    with session_scope(store) as session:
        db_id = database_id(session, definition.database)
        segment = _find(session, definition.name)
        now = utc_now()
        if segment is None:
            segment = Segment(
                name=definition.name,
                database_id=db_id,
                kind=definition.kind,
                version=0,
                created_at=now,
            )
            session.add(segment)
        segment.title = definition.title
        segment.description = definition.description
        segment.refresh = definition.refresh
        segment.depends_on = referenced_segments(definition.where)
        segment.version = (segment.version or 0) + 1
        segment.updated_at = now
        session.flush()
        session.add(
            SegmentVersion(
                segment_id=segment.id,
                version=segment.version,
                definition=dict(definition.document),
                created_at=now,
                created_by=created_by,
            )
        )
        session.flush()
        return _info(session, segment)


def _check_references(session: Session, definition: SegmentDefinition, db_id: int) -> None:
    names = referenced_segments(definition.where)
    if definition.name in names:
        raise SegmentDefinitionError(
            "where: "
            + N_("segment {name} names itself").format(name=repr(definition.name))
            + "; "
            + N_("a segment cannot depend on itself")
        )
    graph = {
        row.name: (row.database_id, tuple(row.depends_on or ()))
        for row in session.scalars(select(Segment))
    }
    for name in names:
        if name not in graph:
            raise SegmentDefinitionError(
                "where: " + N_("there is no segment {name} to refer to").format(name=repr(name))
            )
        if graph[name][0] != db_id:
            raise SegmentDefinitionError(
                "where: "
                + N_("segment {name} is of another profile database").format(name=repr(name))
            )
    graph[definition.name] = (db_id, tuple(names))
    cycle = _cycle(graph, definition.name)
    if cycle:
        raise SegmentDefinitionError(
            "where: "
            + N_("segments would depend on each other in a cycle: {cycle}").format(
                cycle=" -> ".join(cycle)
            )
        )


def _cycle(graph: dict[str, tuple[int, tuple[str, ...]]], start: str) -> list[str] | None:
    """A path start -> ... -> start through `depends_on`, if there is one."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        name, path = stack.pop()
        for child in graph.get(name, (0, ()))[1]:
            if child == start:
                return [*path, start]
            if child not in seen:
                seen.add(child)
                stack.append((child, [*path, child]))
    return None


def get_segment(store: Engine, name: str) -> SegmentInfo:
    with session_scope(store) as session:
        segment = _find(session, name)
        if segment is None:
            raise UnknownSegment(name)
        return _info(session, segment)


def list_segments(store: Engine, database: str | None = None) -> list[SegmentInfo]:
    with session_scope(store) as session:
        query = select(Segment).order_by(Segment.name)
        if database is not None:
            query = query.where(Segment.database_id == database_id(session, database))
        return [_info(session, segment) for segment in session.scalars(query)]


def refresh_order(segments: Sequence[SegmentInfo]) -> list[SegmentInfo]:
    """Segments ordered so that every one comes after those it names."""
    by_name = {segment.name: segment for segment in segments}
    ordered: list[SegmentInfo] = []
    placed: set[str] = set()

    def place(segment: SegmentInfo, trail: tuple[str, ...] = ()) -> None:
        if segment.name in placed or segment.name in trail:
            return
        for name in (*segment.depends_on, *([segment.frozen_from] if segment.frozen_from else [])):
            if name in by_name:
                place(by_name[name], (*trail, segment.name))
        placed.add(segment.name)
        ordered.append(segment)

    for segment in segments:
        place(segment)
    return ordered


def delete_segment(store: Engine, name: str) -> None:
    with session_scope(store) as session:
        segment = _find(session, name)
        if segment is None:
            raise UnknownSegment(name)
        users = [
            row.name
            for row in session.scalars(select(Segment))
            if name in (row.depends_on or ()) and row.name != name
        ]
        if users:
            raise SegmentInUse(
                N_("segment {name} is named by {users}").format(
                    name=repr(name), users=", ".join(sorted(users))
                )
                + "; "
                + N_("change those first")
            )
        session.delete(segment)


def freeze_segment(
    store: Engine, name: str, as_name: str, *, created_by: str | None = None
) -> SegmentInfo:
    """A static segment holding, from its first refresh on, the members `name` had then."""
    source = get_segment(store, name)
    if source.kind != "dynamic":
        raise SegmentDefinitionError(
            N_("segment {name} is static").format(name=repr(name))
            + "; "
            + N_("freeze a dynamic segment")
        )
    definition = parse_definition(
        {
            "name": as_name,
            "database": source.database,
            "kind": "static",
            "title": f"{source.title or source.name} (frozen)",
        }
    )
    with session_scope(store) as session:
        if _find(session, as_name) is not None:
            raise SegmentExists(
                "name: " + N_("segment {name} exists already").format(name=repr(as_name))
            )
    save_segment(store, definition, created_by=created_by)
    with session_scope(store) as session:
        segment = _find(session, as_name)
        assert segment is not None
        segment.frozen_from = name
        segment.frozen_at = utc_now()
        session.flush()
        return _info(session, segment)


def change_list(
    store: Engine, name: str, profile_ids: Iterable[str], *, included: bool, source: str
) -> dict[str, int]:
    """Add profiles to (or remove them from) a static segment; takes effect at its next
    refresh. Returns how many ids were given and how many changed."""
    ids = list(
        dict.fromkeys(profile_id.strip() for profile_id in profile_ids if profile_id.strip())
    )
    if len(ids) > MAX_LIST_CHANGE:
        raise HeraldError(
            N_("at most {limit} profiles per change, not {count}").format(
                limit=MAX_LIST_CHANGE, count=len(ids)
            )
        )
    with session_scope(store) as session:
        segment = _find(session, name)
        if segment is None:
            raise UnknownSegment(name)
        if segment.kind != "static":
            raise NotAStaticSegment(
                N_("segment {name} is dynamic: its members follow its conditions").format(
                    name=repr(name)
                )
                + "; "
                + N_("freeze it into a static segment to keep a list")
            )
        current = {
            row.profile_id: row
            for row in session.scalars(
                select(SegmentListEntry).where(SegmentListEntry.segment_id == segment.id)
            )
        }
        changed = 0
        now = utc_now()
        segment.updated_at = now  # the segment sensor refreshes segments changed since
        for profile_id in ids:
            row = current.get(profile_id)
            if row is None:
                session.add(
                    SegmentListEntry(
                        segment_id=segment.id,
                        profile_id=profile_id,
                        included=included,
                        changed_at=now,
                        source=source,
                    )
                )
                changed += 1
            elif row.included != included:
                row.included = included
                row.changed_at = now
                row.source = source
                changed += 1
        return {"given": len(ids), "changed": changed}


def list_entries(store: Engine, name: str) -> list[tuple[str, bool]]:
    with session_scope(store) as session:
        segment = _find(session, name)
        if segment is None:
            raise UnknownSegment(name)
        rows = session.scalars(
            select(SegmentListEntry).where(SegmentListEntry.segment_id == segment.id)
        )
        return [(row.profile_id, row.included) for row in rows]


def _find(session: Session, name: str) -> Segment | None:
    return session.scalar(select(Segment).where(Segment.name == name))


def _info(session: Session, segment: Segment) -> SegmentInfo:
    database = session.get(ProfileDatabase, segment.database_id)
    assert database is not None
    version = session.scalar(
        select(SegmentVersion).where(
            SegmentVersion.segment_id == segment.id, SegmentVersion.version == segment.version
        )
    )
    document = (
        version.definition
        if version is not None
        else {"name": segment.name, "database": database.name, "kind": "static"}
    )
    return SegmentInfo(
        id=segment.id,
        name=segment.name,
        database=database.name,
        kind=segment.kind,
        title=segment.title,
        description=segment.description,
        version=segment.version,
        refresh=segment.refresh,
        frozen_from=segment.frozen_from,
        frozen_at=segment.frozen_at,
        depends_on=tuple(segment.depends_on or ()),
        definition=parse_definition(document),
        created_at=segment.created_at,
        updated_at=segment.updated_at,
    )
