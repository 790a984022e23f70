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
