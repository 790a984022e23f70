"""Edit a profile's fields from its card: validated by the schema, kept as a source record.

    edit = edit_fields(store, landing_dir, database="shop", profile_id="p_shop:crm:1",
                       values={"level": "gold"}, edited_by="anna")

Each value is checked and normalised as an import would (`herald.imports.normalize`, the
field's type, identifier kind and enum values); any rejected value rejects the whole edit
with a FieldEditError naming the field. An accepted edit becomes

- one raw profile record in a landing file (rule 1: only Dagster runs write the warehouse):
  database = the profile's, source `card`, a fresh import id (also the record key), mode
  upsert, and fields = the edited values plus the reserved member `_profile_id` (the live
  profile id the record belongs to);
- a `profile_imports` row (kind `card`, one record received and accepted) and a
  `profile_edits` row, so the card shows the edit at once (see `card.py`) and the history
  says who changed what and when.

A value cannot be cleared by an edit (the golden record keeps the most recent non-empty
value, so an empty record value changes nothing): null or empty values are refused.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from herald.errors import HeraldError
from herald.imports import FieldSpec, NormalizeOptions, normalize_row
from herald.profiles.databases import get_database
from herald.profiles.records import ProfileRecord, records_table, write_records_file
from herald.profiles.schema import ProfileField
from herald.profiles.store_ids import database_id
from herald.store import ProfileEdit, ProfileImport, session_scope

EDIT_SOURCE = "card"
PROFILE_ID_MEMBER = "_profile_id"
MAX_TEXT_CHARS = 10_000
_LIST_SEPARATORS = (",", ";", "\n")


class FieldEditError(HeraldError):
    """An edit the schema refuses: an unknown field, or a value of the wrong type or form."""


@dataclass(frozen=True)
class FieldEdit:
    import_id: str
    database: str
    profile_id: str
    fields: dict[str, Any]
    """The edited fields, normalised, as JSON values (dates as ISO text)."""
    edited_at: datetime
    edited_by: str | None
    landing_file: Path


def validate_edit(
    fields: tuple[ProfileField, ...],
    values: Mapping[str, Any],
    *,
    region: str = "RU",
    dayfirst: bool = True,
    as_typed: bool = False,
) -> dict[str, Any]:
    """The edited values normalised by the schema's fields; FieldEditError naming every
    field that is refused and why. The values are JSON values (a number, a list for a list
    field, any JSON for a json field), or with `as_typed` texts as a person typed them
    (`tags=a, b`, `extra={"k": 1}`), read exactly as an import reads a cell."""
    if not values:
        raise FieldEditError("no fields to edit: give at least one field and its new value")
    by_name = {item.name: item for item in fields}
    problems: list[str] = []
    texts: dict[str, str | None] = {}
    for name, value in values.items():
        item = by_name.get(name)
        if item is None:
            problems.append(f"{name}: no such field (fields: {', '.join(by_name)})")
            continue
        problem: str | None
        text: str | None
        if as_typed and isinstance(value, str) and value.strip():
            problem, text = None, value
        else:
            problem, text = _as_text(item, value)
        if problem:
            problems.append(f"{name}: {problem}")
        else:
            texts[name] = text
    if problems:
        raise FieldEditError("; ".join(problems))
    specs = [
        FieldSpec(
            name=item.name,
            type=item.type,
            identifier=item.identifier,
            enum_values=tuple(item.values or ()),
        )
        for item in fields
        if item.name in texts
    ]
    clean, errors = normalize_row(texts, specs, NormalizeOptions(region=region, dayfirst=dayfirst))
    if errors:
        raise FieldEditError("; ".join(errors))
    return {name: _json_value(clean[name]) for name in texts}


def edit_fields(
    store: Engine,
    landing_dir: Path,
    *,
    database: str,
    profile_id: str,
    values: Mapping[str, Any],
    edited_by: str | None = None,
    as_typed: bool = False,
) -> FieldEdit:
    """Validate an edit of a live profile's fields and keep it (see the module docstring)."""
    info = get_database(store, database)
    clean = validate_edit(info.schema.fields, values, as_typed=as_typed)
    import_id = f"imp-{uuid.uuid4().hex[:16]}"
    # Landing timestamps keep milliseconds: the store gets the same instant.
    now = datetime.now(UTC)
    edited_at = now.replace(microsecond=now.microsecond // 1000 * 1000)
    table = records_table(
        [ProfileRecord(1, import_id, {**clean, PROFILE_ID_MEMBER: profile_id})],
        database=database,
        source=EDIT_SOURCE,
        import_id=import_id,
        mode="upsert",
        imported_at=edited_at,
    )
    landing_file = write_records_file(landing_dir, import_id, 0, table)
    try:
        with session_scope(store) as session:
            db_id = database_id(session, database)
            session.add(
                ProfileImport(
                    import_id=import_id,
                    database_id=db_id,
                    source=EDIT_SOURCE,
                    kind="card",
                    mode="upsert",
                    options={"profile_id": profile_id, "fields": sorted(clean)},
                    status="succeeded",
                    received=1,
                    accepted=1,
                    rejected=0,
                    started_at=edited_at,
                    finished_at=edited_at,
                )
            )
            session.add(
                ProfileEdit(
                    database_id=db_id,
                    profile_id=profile_id,
                    fields=clean,
                    edited_at=edited_at,
                    edited_by=edited_by,
                    import_id=import_id,
                )
            )
    except BaseException:
        landing_file.unlink(missing_ok=True)  # not recorded: it must not load either
        raise
    return FieldEdit(import_id, database, profile_id, clean, edited_at, edited_by, landing_file)


def _as_text(field: ProfileField, value: Any) -> tuple[str | None, str | None]:
    """(problem, text): a JSON value as the text cell an import would read."""
    if value is None or value == "" or value == [] or value == {}:
        return (
            "an edit cannot clear a field (the golden record keeps the latest non-empty "
            "value); give a value",
            None,
        )
    if field.type == "json":
        return None, json.dumps(value, ensure_ascii=False)
    if field.type == "list":
        if isinstance(value, str):
            return None, value  # items separated as in an imported cell: "vip, new"
        items = value if isinstance(value, list) else [value]
        if any(isinstance(item, list | dict) for item in items):
            return "expected a list of texts", None
        texts = [_scalar_text(item) for item in items]
        if any(separator in text for text in texts for separator in _LIST_SEPARATORS):
            return "a list item contains ',', ';' or a line break", None
        return None, ", ".join(texts)
    if isinstance(value, list | dict):
        return f"expected a single {field.type} value, not a {type(value).__name__}", None
    text = _scalar_text(value)
    if len(text) > MAX_TEXT_CHARS:
        return f"longer than {MAX_TEXT_CHARS:,} characters", None
    return None, text


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
