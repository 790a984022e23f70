"""Accepted import rows as landing files: the raw profile records of every database.

One row per source record, with its lineage (database, source, import id, row number, record
key) and its normalised field values as a JSON object, so one raw table holds every
database whatever its schema; the per-database models type the fields by the schema.
Files are written whole under a temporary name and renamed into place (rule 1).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

_json_string = json.encoder.encode_basestring  # JSON text of a str, non-ASCII kept (C)

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


DICTIONARY_COLUMNS = ["database", "source", "import_id", "mode", "imported_at"]


@dataclass(frozen=True)
class ProfileRecord:
    row_number: int
    record_key: str
    fields: Mapping[str, Any]


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def field_json(name: str, value: Any) -> str:
    """One member of a record's `fields` JSON text: `"name": value`.

    The same text as `json.dumps({name: value}, ensure_ascii=False, sort_keys=True)` writes
    inside its braces, with dates and datetimes as ISO text; the common value types are encoded
    directly, without json.dumps' per-call set-up (a million rows have twelve million values).
    """
    return f"{_json_string(name)}: {field_value_json(value)}"


def field_value_json(value: Any) -> str:
    """The JSON text of one field value as `field_json` writes it after the name."""
    kind = type(value)
    if kind is str:
        return str(_json_string(value))
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int.__repr__(value)
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    if kind is datetime or kind is date:
        return str(_json_string(value.isoformat()))
    return json.dumps(_json_value(value), ensure_ascii=False, sort_keys=True)


def fields_json(fields: Mapping[str, Any]) -> str:
    """A record's `fields` as JSON text: an object with sorted keys, non-ASCII kept."""
    return "{" + ", ".join(field_json(name, fields[name]) for name in sorted(fields)) + "}"


def fields_json_rows(members: Mapping[str, Sequence[str]], rows: int) -> list[str]:
    """The `fields` JSON text of each of `rows` rows given column by column: for each field,
    its `field_json(name, value)` member per row."""
    ordered = [members[name] for name in sorted(members)]
    if not ordered:
        return ["{}"] * rows
    return ["{" + ", ".join(row) + "}" for row in zip(*ordered, strict=True)]


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
    return landing_table(
        [row.row_number for row in rows],
        [row.record_key for row in rows],
        [fields_json(row.fields) for row in rows],
        database=database,
        source=source,
        import_id=import_id,
        mode=mode,
        imported_at=imported_at,
    )


def landing_table(
    row_numbers: Sequence[int],
    record_keys: Sequence[str],
    fields: Sequence[str],
    *,
    database: str,
    source: str,
    import_id: str,
    mode: str,
    imported_at: datetime,
) -> pa.Table:
    """Raw profile records from their row numbers, record keys and `fields` JSON texts."""
    return landing_table_from_arrow(
        pa.array(row_numbers, pa.int64()),
        pa.array(record_keys, pa.string()),
        pa.array(fields, pa.string()),
        database=database,
        source=source,
        import_id=import_id,
        mode=mode,
        imported_at=imported_at,
    )


def write_records_file(landing_dir: Path, import_id: str, part: int, table: pa.Table) -> Path:
    """Write one landing file of an import, whole, and return its path."""
    folder = landing_dir / PROFILE_RECORDS
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{import_id}-{part:05d}.parquet"
    temporary = folder / f".{final.name}.tmp"
    # Dictionary pages only for the columns that repeat one value: trying them on record keys
    # and field texts costs a third of the writing and saves nothing.
    pq.write_table(table, temporary, use_dictionary=DICTIONARY_COLUMNS)
    os.replace(temporary, final)
    return final


def landing_table_from_arrow(
    row_numbers: pa.Array | pa.ChunkedArray,
    record_keys: pa.Array | pa.ChunkedArray,
    fields: pa.Array | pa.ChunkedArray,
    *,
    database: str,
    source: str,
    import_id: str,
    mode: str,
    imported_at: datetime,
) -> pa.Table:
    """`landing_table` for columns that are already Arrow arrays (from DuckDB)."""
    count = len(row_numbers)
    if not len(record_keys) == len(fields) == count:
        raise ValueError("row numbers, record keys and fields differ in length")
    stamp = imported_at.replace(tzinfo=None)
    columns = {
        "database": pa.repeat(pa.scalar(database, pa.string()), count),
        "source": pa.repeat(pa.scalar(source, pa.string()), count),
        "import_id": pa.repeat(pa.scalar(import_id, pa.string()), count),
        "row_number": row_numbers.cast(pa.int64()),
        "record_key": record_keys.cast(pa.string()),
        "mode": pa.repeat(pa.scalar(mode, pa.string()), count),
        "imported_at": pa.repeat(pa.scalar(stamp, pa.timestamp("ms")), count),
        "fields": fields.cast(pa.string()),
    }
    return pa.table(columns, schema=PROFILE_RECORDS_SCHEMA)
