"""Profile databases in the operational store: create, rename, delete, list, and versioned schemas.

Every change of a schema is a new version (1, 2, ...); the highest is the current one and
older versions stay as history. `update_schema` makes a version only when something changed,
and refuses changes that would break the profiles already in the database:

allowed  adding an optional field, or a required one with a default; changing the title, a
         description, a default, a field's role (identifier / match) or the order of fields;
         adding enum values; making a field optional; making a field required when it has a
         default
refused  changing a field's type (add a new field instead); removing enum values; adding a
         required field without a default, or making a field required without one; removing
         a field unless `allow_removal=True` (its data would be dropped); changing the
         database name (that is `rename_database`)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from herald.errors import HeraldError
from herald.profiles.schema import ProfileField, ProfileSchema, name_problem, parse_schema
from herald.store.engine import session_scope
from herald.store.models import ProfileDatabase, ProfileSchemaVersion, utc_now


class UnknownProfileDatabase(HeraldError):
    """No profile database has the given name."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"there is no profile database {name!r} (herald db list shows them)")


class ProfileDatabaseExists(HeraldError):
    """A profile database with this name exists already."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"a profile database {name!r} exists already; change its schema with "
            "herald db apply, or choose another name"
        )


class IncompatibleSchemaChange(HeraldError):
    """The new schema would break the profiles already kept under the old one."""

    def __init__(self, name: str, problems: list[str]) -> None:
        self.name = name
        self.problems = problems
        if len(problems) == 1:
            super().__init__(f"cannot change the schema of {name!r}: {problems[0]}")
        else:
            lines = "\n".join(f"  {problem}" for problem in problems)
            super().__init__(f"cannot change the schema of {name!r}:\n{lines}")


class ConcurrentSchemaChange(HeraldError):
    """Someone else changed the same profile database at the same moment."""


@dataclass(frozen=True)
class ProfileDatabaseInfo:
    """A profile database with its current schema."""

    name: str
    title: str | None
    schema: ProfileSchema
    version: int
    created_at: datetime
    updated_at: datetime

    @property
    def display_title(self) -> str:
        return self.title or self.name


@dataclass(frozen=True)
class SchemaVersionInfo:
    """One version in a schema's history."""

    version: int
    schema: ProfileSchema
    created_at: datetime
    comment: str | None


@dataclass(frozen=True)
class SchemaUpdate:
    """What `update_schema` / `apply_schema` did: the version now current, and the changes."""

    name: str
    version: int
    created: bool
    changes: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return self.created or bool(self.changes)


@dataclass(frozen=True)
class SchemaDiff:
    """The differences between two schemas: `changes` allowed, `refused` incompatible."""

    changes: tuple[str, ...]
    refused: tuple[str, ...]


# --- compatibility ------------------------------------------------------------------------


def schema_changes(
    old: ProfileSchema, new: ProfileSchema, *, allow_removal: bool = False
) -> SchemaDiff:
    """Every difference from `old` to `new`, each said for a person, split into the allowed
    ones and the refused ones (see the module's docstring for the rules)."""
    changes: list[str] = []
    refused: list[str] = []
    if old.database != new.database:
        refused.append(
            f"the database name changes from {old.database!r} to {new.database!r}; "
            "rename it with herald db rename"
        )
    if old.title != new.title:
        changes.append(f"title {old.title!r} -> {new.title!r}")
    new_names = {field.name for field in new.fields}
    old_names = {field.name for field in old.fields}
    for field in old.fields:
        if field.name in new_names:
            continue
        if allow_removal:
            changes.append(f"removed field {field.name!r}")
        else:
            refused.append(
                f"field {field.name!r} is removed, and its data with it; to remove it "
                "anyway allow removals (herald db apply --allow-removal)"
            )
    for field in new.fields:
        before = old.field(field.name)
        if before is None:
            if field.required and field.default is None:
                refused.append(
                    f"new field {field.name!r} is required but has no default, and the "
                    "profiles already kept have no value for it; give it a default or "
                    "make it optional"
                )
            else:
                changes.append(f"added field {field.name!r} ({field.type})")
            continue
        _field_changes(before, field, changes, refused)
    kept_old_order = [field.name for field in old.fields if field.name in new_names]
    kept_new_order = [field.name for field in new.fields if field.name in old_names]
    if kept_old_order != kept_new_order:
        changes.append("fields reordered")
    return SchemaDiff(tuple(changes), tuple(refused))


def _field_changes(
    old: ProfileField, new: ProfileField, changes: list[str], refused: list[str]
) -> None:
    name = repr(new.name)
    if old.type != new.type:
        refused.append(
            f"field {name} changes type from {old.type} to {new.type}; the values kept "
            "may not convert: add a field with a new name instead"
        )
        return
    if old.values != new.values:
        old_values = old.values or ()
        new_values = new.values or ()
        removed = [value for value in old_values if value not in new_values]
        added = [value for value in new_values if value not in old_values]
        if removed:
            refused.append(
                f"field {name} loses enum values {', '.join(removed)}, which profiles "
                "may hold; keep them"
            )
        if added:
            changes.append(f"field {name}: added values {', '.join(added)}")
        if not removed and not added:
            changes.append(f"field {name}: values reordered")
    if old.required != new.required:
        if new.required and new.default is None:
            refused.append(
                f"field {name} becomes required without a default, and profiles already "
                "kept may have no value for it; give it a default"
            )
        else:
            changes.append(f"field {name}: {'required' if new.required else 'optional'}")
    if old.default != new.default:
        changes.append(f"field {name}: default {old.default!r} -> {new.default!r}")
    if (old.identifier, old.match) != (new.identifier, new.match):
        changes.append(f"field {name}: role {_role(old)} -> {_role(new)}")
    if old.description != new.description:
        changes.append(f"field {name}: description changed")


def _role(field: ProfileField) -> str:
    if field.identifier is not None:
        return f"identifier {field.identifier}"
    if field.match is not None:
        return f"match {field.match}"
    return "none"


# --- operations ---------------------------------------------------------------------------


def create_database(
    engine: Engine, schema: ProfileSchema, comment: str | None = None
) -> ProfileDatabaseInfo:
    """Create the profile database `schema.database` with `schema` as version 1."""
    try:
        with session_scope(engine) as session:
            if _find(session, schema.database) is not None:
                raise ProfileDatabaseExists(schema.database)
            now = utc_now()
            database = ProfileDatabase(
                name=schema.database, title=schema.title, created_at=now, updated_at=now
            )
            session.add(database)
            session.flush()
            _add_version(session, database, 1, schema, comment or "created", now)
    except IntegrityError:
        # Created by someone else between the check and the insert.
        raise ProfileDatabaseExists(schema.database) from None
    return get_database(engine, schema.database)


def update_schema(
    engine: Engine,
    schema: ProfileSchema,
    comment: str | None = None,
    *,
    allow_removal: bool = False,
) -> SchemaUpdate:
    """Make `schema` the current schema of its database: a new version if it differs from
    the current one, nothing if it does not. IncompatibleSchemaChange if it would break the
    profiles kept under the current one."""
    try:
        with session_scope(engine) as session:
            database = _find(session, schema.database, for_update=True)
            if database is None:
                raise UnknownProfileDatabase(schema.database)
            current, version = _current(session, database)
            diff = schema_changes(current, schema, allow_removal=allow_removal)
            if diff.refused:
                raise IncompatibleSchemaChange(schema.database, list(diff.refused))
            if current == schema:
                return SchemaUpdate(schema.database, version, created=False, changes=())
            now = utc_now()
            database.title = schema.title
            database.updated_at = now
            changes = diff.changes or ("schema changed",)
            _add_version(session, database, version + 1, schema, comment, now)
            return SchemaUpdate(schema.database, version + 1, created=False, changes=changes)
    except IntegrityError:
        raise ConcurrentSchemaChange(
            f"the schema of {schema.database!r} was changed by someone else at the same "
            "time; try again"
        ) from None


def apply_schema(
    engine: Engine,
    schema: ProfileSchema,
    comment: str | None = None,
    *,
    allow_removal: bool = False,
) -> SchemaUpdate:
    """Schema as code: create the database if it does not exist, else `update_schema`."""
    try:
        info = create_database(engine, schema, comment)
    except ProfileDatabaseExists:
        return update_schema(engine, schema, comment, allow_removal=allow_removal)
    return SchemaUpdate(info.name, info.version, created=True, changes=())


def rename_database(engine: Engine, old: str, new: str) -> ProfileDatabaseInfo:
    """Rename a profile database; its schema's `database` changes in a new version."""
    problem = name_problem(new, "database name")
    if problem:
        raise HeraldError(f"cannot rename {old!r}: {problem}")
    if new == old:
        raise HeraldError(f"the profile database is already called {old!r}")
    try:
        with session_scope(engine) as session:
            database = _find(session, old, for_update=True)
            if database is None:
                raise UnknownProfileDatabase(old)
            if _find(session, new) is not None:
                raise ProfileDatabaseExists(new)
            current, version = _current(session, database)
            renamed = parse_schema({**current.to_document(), "database": new})
            now = utc_now()
            database.name = new
            database.updated_at = now
            _add_version(session, database, version + 1, renamed, f"renamed from {old}", now)
    except IntegrityError:
        raise ProfileDatabaseExists(new) from None
    return get_database(engine, new)


def delete_database(engine: Engine, name: str) -> None:
    """Delete a profile database and its whole schema history."""
    with session_scope(engine) as session:
        deleted = session.execute(delete(ProfileDatabase).where(ProfileDatabase.name == name))
        if getattr(deleted, "rowcount", 0) == 0:
            raise UnknownProfileDatabase(name)


def get_database(engine: Engine, name: str) -> ProfileDatabaseInfo:
    """A profile database with its current schema and version."""
    with session_scope(engine) as session:
        database = _find(session, name)
        if database is None:
            raise UnknownProfileDatabase(name)
        schema, version = _current(session, database)
        return _info(database, schema, version)


def list_databases(engine: Engine) -> list[ProfileDatabaseInfo]:
    """Every profile database with its current schema, by name."""
    latest = (
        select(
            ProfileSchemaVersion.database_id,
            func.max(ProfileSchemaVersion.version).label("version"),
        )
        .group_by(ProfileSchemaVersion.database_id)
        .subquery()
    )
    query = (
        select(ProfileDatabase, ProfileSchemaVersion)
        .join(latest, latest.c.database_id == ProfileDatabase.id)
        .join(
            ProfileSchemaVersion,
            (ProfileSchemaVersion.database_id == latest.c.database_id)
            & (ProfileSchemaVersion.version == latest.c.version),
        )
        .order_by(ProfileDatabase.name)
    )
    with session_scope(engine) as session:
        return [
            _info(database, _stored(database.name, row), row.version)
            for database, row in session.execute(query).all()
        ]


def schema_history(engine: Engine, name: str) -> list[SchemaVersionInfo]:
    """Every version of a database's schema, the oldest first."""
    with session_scope(engine) as session:
        database = _find(session, name)
        if database is None:
            raise UnknownProfileDatabase(name)
        rows = session.scalars(
            select(ProfileSchemaVersion)
            .where(ProfileSchemaVersion.database_id == database.id)
            .order_by(ProfileSchemaVersion.version)
        )
        return [
            SchemaVersionInfo(row.version, _stored(name, row), row.created_at, row.comment)
            for row in rows
        ]


# --- inside -------------------------------------------------------------------------------


def _find(session: Session, name: str, *, for_update: bool = False) -> ProfileDatabase | None:
    query = select(ProfileDatabase).where(ProfileDatabase.name == name)
    if for_update:
        # Changes of one database take turns: on PostgreSQL on the row lock; on SQLite a
        # no-op write first takes the database's write lock (waiting the busy timeout), so
        # what is read next is not stale by the time it is written.
        if session.get_bind().dialect.name == "sqlite":
            session.execute(
                update(ProfileDatabase)
                .where(ProfileDatabase.name == name)
                .values(updated_at=ProfileDatabase.updated_at)
            )
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def _current(session: Session, database: ProfileDatabase) -> tuple[ProfileSchema, int]:
    row = session.scalars(
        select(ProfileSchemaVersion)
        .where(ProfileSchemaVersion.database_id == database.id)
        .order_by(ProfileSchemaVersion.version.desc())
        .limit(1)
    ).one()
    return _stored(database.name, row), row.version


def _stored(name: str, row: ProfileSchemaVersion) -> ProfileSchema:
    document: dict[str, Any] = row.schema
    return parse_schema(document, source=f"stored schema of {name!r} version {row.version}")


def _add_version(
    session: Session,
    database: ProfileDatabase,
    version: int,
    schema: ProfileSchema,
    comment: str | None,
    now: datetime,
) -> None:
    session.add(
        ProfileSchemaVersion(
            database_id=database.id,
            version=version,
            schema=schema.to_document(),
            created_at=now,
            comment=comment,
        )
    )
    session.flush()


def _info(database: ProfileDatabase, schema: ProfileSchema, version: int) -> ProfileDatabaseInfo:
    return ProfileDatabaseInfo(
        name=database.name,
        title=database.title,
        schema=schema,
        version=version,
        created_at=database.created_at,
        updated_at=database.updated_at,
    )
