"""Profile records from tracked events: identify traits, aliases, e-mail-link identities, and
one record for every userId or anonymousId seen for the first time.

    records = TrackedRecords(store, landing_dir)
    records.add(source, user_id="u1", anonymous_id="a1", traits={"email": "A@X.RU"})
    records.add_new_identities(source, pairs)      # only those not in tracked_identities
    written = records.write()                      # landing files + profile_imports rows

Traits are matched to the database's fields by name (camelCase or snake_case) and by
Segment's reserved traits (email, phone, firstName, lastName, name, birthday, address.city)
to the field with that identifier or match kind; other traits stay in the event's `traits`
JSON only. Values are normalised as an import normalises them; a value that does not
normalise is left out of the record and reported (the rest of the record is kept, so the
identity link is never lost to one bad trait).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, select, tuple_
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from herald.imports import FieldSpec, NormalizeOptions, normalize_row
from herald.profiles.databases import UnknownProfileDatabase, get_database
from herald.profiles.edits import PROFILE_ID_MEMBER
from herald.profiles.records import ProfileRecord, records_table, write_records_file
from herald.profiles.schema import ProfileField
from herald.profiles.store_ids import database_id
from herald.store import ProfileImport, session_scope
from herald.store.models import TrackedIdentity
from herald.tracking_sources import Source

TRACKING_KIND = "tracking"
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")
RESERVED_TRAITS = {  # Segment's reserved traits -> (identifier kind, match kind)
    "email": ("email", None),
    "phone": ("phone", None),
    "first_name": (None, "given_name"),
    "last_name": (None, "family_name"),
    "name": (None, "name"),
    "birthday": (None, "date"),
    "city": (None, "city"),
}


def snake(name: str) -> str:
    return _CAMEL.sub(r"_\1", name).lower().replace(" ", "_").replace("-", "_")


def _text(value: Any, kind: str) -> str | None:
    if value is None or value == "":
        return None
    if kind == "json":
        return orjson.dumps(value).decode("utf-8")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, dict):
        return orjson.dumps(value).decode("utf-8")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


@dataclass
class _Schema:
    fields: tuple[ProfileField, ...]
    by_trait: dict[str, str]
    specs: dict[str, FieldSpec]


def _schema(fields: tuple[ProfileField, ...]) -> _Schema:
    by_trait: dict[str, str] = {item.name: item.name for item in fields}
    for trait, (identifier, match) in RESERVED_TRAITS.items():
        for item in fields:
            if (identifier and item.identifier == identifier) or (match and item.match == match):
                by_trait.setdefault(trait, item.name)
                break
    specs = {
        item.name: FieldSpec(
            name=item.name,
            type=item.type,
            identifier=item.identifier,
            enum_values=tuple(item.values or ()),
        )
        for item in fields
    }
    return _Schema(fields, by_trait, specs)


@dataclass
class TrackedRecords:
    store: Engine
    landing_dir: Path
    records: dict[tuple[str, str], list[ProfileRecord]] = field(default_factory=dict)
    problems: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    new_identities: list[tuple[str, str, str]] = field(default_factory=list)
    _schemas: dict[str, _Schema | None] = field(default_factory=dict)

    def schema(self, database: str) -> _Schema | None:
        if database not in self._schemas:
            try:
                self._schemas[database] = _schema(get_database(self.store, database).schema.fields)
            except UnknownProfileDatabase:
                self._schemas[database] = None
        return self._schemas[database]

    def add(
        self,
        source: Source,
        *,
        database: str | None = None,
        user_id: str | None,
        anonymous_id: str | None,
        traits: dict[str, Any] | None = None,
        profile_id: str | None = None,
        record_key: str | None = None,
    ) -> bool:
        """Queue one record; False (and a problem) when the database is unknown or the
        record would hold nothing that identifies anyone."""
        database = database or source.database
        schema = self.schema(database)
        if schema is None:
            self.problems.append(
                (f"profile database {database!r} does not exist", {"user_id": user_id})
            )
            return False
        values: dict[str, str | None] = {}
        for trait, value in (traits or {}).items():
            if trait == "address" and isinstance(value, dict):
                trait, value = "city", value.get("city")
            target = schema.by_trait.get(trait) or schema.by_trait.get(snake(trait))
            if target is not None and target not in values:
                values[target] = _text(value, schema.specs[target].type)
        if user_id is not None and source.user_id_field:
            values[source.user_id_field] = user_id
        if anonymous_id is not None and source.anonymous_id_field:
            values[source.anonymous_id_field] = anonymous_id
        specs = [schema.specs[name] for name in values]
        clean, errors = normalize_row(values, specs, NormalizeOptions())
        if errors:
            self.problems.append(
                (
                    "; ".join(errors),
                    {"user_id": user_id, "anonymous_id": anonymous_id, "traits": traits or {}},
                )
            )
        fields = {
            name: value.isoformat() if isinstance(value, datetime | date) else value
            for name, value in clean.items()
            if value is not None
        }
        if profile_id is not None:
            fields[PROFILE_ID_MEMBER] = profile_id
        if not fields or (
            not any(schema.specs[name].identifier for name in fields if name in schema.specs)
            and profile_id is None
        ):
            return False
        rows = self.records.setdefault((database, source.name), [])
        rows.append(ProfileRecord(len(rows) + 1, record_key or f"trk-{uuid.uuid4().hex}", fields))
        return True

    def unseen(self, candidates: Iterable[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
        """Of (database, kind, value), those no earlier batch gave a record."""
        wanted = list(dict.fromkeys(candidates))
        if not wanted:
            return set()
        seen: set[tuple[str, str, str]] = set()
        by_database: dict[str, list[tuple[str, str]]] = {}
        for database, kind, value in wanted:
            by_database.setdefault(database, []).append((kind, value))
        with session_scope(self.store) as session:
            for database, pairs in by_database.items():
                try:
                    db_id = database_id(session, database)
                except UnknownProfileDatabase:
                    seen.update((database, kind, value) for kind, value in pairs)
                    continue
                for start in range(0, len(pairs), 400):
                    chunk = pairs[start : start + 400]
                    rows = session.execute(
                        select(TrackedIdentity.kind, TrackedIdentity.value).where(
                            TrackedIdentity.database_id == db_id,
                            tuple_(TrackedIdentity.kind, TrackedIdentity.value).in_(chunk),
                        )
                    ).all()
                    seen.update((database, kind, value) for kind, value in rows)
        return set(wanted) - seen

    def remember(self, identities: Iterable[tuple[str, str, str]]) -> None:
        """Keep identities as given a record (after their records are written)."""
        rows = list(identities)
        if not rows:
            return
        with session_scope(self.store) as session:
            ids: dict[str, int] = {}
            values = []
            for database, kind, value in rows:
                if database not in ids:
                    try:
                        ids[database] = database_id(session, database)
                    except UnknownProfileDatabase:
                        continue
                values.append({"database_id": ids[database], "kind": kind, "value": value[:255]})
            if not values:
                return
            dialect = session.get_bind().dialect.name
            insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
            for start in range(0, len(values), 500):
                session.execute(
                    insert(TrackedIdentity)
                    .values(values[start : start + 500])
                    .on_conflict_do_nothing()
                )

    def write(self) -> list[Path]:
        """Write the queued records as landing files (one import per database and source)."""
        written: list[Path] = []
        now = datetime.now(UTC)
        imported_at = now.replace(microsecond=now.microsecond // 1000 * 1000)
        for (database, source), records in self.records.items():
            if not records:
                continue
            import_id = f"imp-{uuid.uuid4().hex[:16]}"
            table = records_table(
                records,
                database=database,
                source=source,
                import_id=import_id,
                mode="upsert",
                imported_at=imported_at,
            )
            path = write_records_file(self.landing_dir, import_id, 0, table)
            with session_scope(self.store) as session:
                session.add(
                    ProfileImport(
                        import_id=import_id,
                        database_id=database_id(session, database),
                        source=source,
                        kind=TRACKING_KIND,
                        mode="upsert",
                        options={"tracking_source": source},
                        status="succeeded",
                        received=len(records),
                        accepted=len(records),
                        rejected=0,
                        started_at=imported_at,
                        finished_at=imported_at,
                    )
                )
            written.append(path)
        self.records.clear()
        return written
