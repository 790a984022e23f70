"""Segment syncs: a segment's members, with chosen profile fields, kept in a table of an
external SQL database (a CRM, an ad platform's staging database) on a cron schedule.

    add_segment_sync(store, "vip_to_crm", segment="vip", url=url, table="herald_vip",
                     fields=["email", "level"], mode="diff", schedule="0 * * * *")
    result = run_sync(store, warehouse, "vip_to_crm")   # counts; recorded on the sync

The target table has `profile_id` (its primary key) and one column per field, typed from the
warehouse's column types (lists and JSON documents as JSON text). Two modes:

- `replace`: the rows are written into a new table, which then takes the target's place
  (the old one dropped, the new one renamed) in the same transaction. The counts say
  inserted = rows written, deleted = rows the old table had.
- `diff`: the target (created on the first run) is compared with the members by
  profile_id; new members are inserted, members who left are deleted and rows whose field
  values changed are updated, all in one transaction, in batches.

Members are read from the warehouse (`segment_members`, written by Dagster runs only); the
target is written with SQLAlchemy Core. A failure of the target (unreachable, login refused,
no permission, a missing column) is one clear line, without the URL's password, kept as the
sync's `last_error` and raised as SegmentSyncError.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy import URL, Connection, Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from herald.errors import HeraldError
from herald.i18n import N_
from herald.imports.sql_source import CRON, BadSourceUrl, masked_url, parse_source_url
from herald.segments.catalog import UnknownSegment
from herald.segments.export import read_segment_members
from herald.warehouse import Warehouse

BATCH_ROWS = 10_000
CONNECT_TIMEOUT_S = 10
SYNC_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
TABLE_NAME = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*$")
SYNC_MODES = ("replace", "diff")
KEY = "profile_id"
# Columns of the profile view that are not schema fields but can be synced.
PROFILE_TIMES = ("created_at", "updated_at")


class SegmentSyncError(HeraldError):
    """A segment sync cannot be kept or run; the message says why, without a password."""


class UnknownSegmentSync(SegmentSyncError):
    def __init__(self, name: str) -> None:
        super().__init__(
            N_("there is no segment sync {name}").format(name=repr(name))
            + "; "
            + N_("`herald segment sync-list` shows them")
        )


class SegmentSyncExists(SegmentSyncError):
    def __init__(self, name: str) -> None:
        super().__init__(N_("a segment sync named {name} exists already").format(name=repr(name)))


class SyncTargetError(SegmentSyncError):
    """The target database cannot be reached or written."""


# ---------------------------------------------------------------------------------------------
# Syncs kept in the operational store


@dataclass(frozen=True)
class SegmentSyncInfo:
    """A segment sync as the store keeps it; `url` holds the password: show `shown_url`."""

    name: str
    segment: str
    database: str
    url: str
    table: str
    fields: list[str]
    mode: str
    schedule: str
    enabled: bool
    created_at: dt.datetime
    last_run_at: dt.datetime | None
    last_status: str | None
    last_inserted: int | None
    last_updated: int | None
    last_deleted: int | None
    last_total: int | None
    last_error: str | None

    @property
    def shown_url(self) -> str:
        return masked_url(self.url)

    def public(self) -> dict[str, Any]:
        """Everything but the password, for listings."""
        return {
            "name": self.name,
            "segment": self.segment,
            "database": self.database,
            "url": self.shown_url,
            "table": self.table,
            "fields": self.fields,
            "mode": self.mode,
            "schedule": self.schedule,
            "enabled": self.enabled,
            "last_run_at": self.last_run_at.isoformat() if self.last_run_at else None,
            "last_status": self.last_status,
            "last_inserted": self.last_inserted,
            "last_updated": self.last_updated,
            "last_deleted": self.last_deleted,
            "last_total": self.last_total,
            "last_error": self.last_error,
        }


def _info(sync: Any, segment: str, database: str) -> SegmentSyncInfo:
    return SegmentSyncInfo(
        name=sync.name,
        segment=segment,
        database=database,
        url=sync.url,
        table=sync.table_name,
        fields=list(sync.fields or []),
        mode=sync.mode,
        schedule=sync.schedule,
        enabled=sync.enabled,
        created_at=sync.created_at,
        last_run_at=sync.last_run_at,
        last_status=sync.last_status,
        last_inserted=sync.last_inserted,
        last_updated=sync.last_updated,
        last_deleted=sync.last_deleted,
        last_total=sync.last_total,
        last_error=sync.last_error,
    )


def _check_definition(name: str, url: str, table: str, mode: str, schedule: str) -> None:
    if not SYNC_NAME.match(name):
        raise SegmentSyncError(
            N_(
                "sync name {name}: use lowercase letters, digits and _, starting with a letter"
            ).format(name=repr(name))
        )
    if not TABLE_NAME.match(table):
        raise SegmentSyncError(
            N_("table {table}: use letters, digits and _ (schema.table allowed)").format(
                table=repr(table)
            )
        )
    if mode not in SYNC_MODES:
        raise SegmentSyncError(N_("mode {mode}: use replace or diff").format(mode=repr(mode)))
    if not CRON.match(schedule):
        raise SegmentSyncError(
            N_("schedule {schedule} is not a cron expression like '0 * * * *'").format(
                schedule=repr(schedule)
            )
        )
    target_url(url)


def _check_fields(store: Engine, database: str, fields: Sequence[str]) -> list[str]:
    """The fields without repeats (nor profile_id), each a field of the profile database."""
    from herald.profiles.databases import get_database
    from herald.segments.export import UnknownSegmentField

    known = [*PROFILE_TIMES, *(field.name for field in get_database(store, database).schema.fields)]
    chosen: list[str] = []
    for field in fields:
        if field == KEY or field in chosen:
            continue
        if field not in known:
            raise UnknownSegmentField(field, database, known)
        chosen.append(field)
    return chosen


def add_segment_sync(
    store: Engine,
    name: str,
    *,
    segment: str,
    url: str,
    table: str,
    fields: Sequence[str] = (),
    mode: str = "replace",
    schedule: str = "0 * * * *",
    enabled: bool = True,
) -> SegmentSyncInfo:
    """Keep a new segment sync; the target database is not contacted (it may be down now).
    No fields: every field of the profile database, as it is at each run."""
    from herald.store import ProfileDatabase, session_scope
    from herald.store.models import Segment, SegmentSync

    schedule = " ".join(schedule.split())
    _check_definition(name, url, table, mode, schedule)
    with session_scope(store) as session:
        found = (
            session.query(Segment, ProfileDatabase.name)
            .join(ProfileDatabase, Segment.database_id == ProfileDatabase.id)
            .filter(Segment.name == segment)
            .one_or_none()
        )
        if found is None:
            raise UnknownSegment(segment)
        owner, database = found
        if session.query(SegmentSync).filter_by(name=name).count():
            raise SegmentSyncExists(name)
        sync = SegmentSync(
            name=name,
            segment_id=owner.id,
            url=url,
            table_name=table,
            fields=_check_fields(store, database, fields),
            mode=mode,
            schedule=schedule,
            enabled=enabled,
        )
        session.add(sync)
        session.flush()
        return _info(sync, segment, database)


def list_segment_syncs(store: Engine, *, enabled_only: bool = False) -> list[SegmentSyncInfo]:
    from herald.store import ProfileDatabase, session_scope
    from herald.store.models import Segment, SegmentSync

    with session_scope(store) as session:
        query = (
            session.query(SegmentSync, Segment.name, ProfileDatabase.name)
            .join(Segment, SegmentSync.segment_id == Segment.id)
            .join(ProfileDatabase, Segment.database_id == ProfileDatabase.id)
        )
        if enabled_only:
            query = query.filter(SegmentSync.enabled.is_(True))
        return [
            _info(sync, segment, database)
            for sync, segment, database in query.order_by(SegmentSync.name)
        ]


def get_segment_sync(store: Engine, name: str) -> SegmentSyncInfo:
    for sync in list_segment_syncs(store):
        if sync.name == name:
            return sync
    raise UnknownSegmentSync(name)


def remove_segment_sync(store: Engine, name: str) -> None:
    """Forget a sync; its target table stays as it is."""
    from herald.store import session_scope
    from herald.store.models import SegmentSync

    with session_scope(store) as session:
        sync = session.query(SegmentSync).filter_by(name=name).one_or_none()
        if sync is None:
            raise UnknownSegmentSync(name)
        session.delete(sync)


# ---------------------------------------------------------------------------------------------
# Running a sync


@dataclass(frozen=True)
class SyncCounts:
    """What a run did to the target: rows inserted, updated, deleted, and the rows it holds."""

    inserted: int
    updated: int
    deleted: int
    total: int


@dataclass(frozen=True)
class SyncResult:
    name: str
    segment: str
    table: str
    mode: str
    counts: SyncCounts

    def public(self) -> dict[str, Any]:
        return {
            "sync": self.name,
            "segment": self.segment,
            "table": self.table,
            "mode": self.mode,
            "inserted": self.counts.inserted,
            "updated": self.counts.updated,
            "deleted": self.counts.deleted,
            "total": self.counts.total,
        }


def run_sync(store: Engine, warehouse: Warehouse, name: str) -> SyncResult:
    """Write sync `name`'s segment members to its target now and record the outcome.

    On failure the sync's last_status is `failed` with the reason in last_error, and a
    SegmentSyncError with the same reason is raised.
    """
    sync = get_segment_sync(store, name)
    try:
        members = read_segment_members(warehouse, sync.segment, sync.database, sync.fields)
        counts = write_target(sync.url, sync.table, members, sync.mode)
    except HeraldError as exc:
        reason = str(exc)
        _record(store, name, None, reason)
        raise SegmentSyncError(
            N_("segment sync {name} failed: {detail}").format(name=name, detail=reason)
        ) from None
    _record(store, name, counts, None)
    return SyncResult(name, sync.segment, sync.table, sync.mode, counts)


def _record(store: Engine, name: str, counts: SyncCounts | None, error: str | None) -> None:
    from herald.store import session_scope
    from herald.store.models import SegmentSync, utc_now

    with session_scope(store) as session:
        sync = session.query(SegmentSync).filter_by(name=name).one()
        sync.last_run_at = utc_now()
        sync.last_status = "failed" if counts is None else "succeeded"
        sync.last_error = error
        if counts is not None:
            sync.last_inserted = counts.inserted
            sync.last_updated = counts.updated
            sync.last_deleted = counts.deleted
            sync.last_total = counts.total


# ---------------------------------------------------------------------------------------------
# The target database


def target_url(url: str | URL) -> URL:
    """The target's URL (a bare postgresql:// taking psycopg 3); SegmentSyncError if bad."""
    try:
        return parse_source_url(url)
    except BadSourceUrl as exc:
        raise SegmentSyncError(str(exc)) from None


def target_engine(url: str | URL, *, connect_timeout: int = CONNECT_TIMEOUT_S) -> Engine:
    """An engine on the target that gives up on a connection after `connect_timeout`."""
    parsed = target_url(url)
    backend = parsed.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend in ("postgresql", "mysql", "mariadb"):
        connect_args = {"connect_timeout": connect_timeout}
    elif backend == "sqlite":
        connect_args = {"timeout": connect_timeout}
    try:
        return sa.create_engine(parsed, connect_args=connect_args, pool_pre_ping=True)
    except (NoSuchModuleError, ModuleNotFoundError, ImportError) as exc:
        raise SegmentSyncError(
            N_("no driver for {driver}: {reason}").format(
                driver=repr(parsed.drivername), reason=_scrub(str(exc), parsed)
            )
        ) from None
    except (ArgumentError, TypeError, ValueError) as exc:
        raise SegmentSyncError(f"{masked_url(parsed)}: {_scrub(str(exc), parsed)}") from None


def _scrub(message: str, url: URL) -> str:
    """A driver message on one line, without the URL's password in it."""
    line = next((part.strip() for part in message.strip().splitlines() if part.strip()), "")
    if url.password:
        line = line.replace(str(url.password), "***")
    return line or "unknown error"


def _reason(exc: SQLAlchemyError, url: URL) -> str:
    orig = getattr(exc, "orig", None)
    return _scrub(str(orig) if orig is not None else str(exc), url)


def write_target(url: str, table: str, members: pa.Table, mode: str) -> SyncCounts:
    """Write `members` (profile_id first) to `table` of the database at `url`."""
    engine = target_engine(url)
    shown = masked_url(url)
    try:
        try:
            with engine.connect():
                pass
        except SQLAlchemyError as exc:
            raise SyncTargetError(
                N_("cannot connect to {url}: {reason}").format(
                    url=shown, reason=_reason(exc, engine.url)
                )
            ) from None
        try:
            if mode == "replace":
                return _replace(engine, table, members)
            return _diff(engine, table, members)
        except SQLAlchemyError as exc:
            raise SyncTargetError(
                N_("cannot write table {table} of {url}: {reason}").format(
                    table=table, url=shown, reason=_reason(exc, engine.url)
                )
            ) from None
    finally:
        engine.dispose()


def _split(table: str) -> tuple[str | None, str]:
    schema, _, name = table.rpartition(".")
    return (schema or None), name


Converter = Callable[[Any], Any]


def _column_type(arrow_type: pa.DataType) -> tuple[sa.types.TypeEngine[Any], Converter | None]:
    """The SQL type for a warehouse column, and how to convert its values (None: as they are)."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return sa.Text(), None
    if pa.types.is_boolean(arrow_type):
        return sa.Boolean(), None
    if pa.types.is_integer(arrow_type):
        small = arrow_type.bit_width <= 16 or (
            arrow_type.bit_width == 32 and pa.types.is_signed_integer(arrow_type)
        )
        return (sa.Integer() if small else sa.BigInteger()), None
    if pa.types.is_floating(arrow_type):
        return sa.Double(), None
    if pa.types.is_decimal(arrow_type):
        return sa.Numeric(arrow_type.precision, arrow_type.scale), None
    if pa.types.is_date(arrow_type):
        return sa.Date(), None
    if pa.types.is_timestamp(arrow_type):
        return sa.DateTime(timezone=arrow_type.tz is not None), None
    return sa.Text(), _json_text


def _json_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _target_table(name: str, schema: str | None, members: pa.Schema) -> sa.Table:
    columns = [sa.Column(KEY, sa.String(1000), primary_key=True)]
    for field in members:
        if field.name != KEY:
            columns.append(sa.Column(field.name, _column_type(field.type)[0]))
    return sa.Table(name, sa.MetaData(), *columns, schema=schema)


def _rows(members: pa.Table) -> Iterator[dict[str, Any]]:
    """The members as rows for the target, values converted; rows without a profile_id
    (none are expected) are left out."""
    converters = {
        field.name: converter
        for field in members.schema
        if (converter := _column_type(field.type)[1]) is not None
    }
    for batch in members.to_batches(BATCH_ROWS):
        for row in batch.to_pylist():
            if row.get(KEY) is None:
                continue
            for column, converter in converters.items():
                row[column] = converter(row[column])
            yield row


def _batches(rows: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), BATCH_ROWS):
        yield rows[start : start + BATCH_ROWS]


def _insert(connection: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    for batch in _batches(rows):
        connection.execute(table.insert(), list(batch))


def _replace(engine: Engine, table: str, members: pa.Table) -> SyncCounts:
    """Write the members into a new table, then, in one short transaction, drop the old table
    and rename the new one into its place: readers see the old rows or the new ones, and are
    kept waiting only for the swap, not for the load."""
    schema, name = _split(table)
    staging = _target_table(f"{name[:40]}__herald_{uuid.uuid4().hex[:8]}", schema, members.schema)
    rows = list(_rows(members))
    try:
        with engine.begin() as connection:
            staging.create(connection)
            _insert(connection, staging, rows)
        with engine.begin() as connection:
            previous = _drop_if_exists(connection, name, schema)
            _rename(connection, staging, name)
    except BaseException:
        _drop_quietly(engine, staging)
        raise
    return SyncCounts(inserted=len(rows), updated=0, deleted=previous, total=len(rows))


def _drop_if_exists(connection: Connection, name: str, schema: str | None) -> int:
    """Drop a table if it exists; the number of rows it had."""
    if not sa.inspect(connection).has_table(name, schema=schema):
        return 0
    old = sa.Table(name, sa.MetaData(), schema=schema)
    count = connection.execute(sa.select(sa.func.count()).select_from(old)).scalar()
    old.drop(connection)
    return int(count or 0)


def _rename(connection: Connection, table: sa.Table, name: str) -> None:
    preparer = connection.dialect.identifier_preparer
    connection.execute(
        sa.text(f"alter table {preparer.format_table(table)} rename to {preparer.quote(name)}")
    )


def _drop_quietly(engine: Engine, table: sa.Table) -> None:
    """Drop a staging table left behind by a failed replace (databases whose DDL commits)."""
    try:
        with engine.begin() as connection:
            table.drop(connection, checkfirst=True)
    except SQLAlchemyError:
        pass


def _diff(engine: Engine, table: str, members: pa.Table) -> SyncCounts:
    """Insert new members, delete those who left, update changed values; one transaction."""
    schema, name = _split(table)
    target = _target_table(name, schema, members.schema)
    fields = [column.name for column in target.columns if column.name != KEY]
    with engine.begin() as connection:
        if sa.inspect(connection).has_table(name, schema=schema):
            _check_columns(connection, target)
        else:
            target.create(connection)
        existing = {
            row[0]: _comparable(row[1:])
            for row in connection.execute(sa.select(target.c[KEY], *(target.c[f] for f in fields)))
        }
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for row in _rows(members):
            old = existing.pop(row[KEY], None)
            if old is None:
                inserts.append(row)
            elif old != _comparable([row[field] for field in fields]):
                updates.append(row)
        deletes = list(existing)
        for batch in _batches(deletes):
            connection.execute(target.delete().where(target.c[KEY].in_(batch)))
        _update(connection, target, fields, updates)
        _insert(connection, target, inserts)
        total = int(
            connection.execute(sa.select(sa.func.count()).select_from(target)).scalar() or 0
        )
    return SyncCounts(
        inserted=len(inserts), updated=len(updates), deleted=len(deletes), total=total
    )


def _check_columns(connection: Connection, target: sa.Table) -> None:
    present = {
        column["name"]
        for column in sa.inspect(connection).get_columns(target.name, schema=target.schema)
    }
    missing = [column.name for column in target.columns if column.name not in present]
    if missing:
        raise SyncTargetError(
            N_(
                "table {table} has no column {columns}: add it, or run the sync in replace mode"
            ).format(table=target.fullname, columns=", ".join(missing))
        )


def _update(
    connection: Connection, target: sa.Table, fields: list[str], rows: list[dict[str, Any]]
) -> None:
    if not rows or not fields:
        return
    # Bound parameters cannot take the columns' own names in an UPDATE's SET clause.
    statement = (
        target.update()
        .where(target.c[KEY] == sa.bindparam("_key"))
        .values({field: sa.bindparam(f"_v{index}") for index, field in enumerate(fields)})
    )
    for batch in _batches(rows):
        connection.execute(
            statement,
            [
                {"_key": row[KEY], **{f"_v{i}": row[field] for i, field in enumerate(fields)}}
                for row in batch
            ],
        )


def _comparable(values: Sequence[Any]) -> tuple[Any, ...]:
    """Values as the target gives them back and as the warehouse gives them, made equal when
    they mean the same: aware datetimes in UTC without their zone (SQLite keeps none)."""
    return tuple(
        value.astimezone(dt.UTC).replace(tzinfo=None)
        if isinstance(value, dt.datetime) and value.tzinfo is not None
        else value
        for value in values
    )


__all__ = [
    "SegmentSyncError",
    "SegmentSyncExists",
    "SegmentSyncInfo",
    "SyncCounts",
    "SyncResult",
    "SyncTargetError",
    "UnknownSegment",
    "UnknownSegmentSync",
    "add_segment_sync",
    "get_segment_sync",
    "list_segment_syncs",
    "remove_segment_sync",
    "run_sync",
    "target_engine",
    "write_target",
]
