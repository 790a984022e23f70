"""`herald segment sync-*` and `herald segment export`: a segment's members, with chosen
profile fields, in a file or kept in a table of an external SQL database on a schedule.

Every command prints one JSON document. Passwords in target URLs are kept in the
operational store and never printed: every output shows the URL with `***` in their place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from herald.errors import HeraldError
from herald.settings import load_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

segment_syncs_app = typer.Typer(
    help="Segment syncs: a segment's members written to a table of any SQLAlchemy database.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _store() -> Engine:
    """The operational store of the settings, migrated to the newest revision."""
    from herald.store.engine import create_store_engine
    from herald.store.migrate import migrate

    url = load_settings().database_url
    migrate(url)
    return create_store_engine(url)


def _echo(document: Any) -> None:
    typer.echo(json.dumps(document, ensure_ascii=False, indent=2, default=str))


def _field_list(fields: str | None) -> list[str]:
    """`a,b, c` as ["a", "b", "c"]; nothing as [] (every field)."""
    if not fields:
        return []
    return [field.strip() for field in fields.split(",") if field.strip()]


@segment_syncs_app.command("sync-add")
def sync_add(
    name: str = typer.Argument(..., help="Name of the sync: lowercase letters, digits, _."),
    segment: str = typer.Option(..., "--segment", help="The segment whose members to write."),
    url: str = typer.Option(..., "--url", help="SQLAlchemy URL of the target database."),
    table: str = typer.Option(..., "--table", help="Target table (schema.table ok)."),
    fields: str | None = typer.Option(
        None, "--fields", help="Profile fields to write, comma-separated; default: all."
    ),
    mode: str = typer.Option(
        "replace", help="replace (rebuild the table) or diff (insert, update, delete)."
    ),
    schedule: str = typer.Option("0 * * * *", help="Cron expression (UTC) of the runs."),
    disabled: bool = typer.Option(False, "--disabled", help="Keep it, but do not schedule it."),
) -> None:
    """Add a segment sync (the target database is not contacted: `sync-run` checks it)."""
    from herald.segments.sync import add_segment_sync

    engine = _store()
    try:
        info = add_segment_sync(
            engine,
            name,
            segment=segment,
            url=url,
            table=table,
            fields=_field_list(fields),
            mode=mode,
            schedule=schedule,
            enabled=not disabled,
        )
    finally:
        engine.dispose()
    _echo(info.public())


@segment_syncs_app.command("sync-list")
def sync_list() -> None:
    """The segment syncs and their last runs (passwords masked), as one JSON array."""
    from herald.segments.sync import list_segment_syncs

    engine = _store()
    try:
        syncs = list_segment_syncs(engine)
    finally:
        engine.dispose()
    _echo([sync.public() for sync in syncs])


@segment_syncs_app.command("sync-run")
def sync_run(name: str = typer.Argument(..., help="The segment sync to run now.")) -> None:
    """Write the segment's members to the target now; prints the counts."""
    from herald.segments.sync import run_sync
    from herald.warehouse import open_warehouse

    settings = load_settings()
    engine = _store()
    try:
        with open_warehouse(settings, read_only=True) as warehouse:
            result = run_sync(engine, warehouse, name)
    finally:
        engine.dispose()
    _echo(result.public())


@segment_syncs_app.command("sync-remove")
def sync_remove(name: str = typer.Argument(..., help="The segment sync to remove.")) -> None:
    """Remove a segment sync (its target table stays as it is)."""
    from herald.segments.sync import remove_segment_sync

    engine = _store()
    try:
        remove_segment_sync(engine, name)
    finally:
        engine.dispose()
    _echo({"removed": name})


def export_command(
    name: str = typer.Argument(..., help="The segment to export."),
    export_format: str = typer.Option("csv", "--format", help="csv, xlsx or parquet."),
    out: Path = typer.Option(..., "--out", help="The file to write."),
    fields: str | None = typer.Option(
        None, "--fields", help="Profile fields to write, comma-separated; default: all."
    ),
) -> None:
    """Export a segment's members with their profile fields; prints JSON with the count."""
    from herald.segments.export import EXPORT_FORMATS, export_segment, segment_database
    from herald.warehouse import open_warehouse

    if export_format not in EXPORT_FORMATS:
        raise HeraldError(f"--format {export_format!r}: use csv, xlsx or parquet")
    settings = load_settings()
    engine = _store()
    try:
        database = segment_database(engine, name)
    finally:
        engine.dispose()
    with open_warehouse(settings, read_only=True) as warehouse:
        summary = export_segment(
            warehouse,
            name,
            database,
            _field_list(fields) or None,
            export_format,
            out,
        )
    typer.echo(json.dumps(summary, ensure_ascii=False))
