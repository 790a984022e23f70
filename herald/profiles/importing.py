"""An import into a profile database: read, map, normalise, account for every row.

Accepted rows become raw profile records (landing files, see herald/profiles/records.py);
rejected rows go to the import's report with their reasons; the counts (received =
accepted + rejected) and the report's path are kept in the operational store. Loading the
landing files into the warehouse is a Dagster run (`herald import` starts it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine

from herald.errors import HeraldError
from herald.imports import (
    FieldSpec,
    ImportOutcome,
    ImportTally,
    NormalizeOptions,
    RowNormalizer,
    TableReader,
)
from herald.profiles.databases import get_database
from herald.profiles.records import ProfileRecord, records_table, write_records_file
from herald.profiles.schema import ProfileField
from herald.store import ProfileDatabase, ProfileImport, session_scope
from herald.store.models import utc_now

ImportMode = Literal["upsert", "insert", "update"]
BATCH_ROWS = 50_000


class ImportSetupError(HeraldError):
    """The import cannot start: a mapping, key or match field does not fit the schema."""


@dataclass(frozen=True)
class ImportRequest:
    database: str
    source: str
    kind: Literal["file", "paste", "manual", "api", "sql"] = "file"
    mode: ImportMode = "upsert"
    key_column: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    match_fields: tuple[str, ...] = ()
    region: str = "RU"
    dayfirst: bool = True
    file_name: str | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class ImportResult:
    import_id: str
    outcome: ImportOutcome
    mapping: dict[str, str]
    landing_files: tuple[Path, ...]

    def summary(self) -> dict[str, object]:
        return {
            "import_id": self.import_id,
            "received": self.outcome.received,
            "accepted": self.outcome.accepted,
            "rejected": self.outcome.rejected,
            "report": str(self.outcome.rejects_path) if self.outcome.rejects_path else None,
            "mapping": self.mapping,
            "warnings": list(self.outcome.warnings),
            "rejected_by_reason": self.outcome.reasons,
        }


def column_mapping(
    columns: list[str], fields: tuple[ProfileField, ...], explicit: dict[str, str]
) -> dict[str, str]:
    """Column → field: the explicit `--map column=field` pairs, then columns named like a
    field (case-insensitive). Other columns are not imported (the result says which)."""
    by_name = {item.name: item for item in fields}
    unknown_columns = sorted(set(explicit) - set(columns))
    if unknown_columns:
        raise ImportSetupError(
            f"--map names columns the file does not have: {', '.join(unknown_columns)} "
            f"(its columns: {', '.join(columns)})"
        )
    unknown_fields = sorted(set(explicit.values()) - set(by_name))
    if unknown_fields:
        raise ImportSetupError(
            f"--map names fields the database does not have: {', '.join(unknown_fields)} "
            f"(its fields: {', '.join(by_name)})"
        )
    mapping = dict(explicit)
    taken = set(mapping.values())
    for column in columns:
        name = column.strip().lower().replace(" ", "_")
        if column not in mapping and name in by_name and name not in taken:
            mapping[column] = name
            taken.add(name)
    missing = [
        item.name
        for item in fields
        if item.required and item.default is None and item.name not in taken
    ]
    if missing:
        raise ImportSetupError(
            f"required fields have no column: {', '.join(missing)}; map one with --map column=field"
        )
    return mapping


def run_import(
    store: Engine, home: Path, reader: TableReader, request: ImportRequest
) -> ImportResult:
    """Read every row of `reader` into the profile database named by the request."""
    database = get_database(store, request.database)
    schema_fields = database.schema.fields
    mapping = column_mapping(list(reader.columns), schema_fields, request.mapping)
    if request.key_column is not None and request.key_column not in reader.columns:
        raise ImportSetupError(
            f"--key {request.key_column!r} is not a column of the file "
            f"(its columns: {', '.join(reader.columns)})"
        )
    field_names = {item.name for item in schema_fields}
    unknown_match = sorted(set(request.match_fields) - field_names)
    if unknown_match:
        raise ImportSetupError(f"--match names unknown fields: {', '.join(unknown_match)}")

    mapped = {target for target in mapping.values()}
    specs = [
        FieldSpec(
            name=item.name,
            type=item.type,
            identifier=item.identifier,
            required=item.required,
            default=item.default,
            enum_values=tuple(item.values or ()),
        )
        for item in schema_fields
        if item.name in mapped
    ]
    normalize = RowNormalizer(
        specs, NormalizeOptions(region=request.region, dayfirst=request.dayfirst)
    )
    import_id = f"imp-{uuid.uuid4().hex[:16]}"
    report_dir = home / "imports" / import_id
    record_id = _start(store, import_id, request, mapping)
    started = datetime.now(UTC)
    tally = ImportTally(report_dir / "rejected.csv", reader.columns)
    columns = list(reader.columns)
    key_index = columns.index(request.key_column) if request.key_column else None
    files: list[Path] = []
    received = 0
    try:
        for batch in reader.batches(BATCH_ROWS):
            records: list[ProfileRecord] = []
            for row in batch:
                received += 1
                if row.problem:
                    tally.reject(row.row_number, row.problem, row.values)
                    continue
                values = {
                    mapping[column]: value
                    for column, value in zip(columns, row.values, strict=False)
                    if column in mapping
                }
                clean, errors = normalize(values)
                key = row.values[key_index] if key_index is not None else None
                if key_index is not None and not (key or "").strip():
                    errors.append(f"empty key column {request.key_column!r}")
                if errors:
                    tally.reject(row.row_number, "; ".join(errors), row.values)
                    continue
                record_key = (key or "").strip() or f"{import_id}:{row.row_number}"
                records.append(ProfileRecord(row.row_number, record_key, clean))
                tally.accept()
            if records:
                table = records_table(
                    records,
                    database=request.database,
                    source=request.source,
                    import_id=import_id,
                    mode=request.mode,
                    imported_at=started,
                )
                files.append(write_records_file(home / "landing", import_id, len(files), table))
        outcome = tally.finish(received, reader.warnings)
    except BaseException as exc:
        _finish(store, record_id, status="failed", error=str(exc) or type(exc).__name__)
        raise
    _finish(store, record_id, status="succeeded", outcome=outcome)
    return ImportResult(import_id, outcome, mapping, tuple(files))


def _start(store: Engine, import_id: str, request: ImportRequest, mapping: dict[str, str]) -> int:
    with session_scope(store) as session:
        database = session.query(ProfileDatabase).filter_by(name=request.database).one()
        entry = ProfileImport(
            import_id=import_id,
            database_id=database.id,
            source=request.source,
            kind=request.kind,
            file_name=request.file_name,
            mode=request.mode,
            options={
                "mapping": mapping,
                "key_column": request.key_column,
                "match_fields": list(request.match_fields),
                "region": request.region,
                "dayfirst": request.dayfirst,
            },
            status="running",
            received=0,
            accepted=0,
            rejected=0,
            request_id=request.request_id,
        )
        session.add(entry)
        session.flush()
        return entry.id


def _finish(
    store: Engine,
    record_id: int,
    *,
    status: str,
    outcome: ImportOutcome | None = None,
    error: str | None = None,
) -> None:
    with session_scope(store) as session:
        entry = session.get(ProfileImport, record_id)
        assert entry is not None
        entry.status = status
        entry.finished_at = utc_now()
        entry.error = error
        if outcome is not None:
            entry.received = outcome.received
            entry.accepted = outcome.accepted
            entry.rejected = outcome.rejected
            entry.report_path = str(outcome.rejects_path) if outcome.rejects_path else None


def record_import_run(store: Engine, import_id: str, run_id: str) -> None:
    with session_scope(store) as session:
        entry = session.query(ProfileImport).filter_by(import_id=import_id).one()
        entry.run_id = run_id
