"""Accepted import rows as landing files: the raw profile records of every database.

One row per source record, with its lineage (database, source, import id, row number, record
key) and its normalised field values as a JSON object, so one raw table holds every
database whatever its schema; the per-database models type the fields by the schema.
Files are written whole under a temporary name and renamed into place (rule 1).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

PROFILE_RECORDS = "profile_records"

PROFILE_RECORDS_SCHEMA = pa.schema(
    [
        pa.field("database", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("import_id", pa.string(), nullable=False),
        pa.field("row_number", pa.int64(), nullable=False),
        pa.field("record_key", pa.string(), nullable=False),
        pa.field("mode", pa.string(), nullable=False),
        pa.field("imported_at", pa.timestamp("ms"), nullable=False),
        pa.field("fields", pa.string(), nullable=False),
    ]
)


@dataclass(frozen=True)
class ProfileRecord:
    row_number: int
    record_key: str
    fields: Mapping[str, Any]


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def records_table(
    records: Iterable[ProfileRecord],
    *,
    database: str,
    source: str,
    import_id: str,
    mode: str,
    imported_at: datetime,
) -> pa.Table:
    rows = list(records)
    stamp = imported_at.replace(tzinfo=None)
    columns = {
        "database": [database] * len(rows),
        "source": [source] * len(rows),
        "import_id": [import_id] * len(rows),
        "row_number": [row.row_number for row in rows],
        "record_key": [row.record_key for row in rows],
        "mode": [mode] * len(rows),
        "imported_at": [stamp] * len(rows),
        "fields": [
            json.dumps(
                {name: _json_value(value) for name, value in row.fields.items()},
                ensure_ascii=False,
                sort_keys=True,
            )
            for row in rows
        ],
    }
    return pa.table(columns, schema=PROFILE_RECORDS_SCHEMA)


def write_records_file(landing_dir: Path, import_id: str, part: int, table: pa.Table) -> Path:
    """Write one landing file of an import, whole, and return its path."""
    folder = landing_dir / PROFILE_RECORDS
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{import_id}-{part:05d}.parquet"
    temporary = folder / f".{final.name}.tmp"
    pq.write_table(table, temporary)
    os.replace(temporary, final)
    return final
