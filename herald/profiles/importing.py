"""An import into a profile database: read, map, normalise, account for every row.

Accepted rows become raw profile records (landing files, see herald/profiles/records.py);
rejected rows go to the import's report with their reasons; the counts (received =
accepted + rejected) and the report's path are kept in the operational store. Loading the
landing files into the warehouse is a Dagster run (`herald import` starts it).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine

from herald.errors import HeraldError
from herald.i18n import N_
from herald.imports import (
    FieldSpec,
    ImportOutcome,
    ImportTally,
    NormalizeOptions,
    RowNormalizer,
    SourceRow,
    TableReader,
)
from herald.imports.duckdb_csv import DuckDBImport, DuckDBPathUnavailable, import_with_duckdb
from herald.imports.normalize import collector_paused
from herald.profiles.databases import get_database
from herald.profiles.records import (
    field_json,
    fields_json_rows,
    landing_table,
    landing_table_from_arrow,
    write_records_file,
)
from herald.profiles.schema import ProfileField
from herald.store import ProfileDatabase, ProfileImport, session_scope
from herald.store.models import utc_now

log = logging.getLogger(__name__)

ImportMode = Literal["upsert", "insert", "update"]
BATCH_ROWS = 50_000
IMPORT_WORKERS_MAX = 4
LANDING_WRITERS = 2


class ImportSetupError(HeraldError):
    """The import cannot start: a mapping, key or match field does not fit the schema."""


@dataclass(frozen=True)
class ImportRequest:
    database: str
    source: str
    kind: Literal["file", "paste", "manual", "api", "sql", "copy"] = "file"
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
    store: Engine,
    home: Path,
    reader: TableReader,
    request: ImportRequest,
    *,
    workers: int | None = None,
    duckdb_path: bool = True,
) -> ImportResult:
    """Read every row of `reader` into the profile database named by the request.

    A UTF-8 delimited file is read and normalised by DuckDB where it can read the file as
    Python's csv module does (`herald.imports.duckdb_csv`; `duckdb_path=False` turns that
    off); anything else, or a file that needs it, takes the Python path. There, a source of
    more than one batch is normalised by `workers` forked processes while this one reads and
    writes (by default one per core, see `_default_workers`; 0 = everything in this
    process). The result is the same on every path.
    """
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
    options = NormalizeOptions(region=request.region, dayfirst=request.dayfirst)
    import_id = f"imp-{uuid.uuid4().hex[:16]}"
    report_dir = home / "imports" / import_id
    record_id = _start(store, import_id, request, mapping)
    started = datetime.now(UTC)
    tally = ImportTally(report_dir / "rejected.csv", reader.columns)
    columns = list(reader.columns)
    mapped_columns = [
        (index, mapping[column]) for index, column in enumerate(columns) if column in mapping
    ]
    key_index = columns.index(request.key_column) if request.key_column else None
    files: list[Path] = []
    received = 0
    try:
        fast = (
            _read_with_duckdb(
                reader, specs, options, mapped_columns, key_index, request.key_column, import_id
            )
            if duckdb_path
            else None
        )
        if fast is not None:
            with fast:
                received = fast.received
                for row_number, reason, cells in fast.rejected_rows():
                    tally.reject(row_number, reason, cells)
                files.extend(_write_landing_files(fast, tally, request, import_id, started, home))
            outcome = tally.finish(received, reader.warnings)
        else:
            outcome = _python_path(
                reader,
                request,
                specs,
                options,
                mapped_columns,
                key_index,
                import_id,
                started,
                tally,
                files,
                home,
                workers,
            )
    except BaseException as exc:
        _finish(store, record_id, status="failed", error=str(exc) or type(exc).__name__)
        raise
    _finish(store, record_id, status="succeeded", outcome=outcome)
    return ImportResult(import_id, outcome, mapping, tuple(files))


def _write_landing_files(
    fast: DuckDBImport,
    tally: ImportTally,
    request: ImportRequest,
    import_id: str,
    started: datetime,
    home: Path,
) -> list[Path]:
    """The accepted rows of the DuckDB path as landing files, one per reading batch, written
    two at a time (pyarrow writes without the GIL)."""
    with ThreadPoolExecutor(LANDING_WRITERS) as pool:
        pending = []
        for part, (row_numbers, record_keys, fields) in enumerate(fast.accepted_batches()):
            tally.accept(len(row_numbers))
            table = landing_table_from_arrow(
                row_numbers,
                record_keys,
                fields,
                database=request.database,
                source=request.source,
                import_id=import_id,
                mode=request.mode,
                imported_at=started,
            )
            pending.append(
                pool.submit(write_records_file, home / "landing", import_id, part, table)
            )
        return [future.result() for future in pending]


def _read_with_duckdb(
    reader: TableReader,
    specs: list[FieldSpec],
    options: NormalizeOptions,
    mapped_columns: list[tuple[int, str]],
    key_index: int | None,
    key_column: str | None,
    import_id: str,
) -> DuckDBImport | None:
    """The file read and normalised by DuckDB, or None where it needs the Python path."""
    try:
        return import_with_duckdb(
            reader,
            specs,
            options,
            mapped_columns,
            key_index,
            key_column,
            import_id,
            BATCH_ROWS,
        )
    except DuckDBPathUnavailable as reason:
        level = logging.WARNING if reason.unexpected else logging.DEBUG
        log.log(level, "%s: read in Python (%s)", reader.source, reason)
        return None


def _python_path(
    reader: TableReader,
    request: ImportRequest,
    specs: list[FieldSpec],
    options: NormalizeOptions,
    mapped_columns: list[tuple[int, str]],
    key_index: int | None,
    import_id: str,
    started: datetime,
    tally: ImportTally,
    files: list[Path],
    home: Path,
    workers: int | None,
) -> ImportOutcome:
    """Read, normalise and account for the rows in Python (and forked workers)."""
    received = 0
    with _BatchNormalizer(specs, options, mapped_columns, workers) as normalized_batches:
        for batch, normalized in normalized_batches(reader.batches(BATCH_ROWS)):
            received += len(batch)
            with collector_paused():
                accepted = _account_batch(
                    batch, normalized, tally, key_index, request.key_column, import_id
                )
                if accepted is None:
                    continue
                table = landing_table(
                    *accepted,
                    database=request.database,
                    source=request.source,
                    import_id=import_id,
                    mode=request.mode,
                    imported_at=started,
                )
            files.append(write_records_file(home / "landing", import_id, len(files), table))
    return tally.finish(received, reader.warnings)


# A batch's readable rows (those without a reader problem) normalised: each row's `fields` JSON
# text (meaningless where the row has errors) and the errors of the rows that have any, by the
# row's index among the readable rows.
NormalizedBatch = tuple[list[str], dict[int, list[str]]]


def _readable_columns(
    batch: list[SourceRow], mapped_columns: list[tuple[int, str]]
) -> tuple[dict[str, Sequence[str | None]], int]:
    """The raw cells of the batch's readable rows by field, and how many rows that is."""
    readable = [row.values for row in batch if not row.problem]
    if not readable:
        return {}, 0
    with collector_paused():
        cells = list(zip(*readable, strict=True))
    return {target: cells[index] for index, target in mapped_columns}, len(readable)


def _normalize_batch(
    normalize: RowNormalizer, columns: dict[str, Sequence[str | None]], rows: int
) -> NormalizedBatch:
    with collector_paused():
        normalized = normalize.normalize_columns(columns, rows, encode=field_json)
        return fields_json_rows(normalized.values, rows), normalized.errors


_worker_normalizer: RowNormalizer | None = None


def _start_worker(specs: list[FieldSpec], options: NormalizeOptions) -> None:
    global _worker_normalizer
    _worker_normalizer = RowNormalizer(specs, options)


def _normalize_in_worker(columns: dict[str, Sequence[str | None]], rows: int) -> NormalizedBatch:
    assert _worker_normalizer is not None
    return _normalize_batch(_worker_normalizer, columns, rows)


class _BatchNormalizer:
    """Normalises an import's batches in order: the first one here, the next ones, if any, in
    worker processes while this process reads ahead (normalising is pure Python and costs
    several times the reading, so a second core nearly halves an import of a large file).

    At most `workers + 2` batches are in flight, so memory stays bounded whatever the file's
    size. The results do not depend on the workers: every normaliser is a pure function of its
    cell, and the caches only remember results.
    """

    def __init__(
        self,
        specs: list[FieldSpec],
        options: NormalizeOptions,
        mapped_columns: list[tuple[int, str]],
        workers: int | None,
    ) -> None:
        self.specs = specs
        self.options = options
        self.mapped_columns = mapped_columns
        if workers is None:
            workers = _default_workers()
        elif "fork" not in multiprocessing.get_all_start_methods():
            workers = 0
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> _BatchNormalizer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __call__(
        self, batches: Iterator[list[SourceRow]]
    ) -> Iterator[tuple[list[SourceRow], NormalizedBatch]]:
        local = RowNormalizer(self.specs, self.options)

        def here(batch: list[SourceRow]) -> NormalizedBatch:
            return _normalize_batch(local, *_readable_columns(batch, self.mapped_columns))

        first = next(batches, None)
        if first is None:
            return
        if self.workers < 1:
            yield first, here(first)
            for batch in batches:
                yield batch, here(batch)
            return
        pending: deque[tuple[list[SourceRow], Future[NormalizedBatch]]] = deque()
        for batch in batches:
            columns, rows = _readable_columns(batch, self.mapped_columns)
            pending.append((batch, self._workers().submit(_normalize_in_worker, columns, rows)))
            if first is not None:  # normalised here while a worker takes the second batch
                yield first, here(first)
                first = None
            while len(pending) > self.workers + 1:
                done, future = pending.popleft()
                yield done, future.result()
        if first is not None:
            yield first, here(first)
        while pending:
            done, future = pending.popleft()
            yield done, future.result()

    def _workers(self) -> ProcessPoolExecutor:
        """The pool, started on the second batch: a small file is not worth its start-up."""
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_start_worker,
                initargs=(self.specs, self.options),
            )
        return self._pool


def _default_workers() -> int:
    """Worker processes for normalising: one per core (the reading process mostly waits for
    them); none on a single core, where processes cannot be forked, or in a process running
    other threads. Forked, not spawned: a spawned worker re-runs the caller's `__main__`
    script, and forking starts at once."""
    cores = os.cpu_count() or 1
    if cores < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return 0
    if threading.active_count() > 1:
        return 0  # forking copies locks other threads may hold: stay in this process
    return min(IMPORT_WORKERS_MAX, cores)


def _account_batch(
    batch: list[SourceRow],
    normalized: NormalizedBatch,
    tally: ImportTally,
    key_index: int | None,
    key_column: str | None,
    import_id: str,
) -> tuple[list[int], list[str], list[str]] | None:
    """Reject the batch's rows with a problem or an error (in row order), and return the row
    numbers, record keys and `fields` JSON texts of the accepted rows (None if there are none)."""
    fields_texts, row_errors = normalized
    row_numbers: list[int] = []
    record_keys: list[str] = []
    accepted_fields: list[str] = []
    position = 0  # the index of the next readable row
    for row in batch:
        if row.problem:
            tally.reject(row.row_number, row.problem, row.values)
            continue
        index = position
        position += 1
        errors = row_errors.get(index, [])
        key = (row.values[key_index] or "").strip() if key_index is not None else ""
        if key_index is not None and not key:
            errors = [*errors, N_("empty key column {column}").format(column=repr(key_column))]
        if errors:
            tally.reject(row.row_number, "; ".join(errors), row.values)
            continue
        row_numbers.append(row.row_number)
        record_keys.append(key or f"{import_id}:{row.row_number}")
        accepted_fields.append(fields_texts[index])
    if not row_numbers:
        return None
    tally.accept(len(row_numbers))
    return row_numbers, record_keys, accepted_fields


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
