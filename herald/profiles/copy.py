"""Copying profiles from one profile database into another, through the import path.

The source database's golden records become the target's records (source `copy from <db>`, key
= the profile id), so the target keeps lineage, normalises and validates every value by its
own schema, and rejects what does not fit with a reason, like any import.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import Engine

from herald.imports import open_rows
from herald.profiles.databases import get_database
from herald.profiles.importing import ImportRequest, ImportResult, ImportSetupError, run_import


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def copy_profiles(
    store: Engine,
    home: Path,
    profiles: pa.Table,
    source_database: str,
    target_database: str,
    mapping: dict[str, str] | None = None,
) -> ImportResult:
    """Import `profiles` (the typed view of `source_database`) into `target_database`.

    `mapping` is source field → target field; without it, fields with the same name copy.
    """
    source = get_database(store, source_database).schema
    target = get_database(store, target_database).schema
    source_fields = {item.name for item in source.fields}
    target_fields = {item.name for item in target.fields}
    if mapping:
        unknown = sorted(set(mapping) - source_fields)
        if unknown:
            raise ImportSetupError(
                f"--map names fields {source_database} does not have: {', '.join(unknown)}"
            )
        chosen = dict(mapping)
    else:
        chosen = {item.name: item.name for item in source.fields if item.name in target_fields}
    if not chosen:
        raise ImportSetupError(
            f"{source_database} and {target_database} share no field name: say which go "
            "where with --map source_field=target_field"
        )
    columns = ["profile_id", *chosen]

    def rows() -> Iterator[list[str]]:
        for batch in profiles.select(columns).to_batches(50_000):
            for row in batch.to_pylist():
                yield [_as_text(row[column]) for column in columns]

    reader = open_rows(columns, rows, source=f"profiles__{source_database}")
    request = ImportRequest(
        database=target_database,
        source=f"copy from {source_database}",
        kind="copy",
        key_column="profile_id",
        mapping=chosen,
    )
    return run_import(store, home, reader, request)
