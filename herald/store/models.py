"""Tables of the operational store: the control plane and hot state, never analytics.

The Alembic migrations in `herald/store/migrations/versions/` create these tables; a test
compares the two so they cannot drift apart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

RunStatus = Literal["started", "succeeded", "failed"]
RUN_STATUSES: tuple[RunStatus, ...] = ("started", "succeeded", "failed")

# Constraint names are part of the schema: migrations drop and alter them by name, so they
# must come out the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT keys on PostgreSQL; SQLite only auto-increments a column declared INTEGER.
Identifier = BigInteger().with_variant(Integer(), "sqlite")
JSONDocument = JSON().with_variant(JSONB(), "postgresql")


def utc_now() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A point in time, stored in UTC and always read back timezone-aware.

    PostgreSQL keeps the offset (`timestamptz`); SQLite keeps none, so naive values read
    from it are UTC by construction.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"a naive datetime cannot be stored, give it a timezone: {value}")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class PipelineRun(Base):
    """One `herald materialize` / generate / demo run, or a Dagster run Herald started."""

    __tablename__ = "pipeline_runs"
    __table_args__ = (
        CheckConstraint(
            "status in ('started', 'succeeded', 'failed')",
            name="status",
        ),
        Index(None, "started_at"),
        Index(None, "run_id"),
    )

    id: Mapped[int] = mapped_column(Identifier, primary_key=True, autoincrement=True)
    run_id: Mapped[str | None] = mapped_column(String(64), comment="Dagster run id")
    kind: Mapped[str] = mapped_column(String(32), comment="materialize, generate, demo, ...")
    selection: Mapped[str | None] = mapped_column(Text, comment="asset selection, as given")
    status: Mapped[str] = mapped_column(String(16), default="started")
    started_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    rows_written: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)

    def __repr__(self) -> str:
        return f"PipelineRun(id={self.id!r}, kind={self.kind!r}, status={self.status!r})"


class LandingFile(Base):
    """A landing file loaded into the warehouse raw tables: the loader's ledger.

    Unique on (source, file name, fingerprint): a file seen again with the same content is
    skipped, a file rewritten under the same name with new content is loaded again.
    """

    __tablename__ = "landing_files"
    __table_args__ = (UniqueConstraint("source", "file_name", "fingerprint"),)

    id: Mapped[int] = mapped_column(Identifier, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(200))
    file_name: Mapped[str] = mapped_column(String(1000), comment="path relative to the source")
    fingerprint: Mapped[str] = mapped_column(String(128), comment="e.g. sha256:<hex>")
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int] = mapped_column(BigInteger)
    loaded_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )
    run_id: Mapped[str | None] = mapped_column(String(64), comment="Dagster run id")

    def __repr__(self) -> str:
        return f"LandingFile(source={self.source!r}, file_name={self.file_name!r})"


class ProfileDatabase(Base):
    """A client database a CRM manager keeps ("Shop RU", "B2B"); its schema is versioned."""

    __tablename__ = "profile_databases"

    id: Mapped[int] = mapped_column(Identifier, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(
        String(63), unique=True, comment="lowercase snake_case, as in the schema"
    )
    title: Mapped[str | None] = mapped_column(String(200), comment="display name")
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )

    def __repr__(self) -> str:
        return f"ProfileDatabase(id={self.id!r}, name={self.name!r})"


class ProfileSchemaVersion(Base):
    """One version of a profile database's schema; the highest version is the current one.

    Versions are never changed, only added; deleting the database deletes its versions.
    """

    __tablename__ = "profile_schema_versions"
    __table_args__ = (UniqueConstraint("database_id", "version"),)

    id: Mapped[int] = mapped_column(Identifier, primary_key=True, autoincrement=True)
    database_id: Mapped[int] = mapped_column(
        Identifier, ForeignKey("profile_databases.id", ondelete="CASCADE")
    )
    version: Mapped[int] = mapped_column(Integer, comment="1, 2, ... per database")
    schema: Mapped[dict[str, Any]] = mapped_column(
        JSONDocument, comment="the ProfileSchema document"
    )
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )
    comment: Mapped[str | None] = mapped_column(Text, comment="why this version was made")

    def __repr__(self) -> str:
        return f"ProfileSchemaVersion(database_id={self.database_id!r}, version={self.version!r})"


ImportStatus = Literal["running", "succeeded", "failed"]
IMPORT_STATUSES: tuple[ImportStatus, ...] = ("running", "succeeded", "failed")


class ProfileImport(Base):
    """One import into a profile database: where from, how, and what became of every row.

    received = accepted + rejected once it has finished; the rejected rows, with their
    reasons, are in the report file. `request_id` makes API imports idempotent.
    """

    __tablename__ = "profile_imports"
    __table_args__ = (
        CheckConstraint(
            "status in ('running', 'succeeded', 'failed')", name="profile_import_status"
        ),
        Index(None, "database_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(Identifier, primary_key=True, autoincrement=True)
    import_id: Mapped[str] = mapped_column(
        String(40), unique=True, comment="public id of the import, in lineage and reports"
    )
    database_id: Mapped[int] = mapped_column(
        Identifier, ForeignKey("profile_databases.id", ondelete="CASCADE")
    )
    source: Mapped[str] = mapped_column(String(200), comment="the label the user gave the source")
    kind: Mapped[str] = mapped_column(String(20), comment="file, paste, manual, api or sql")
    file_name: Mapped[str | None] = mapped_column(String(500))
    mode: Mapped[str] = mapped_column(String(20), comment="upsert, insert or update")
    options: Mapped[dict[str, Any]] = mapped_column(
        JSONDocument, default=dict, comment="mapping, match fields, key column, sheet, ..."
    )
    status: Mapped[str] = mapped_column(String(20), default="running")
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    accepted: Mapped[int] = mapped_column(BigInteger, default=0)
    rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    report_path: Mapped[str | None] = mapped_column(Text, comment="CSV of the rejected rows")
    request_id: Mapped[str | None] = mapped_column(
        String(200), unique=True, comment="the API caller's idempotency key"
    )
    run_id: Mapped[str | None] = mapped_column(String(64), comment="Dagster run id")
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"ProfileImport(import_id={self.import_id!r}, status={self.status!r})"


SqlSourceMode = Literal["upsert", "insert", "update"]


class SqlSource(Base):
    """A table or query in an external SQL database, imported into a profile database on a
    cron schedule; with a cursor column, each run reads only the rows past `last_cursor`.

    `url` is a SQLAlchemy URL and may hold a password: show it only through
    `herald.imports.sql_source.masked_url`.
    """

    __tablename__ = "sql_sources"
    __table_args__ = (
        CheckConstraint(
            "(table_name is null and query is not null)"
            " or (table_name is not null and query is null)",
            name="table_or_query",
        ),
        CheckConstraint("mode in ('upsert', 'insert', 'update')", name="sql_source_mode"),
    )

    id: Mapped[int] = mapped_column(Identifier, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(63), unique=True, comment="lowercase snake_case")
    database_id: Mapped[int] = mapped_column(
        Identifier, ForeignKey("profile_databases.id", ondelete="CASCADE")
    )
    url: Mapped[str] = mapped_column(Text, comment="SQLAlchemy URL of the source database")
    table_name: Mapped[str | None] = mapped_column(
        String(300), comment="table (or schema.table) to read; or query"
    )
    query: Mapped[str | None] = mapped_column(Text, comment="SELECT to read; or table_name")
    cursor_column: Mapped[str | None] = mapped_column(
        String(200), comment="incremental by this column; full reload when null"
    )
    last_cursor: Mapped[str | None] = mapped_column(
        Text, comment="greatest cursor value imported, as text"
    )
    last_cursor_type: Mapped[str | None] = mapped_column(
        String(20), comment="int, float, decimal, date, datetime or text"
    )
    key_column: Mapped[str | None] = mapped_column(String(200))
    mapping: Mapped[dict[str, Any]] = mapped_column(
        JSONDocument, default=dict, comment="column -> profile field"
    )
    mode: Mapped[str] = mapped_column(String(20), default="upsert")
    schedule: Mapped[str] = mapped_column(
        String(100), default="0 * * * *", comment="cron expression (UTC)"
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_import_id: Mapped[str | None] = mapped_column(
        String(40), comment="import_id of the last successful run"
    )

    def __repr__(self) -> str:
        return f"SqlSource(name={self.name!r}, table={self.table_name!r})"


class ProfileEdit(Base):
    """A change a person made to a profile's fields on its card.

    The edit is also a source record (source `card`, import `import_id`, the fields plus the
    reserved member `_profile_id`) in a landing file; until a build has taken it in, the card
    shows these fields over the warehouse's golden record, marked as pending.
    """

    __tablename__ = "profile_edits"
    __table_args__ = (Index(None, "database_id", "profile_id", "edited_at"),)

    id: Mapped[int] = mapped_column(Identifier, primary_key=True, autoincrement=True)
    database_id: Mapped[int] = mapped_column(
        Identifier, ForeignKey("profile_databases.id", ondelete="CASCADE")
    )
    profile_id: Mapped[str] = mapped_column(String(1000), comment="the live profile id edited")
    fields: Mapped[dict[str, Any]] = mapped_column(
        JSONDocument, comment="the edited fields, normalised, as JSON values"
    )
    edited_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )
    edited_by: Mapped[str | None] = mapped_column(String(200), comment="who made the edit")
    import_id: Mapped[str] = mapped_column(
        String(40), unique=True, comment="the edit's import (profile_imports, lineage)"
    )

    def __repr__(self) -> str:
        return f"ProfileEdit(profile_id={self.profile_id!r}, import_id={self.import_id!r})"


SubscriptionStatus = Literal["subscribed", "unsubscribed", "suppressed"]
SUBSCRIPTION_STATUSES: tuple[SubscriptionStatus, ...] = ("subscribed", "unsubscribed", "suppressed")
CHANNELS = ("email", "sms", "push", "telegram", "whatsapp", "viber")


class ProfileSubscription(Base):
    """A profile's current consent for one channel and resource (a newsletter, a topic; `*`
    for the whole channel). Checked at send time; every change is also a row of
    `profile_subscription_changes`."""

    __tablename__ = "profile_subscriptions"
    __table_args__ = (
        UniqueConstraint("database_id", "profile_id", "channel", "resource"),
        CheckConstraint(
            "status in ('subscribed', 'unsubscribed', 'suppressed')", name="subscription_status"
        ),
    )

    id: Mapped[int] = mapped_column(Identifier, primary_key=True, autoincrement=True)
    database_id: Mapped[int] = mapped_column(
        Identifier, ForeignKey("profile_databases.id", ondelete="CASCADE")
    )
    profile_id: Mapped[str] = mapped_column(String(1000))
    channel: Mapped[str] = mapped_column(String(20), comment=", ".join(CHANNELS))
    resource: Mapped[str] = mapped_column(
        String(200), default="*", comment="newsletter or topic; * for the whole channel"
    )
    status: Mapped[str] = mapped_column(String(20), comment="subscribed, unsubscribed, suppressed")
    reason: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(200), comment="who or what set it: api, cli, ...")
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )

    def __repr__(self) -> str:
        return (
            f"ProfileSubscription(profile_id={self.profile_id!r}, channel={self.channel!r}, "
            f"resource={self.resource!r}, status={self.status!r})"
        )


class ProfileSubscriptionChange(Base):
    """One change of a subscription's status (append-only): the consent history."""

    __tablename__ = "profile_subscription_changes"
    __table_args__ = (
        Index(None, "database_id", "profile_id", "changed_at"),
        CheckConstraint(
            "status in ('subscribed', 'unsubscribed', 'suppressed')",
            name="subscription_change_status",
        ),
    )

    id: Mapped[int] = mapped_column(Identifier, primary_key=True, autoincrement=True)
    database_id: Mapped[int] = mapped_column(
        Identifier, ForeignKey("profile_databases.id", ondelete="CASCADE")
    )
    profile_id: Mapped[str] = mapped_column(String(1000))
    channel: Mapped[str] = mapped_column(String(20))
    resource: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    previous_status: Mapped[str | None] = mapped_column(
        String(20), comment="null for the first status of the subscription"
    )
    reason: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )

    def __repr__(self) -> str:
        return f"ProfileSubscriptionChange(profile_id={self.profile_id!r}, status={self.status!r})"


class ProfileRelation(Base):
    """A typed link from one profile to another of the same database ("family",
    "manager of"); shown on both profiles' cards."""

    __tablename__ = "profile_relations"
    __table_args__ = (
        UniqueConstraint("database_id", "from_profile_id", "to_profile_id", "kind"),
        CheckConstraint("from_profile_id <> to_profile_id", name="not_to_itself"),
        Index(None, "database_id", "to_profile_id"),
    )

    id: Mapped[int] = mapped_column(Identifier, primary_key=True, autoincrement=True)
    database_id: Mapped[int] = mapped_column(
        Identifier, ForeignKey("profile_databases.id", ondelete="CASCADE")
    )
    from_profile_id: Mapped[str] = mapped_column(String(1000))
    to_profile_id: Mapped[str] = mapped_column(String(1000))
    kind: Mapped[str] = mapped_column(String(100), comment='e.g. "family", "manager of"')
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )
    created_by: Mapped[str | None] = mapped_column(String(200))

    def __repr__(self) -> str:
        return f"ProfileRelation({self.from_profile_id!r} -[{self.kind}]-> {self.to_profile_id!r})"


class ProfileUnmerge(Base):
    """A merge a person undid: from the next build on, the records `merged_id` held before
    build `merge_build_id` merged it into `kept_id` are kept apart, under `merged_id` again
    (herald.profiles.build.Unmerge)."""

    __tablename__ = "profile_unmerges"
    __table_args__ = (UniqueConstraint("database_id", "merged_id", "merge_build_id"),)

    id: Mapped[int] = mapped_column(Identifier, primary_key=True, autoincrement=True)
    database_id: Mapped[int] = mapped_column(
        Identifier, ForeignKey("profile_databases.id", ondelete="CASCADE")
    )
    kept_id: Mapped[str] = mapped_column(String(1000), comment="the profile merged into")
    merged_id: Mapped[str] = mapped_column(String(1000), comment="the profile id to restore")
    merge_build_id: Mapped[str] = mapped_column(String(100), comment="the build of the merge")
    requested_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )
    requested_by: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"ProfileUnmerge({self.merged_id!r} out of {self.kept_id!r})"


SegmentKind = Literal["dynamic", "static"]
SEGMENT_KINDS: tuple[SegmentKind, ...] = ("dynamic", "static")


class Segment(Base):
    """An audience of one profile database: dynamic (a definition, recomputed) or static (a
    list; possibly frozen from a dynamic segment). Its members are the warehouse table
    `segment_members`; its definitions are `segment_versions`, never changed, only added."""

    __tablename__ = "segments"
    __table_args__ = (CheckConstraint("kind in ('dynamic', 'static')", name="segment_kind"),)

    id: Mapped[int] = mapped_column(Identifier, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(63), unique=True, comment="the segment id; a slug")
    database_id: Mapped[int] = mapped_column(
        Identifier, ForeignKey("profile_databases.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(20), comment="dynamic or static")
    title: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1, comment="the current definition")
    refresh: Mapped[str | None] = mapped_column(
        String(100), comment="cron of a scheduled recomputation; null: when its inputs change"
    )
    frozen_from: Mapped[str | None] = mapped_column(
        String(63), comment="the dynamic segment a static one froze"
    )
    frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    depends_on: Mapped[list[str]] = mapped_column(
        JSONDocument, default=list, comment="segments its definition names (no cycles)"
    )
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )

    def __repr__(self) -> str:
        return f"Segment({self.name!r}, {self.kind})"


class SegmentVersion(Base):
    """One saved definition of a segment (herald.segments.definition), append-only."""

    __tablename__ = "segment_versions"
    __table_args__ = (UniqueConstraint("segment_id", "version"),)

    id: Mapped[int] = mapped_column(Identifier, primary_key=True, autoincrement=True)
    segment_id: Mapped[int] = mapped_column(
        Identifier, ForeignKey("segments.id", ondelete="CASCADE")
    )
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )
    created_by: Mapped[str | None] = mapped_column(String(200))


class SegmentListEntry(Base):
    """A profile added to or removed from a static segment by hand (API, CLI, file); the
    latest action per profile counts. Applied over the frozen snapshot, if any."""

    __tablename__ = "segment_list_entries"
    __table_args__ = (UniqueConstraint("segment_id", "profile_id"),)

    id: Mapped[int] = mapped_column(Identifier, primary_key=True, autoincrement=True)
    segment_id: Mapped[int] = mapped_column(
        Identifier, ForeignKey("segments.id", ondelete="CASCADE")
    )
    profile_id: Mapped[str] = mapped_column(String(1000))
    included: Mapped[bool] = mapped_column(Boolean, comment="true: added; false: removed")
    changed_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )
    source: Mapped[str] = mapped_column(String(200), comment="api, cli, file: <name>")


SegmentSyncMode = Literal["replace", "diff"]
SEGMENT_SYNC_MODES: tuple[SegmentSyncMode, ...] = ("replace", "diff")


class SegmentSync(Base):
    """A segment's members, with chosen profile fields, written to a table of an external SQL
    database on a cron schedule (herald.segments.sync): `replace` rebuilds the table whole,
    `diff` inserts, updates and deletes rows keyed by profile_id.

    `url` is a SQLAlchemy URL and may hold a password: show it only through
    `herald.imports.sql_source.masked_url`.
    """

    __tablename__ = "segment_syncs"
    __table_args__ = (
        CheckConstraint("mode in ('replace', 'diff')", name="segment_sync_mode"),
        CheckConstraint(
            "last_status is null or last_status in ('succeeded', 'failed')",
            name="segment_sync_status",
        ),
    )

    id: Mapped[int] = mapped_column(Identifier, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(63), unique=True, comment="lowercase snake_case")
    segment_id: Mapped[int] = mapped_column(
        Identifier, ForeignKey("segments.id", ondelete="CASCADE")
    )
    url: Mapped[str] = mapped_column(Text, comment="SQLAlchemy URL of the target database")
    table_name: Mapped[str] = mapped_column(String(300), comment="table (or schema.table)")
    fields: Mapped[list[str]] = mapped_column(
        JSONDocument, default=list, comment="profile fields to write; empty: all"
    )
    mode: Mapped[str] = mapped_column(String(20), default="replace", comment="replace or diff")
    schedule: Mapped[str] = mapped_column(
        String(100), default="0 * * * *", comment="cron expression (UTC)"
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status: Mapped[str | None] = mapped_column(String(20), comment="succeeded or failed")
    last_inserted: Mapped[int | None] = mapped_column(BigInteger)
    last_updated: Mapped[int | None] = mapped_column(BigInteger)
    last_deleted: Mapped[int | None] = mapped_column(BigInteger)
    last_total: Mapped[int | None] = mapped_column(BigInteger, comment="rows in the target")
    last_error: Mapped[str | None] = mapped_column(Text, comment="why the last run failed")

    def __repr__(self) -> str:
        return f"SegmentSync({self.name!r} -> {self.table_name!r}, {self.mode})"


UserRole = Literal["admin", "marketer", "analyst", "viewer"]
USER_ROLES: tuple[UserRole, ...] = ("admin", "marketer", "analyst", "viewer")


class User(Base):
    """A person who logs in to the web UI (herald.users): an argon2 password hash, a role
    (what they may do) and the language the UI speaks to them. A disabled user is kept, so
    what they did stays attributed, but may not log in."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role in ('admin', 'marketer', 'analyst', 'viewer')", name="user_role"),
        CheckConstraint("language in ('en', 'ru')", name="user_language"),
    )

    id: Mapped[int] = mapped_column(Identifier, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(150), unique=True, comment="the login name")
    password_hash: Mapped[str] = mapped_column(String(255), comment="argon2id")
    role: Mapped[str] = mapped_column(String(20), comment="admin, marketer, analyst or viewer")
    language: Mapped[str] = mapped_column(
        String(8), default="en", comment="of the web UI: en or ru"
    )
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )
    disabled_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), comment="set: the user may not log in"
    )
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"User({self.username!r}, {self.role})"


class TrackingSource(Base):
    """A website, app or server that sends events to the tracker with its write key
    (herald.tracking_sources). Only the key's SHA-256 is kept; its first characters help
    people tell keys apart. The source's profile database receives its identify calls."""

    __tablename__ = "tracking_sources"

    id: Mapped[int] = mapped_column(Identifier, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(63), unique=True, comment="lowercase snake_case")
    database_id: Mapped[int] = mapped_column(
        Identifier, ForeignKey("profile_databases.id", ondelete="CASCADE")
    )
    key_hash: Mapped[str] = mapped_column(
        String(64), unique=True, comment="SHA-256 of the write key, hex"
    )
    key_prefix: Mapped[str] = mapped_column(String(12), comment="the key's first characters")
    user_id_field: Mapped[str | None] = mapped_column(
        String(63), comment="the profile field a userId fills"
    )
    anonymous_id_field: Mapped[str | None] = mapped_column(
        String(63), comment="the profile field an anonymousId fills"
    )
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )
    disabled_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), comment="set: the key is refused"
    )

    def __repr__(self) -> str:
        return f"TrackingSource({self.name!r})"


class TrackedIdentity(Base):
    """A userId or anonymousId the loader has given a profile record (so every tracked event
    belongs to a profile); kept so that each gets one record, not one per event."""

    __tablename__ = "tracked_identities"
    __table_args__ = (CheckConstraint("kind in ('user', 'anonymous')", name="identity_kind"),)

    database_id: Mapped[int] = mapped_column(
        Identifier, ForeignKey("profile_databases.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(10), primary_key=True, comment="user or anonymous")
    value: Mapped[str] = mapped_column(String(255), primary_key=True)
    first_seen_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )


SendRunState = Literal["running", "paused", "cancelled", "finished"]
SEND_RUN_STATES: tuple[SendRunState, ...] = ("running", "paused", "cancelled", "finished")
SendState = Literal["sending", "sent", "deferred", "bounced", "failed", "skipped", "released"]
SEND_STATES: tuple[SendState, ...] = (
    "sending",
    "sent",
    "deferred",
    "bounced",
    "failed",
    "skipped",
    "released",
)


class SendRun(Base):
    """One run of a send (a campaign run, a transactional message, a test): what to send
    (its content spec), to whom (its audience snapshot) and whether workers may send it."""

    __tablename__ = "send_runs"
    __table_args__ = (
        CheckConstraint(
            "state in ('running', 'paused', 'cancelled', 'finished')", name="send_run_state"
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True, comment="the run's id")
    name: Mapped[str] = mapped_column(String(200), comment="campaign name, or what it is")
    kind: Mapped[str] = mapped_column(String(20), comment="campaign, transactional or test")
    channel: Mapped[str] = mapped_column(String(20))
    database: Mapped[str | None] = mapped_column(String(63), comment="profile database")
    spec: Mapped[dict[str, Any]] = mapped_column(JSONDocument, comment="content and options")
    state: Mapped[str] = mapped_column(String(16), default="running")
    snapshot: Mapped[str | None] = mapped_column(Text, comment="the audience snapshot file")
    recipients: Mapped[int] = mapped_column(
        BigInteger, default=0, server_default=text("0"), comment="rows of the snapshot"
    )
    enqueued: Mapped[int] = mapped_column(
        BigInteger, default=0, server_default=text("0"), comment="recipients confirmed queued"
    )
    enqueue_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    throttle_per_second: Mapped[int | None] = mapped_column(
        Integer, comment="set: the run is sent at most this fast"
    )
    campaign: Mapped[str | None] = mapped_column(String(63), comment="the campaign it sends")
    launch_id: Mapped[str | None] = mapped_column(String(64), comment="the campaign launch")
    variant: Mapped[str | None] = mapped_column(String(100), comment="A/B/n or MVT variant")
    not_before: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), comment="enqueued from this moment (scheduled, local time)"
    )
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )

    def __repr__(self) -> str:
        return f"SendRun({self.id!r}, {self.state})"


class SendLogEntry(Base):
    """The send log: one row per idempotency key, the latest state of that message. A
    worker claims a key (state `sending`) before delivering it and records the outcome;
    a key already claimed or done is never delivered again."""

    __tablename__ = "send_log"
    __table_args__ = (
        CheckConstraint(
            "state in ('sending', 'sent', 'deferred', 'bounced', 'failed', 'skipped', 'released')",
            name="send_state",
        ),
        Index(None, "run_id", "state"),
        Index(None, "destination", "state"),
    )

    key: Mapped[str] = mapped_column(String(200), primary_key=True, comment="idempotency key")
    run_id: Mapped[str] = mapped_column(String(64))
    profile_id: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(320), comment="address, chat id, ...")
    destination: Mapped[str] = mapped_column(String(255), comment="delivery-rules group")
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    worker: Mapped[str | None] = mapped_column(String(100), comment="who claimed it last")
    code: Mapped[int | None] = mapped_column(Integer, comment="SMTP or HTTP code")
    status: Mapped[str | None] = mapped_column(String(16), comment="RFC 3463 status")
    bounce_type: Mapped[str | None] = mapped_column(String(20))
    diagnostic: Mapped[str | None] = mapped_column(String(500))
    message_id: Mapped[str | None] = mapped_column(String(255))
    first_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )

    def __repr__(self) -> str:
        return f"SendLogEntry({self.key!r}, {self.state})"


class SuppressedAddress(Base):
    """An address no message goes to on a channel: a hard bounce, a complaint, a stop-list
    entry. Checked by the sender right before delivery."""

    __tablename__ = "suppressed_addresses"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    address: Mapped[str] = mapped_column(
        String(320), primary_key=True, comment="normalised: e-mail lowercased"
    )
    reason: Mapped[str] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(20), comment="bounce, complaint, stop_list, api")
    run_id: Mapped[str | None] = mapped_column(String(64), comment="the run that found it")
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )

    def __repr__(self) -> str:
        return f"SuppressedAddress({self.channel!r}, {self.address!r})"


class SenderWorker(Base):
    """A running sender worker process, with its heartbeat: workers divide each provider's
    limits by the number of live workers."""

    __tablename__ = "sender_workers"

    id: Mapped[str] = mapped_column(String(100), primary_key=True, comment="host:slot")
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)

    def __repr__(self) -> str:
        return f"SenderWorker({self.id!r})"


CONTENT_KINDS = ("template", "fragment")


class ContentItem(Base):
    """A message template or a fragment (a header, a footer, a block that templates include
    by name). Its documents are `content_versions`, never changed, only added."""

    __tablename__ = "content_items"
    __table_args__ = (
        UniqueConstraint("kind", "name"),
        CheckConstraint("kind in ('template', 'fragment')", name="content_kind"),
    )

    id: Mapped[int] = mapped_column(Identifier, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20), comment="template or fragment")
    name: Mapped[str] = mapped_column(String(63), comment="a slug")
    channel: Mapped[str | None] = mapped_column(String(20), comment="templates: the channel")
    version: Mapped[int] = mapped_column(Integer, default=1, comment="the current version")
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )

    def __repr__(self) -> str:
        return f"ContentItem({self.kind}, {self.name!r})"


class ContentVersion(Base):
    """One saved version of a template (parts, data sources, locale) or a fragment (source)."""

    __tablename__ = "content_versions"
    __table_args__ = (UniqueConstraint("item_id", "version"),)

    id: Mapped[int] = mapped_column(Identifier, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(
        Identifier, ForeignKey("content_items.id", ondelete="CASCADE")
    )
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )
    created_by: Mapped[str | None] = mapped_column(String(200))


class DataConnection(Base):
    """A named external database that templates query (`data: {x: {sql: {connection: ...}}}`).

    `url` is a SQLAlchemy URL and may hold a password: show it only masked."""

    __tablename__ = "data_connections"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )


CAMPAIGN_KINDS = ("one_off", "regular", "triggered", "transactional")
CAMPAIGN_STATES = ("draft", "scheduled", "active", "paused", "finished", "cancelled")


class Campaign(Base):
    """A campaign: what to send (a template, variants), to whom (segments less exclusions, or
    a trigger, or API calls), when (once, a schedule) and within which limits. Its document
    is the campaign file (herald.campaigns.definition); its runs are `campaign_launches`."""

    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint(
            "kind in ('one_off', 'regular', 'triggered', 'transactional')", name="campaign_kind"
        ),
        CheckConstraint(
            "state in ('draft', 'scheduled', 'active', 'paused', 'finished', 'cancelled')",
            name="campaign_state",
        ),
    )

    id: Mapped[int] = mapped_column(Identifier, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(63), unique=True, comment="a slug")
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(16), default="draft")
    definition: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    next_launch_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), comment="when the scheduler launches it next"
    )
    trigger_cursor: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), comment="triggered: segment entries up to here are sent"
    )
    launches: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )

    def __repr__(self) -> str:
        return f"Campaign({self.name!r}, {self.kind}, {self.state})"


class CampaignLaunch(Base):
    """One launch of a campaign: its audience frozen, its send runs (variants, time zones,
    observers) and, for an A/B/n test, the winner and when it was chosen (`plan`)."""

    __tablename__ = "campaign_launches"
    __table_args__ = (
        UniqueConstraint("campaign_id", "number"),
        CheckConstraint(
            "state in ('testing', 'sending', 'finished', 'paused', 'cancelled')",
            name="launch_state",
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        Identifier, ForeignKey("campaigns.id", ondelete="CASCADE")
    )
    number: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recipients: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    plan: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"CampaignLaunch({self.id!r}, {self.state})"


class SendingLimit(Base):
    """Limits on a sending domain (`domain:shop.example`) or a campaign (`campaign:news`):
    messages per hour and per day, and a warm-up ramp (from `warmup_start` per day on
    `warmup_from`, times `warmup_factor` each day, up to `warmup_cap`)."""

    __tablename__ = "sending_limits"

    scope: Mapped[str] = mapped_column(String(200), primary_key=True)
    per_hour: Mapped[int | None] = mapped_column(BigInteger)
    per_day: Mapped[int | None] = mapped_column(BigInteger)
    warmup_start: Mapped[int | None] = mapped_column(BigInteger)
    warmup_factor: Mapped[float | None] = mapped_column(Float)
    warmup_cap: Mapped[int | None] = mapped_column(BigInteger)
    warmup_from: Mapped[datetime | None] = mapped_column(UTCDateTime(), comment="day 0 (UTC)")
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=func.now()
    )


class SendingQuotaUse(Base):
    """Messages enqueued within a limit's window (an hour or a UTC day), counted before they
    are enqueued, so a restart can never send past a limit."""

    __tablename__ = "sending_quota_use"

    scope: Mapped[str] = mapped_column(String(200), primary_key=True)
    period: Mapped[str] = mapped_column(String(8), primary_key=True, comment="hour or day")
    period_start: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    used: Mapped[int] = mapped_column(BigInteger, default=0)
