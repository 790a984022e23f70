"""`herald db ...`: profile databases and their schemas, kept in the operational store.

The store and the profiles are imported inside the commands: `herald sql` and the others
should not pay for SQLAlchemy, Alembic and pydantic when they start.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from herald.errors import HeraldError
from herald.settings import load_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from herald.profiles.databases import SchemaUpdate

db_app = typer.Typer(
    help="Profile databases (client databases such as 'Shop RU' or 'B2B') and their schemas.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

SCHEMA_OPTION = typer.Option(
    ..., "--schema", "-s", help="The schema YAML file (see docs/schemas/shop.yml)."
)
COMMENT_OPTION = typer.Option(None, "--comment", "-m", help="Why: kept in the history.")


def _store() -> Engine:
    """The operational store of the settings, migrated to the newest revision."""
    from herald.store.engine import create_store_engine
    from herald.store.migrate import migrate

    url = load_settings().database_url
    migrate(url)
    return create_store_engine(url)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


@db_app.command()
def create(
    schema_file: Path = SCHEMA_OPTION,
    comment: str | None = COMMENT_OPTION,
) -> None:
    """Create a profile database from a schema file (an error if the name is taken)."""
    from herald.profiles.databases import create_database
    from herald.profiles.schema import load_schema

    schema = load_schema(schema_file)
    engine = _store()
    try:
        info = create_database(engine, schema, comment)
    finally:
        engine.dispose()
    typer.echo(f"created {info.name} ({len(info.schema.fields)} fields), schema version 1")


@db_app.command()
def apply(
    schema_file: Path = SCHEMA_OPTION,
    comment: str | None = COMMENT_OPTION,
    allow_removal: bool = typer.Option(
        False, "--allow-removal", help="Allow removing fields (their data is dropped)."
    ),
) -> None:
    """Schema as code: create the database, or make the file its current schema."""
    from herald.profiles.databases import apply_schema
    from herald.profiles.schema import load_schema

    schema = load_schema(schema_file)
    engine = _store()
    try:
        update = apply_schema(engine, schema, comment, allow_removal=allow_removal)
    finally:
        engine.dispose()
    typer.echo(_update_line(update))
    for change in update.changes:
        typer.echo(f"  {change}")


def _update_line(update: SchemaUpdate) -> str:
    if update.created:
        return f"created {update.name}, schema version {update.version}"
    if not update.changes:
        return f"{update.name} is unchanged, schema version {update.version}"
    return f"updated {update.name} to schema version {update.version}"


@db_app.command("list")
def list_command() -> None:
    """The profile databases: name, title, schema version, fields, last change."""
    from herald.profiles.databases import list_databases

    engine = _store()
    try:
        databases = list_databases(engine)
    finally:
        engine.dispose()
    if not databases:
        typer.echo("no profile databases yet: herald db create --schema schema.yml")
        return
    rows = [
        (
            info.name,
            info.title or "",
            str(info.version),
            str(len(info.schema.fields)),
            _when(info.updated_at),
        )
        for info in databases
    ]
    header = ("name", "title", "version", "fields", "updated")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        typer.echo("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    typer.echo(f"({len(databases)} database{'s' if len(databases) != 1 else ''})")


@db_app.command()
def show(name: str = typer.Argument(..., help="The database name.")) -> None:
    """The current schema as YAML (reusable with apply), with its version."""
    from herald.profiles.databases import get_database
    from herald.profiles.schema import dump_schema

    engine = _store()
    try:
        info = get_database(engine, name)
    finally:
        engine.dispose()
    typer.echo(
        f"# {info.display_title}: schema version {info.version}, updated {_when(info.updated_at)}"
    )
    typer.echo(dump_schema(info.schema), nl=False)


@db_app.command()
def rename(
    old: str = typer.Argument(..., help="The current name."),
    new: str = typer.Argument(..., help="The new name (lowercase snake_case)."),
) -> None:
    """Rename a profile database (its schema gets a new version with the new name)."""
    from herald.profiles.databases import rename_database

    engine = _store()
    try:
        info = rename_database(engine, old, new)
    finally:
        engine.dispose()
    typer.echo(f"renamed {old} to {info.name}, schema version {info.version}")


@db_app.command()
def delete(
    name: str = typer.Argument(..., help="The database name."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a profile database and its schema history."""
    from herald.profiles.databases import delete_database

    if not yes:
        if not sys.stdin.isatty():
            raise HeraldError(f"deleting {name!r} removes its schema history; add --yes")
        typer.confirm(f"Delete profile database {name!r} and its schema history?", abort=True)
    engine = _store()
    try:
        delete_database(engine, name)
    finally:
        engine.dispose()
    typer.echo(f"deleted {name}")


@db_app.command()
def history(name: str = typer.Argument(..., help="The database name.")) -> None:
    """Every version of a database's schema, the oldest first."""
    from herald.profiles.databases import schema_history

    engine = _store()
    try:
        versions = schema_history(engine, name)
    finally:
        engine.dispose()
    for version in versions:
        comment = f"  {version.comment}" if version.comment else ""
        typer.echo(
            f"v{version.version:<4} {_when(version.created_at)}  "
            f"{len(version.schema.fields):>3} fields{comment}"
        )


@db_app.command()
def copy(
    source: str = typer.Argument(..., help="The database to copy profiles from."),
    target: str = typer.Argument(..., help="The database to copy them into."),
    map_: list[str] = typer.Option(
        [], "--map", help="source_field=target_field; without it, same-named fields copy."
    ),
    load: bool = typer.Option(True, help="Load the copied records (a Dagster run)."),
) -> None:
    """Copy SOURCE's profiles into TARGET as an import (prints the import's JSON)."""
    from herald.cli_imports import load_and_report
    from herald.profiles.copy import copy_profiles
    from herald.profiles.export import read_profiles
    from herald.warehouse import open_warehouse

    mapping: dict[str, str] = {}
    for pair in map_:
        field, sep, other = pair.partition("=")
        if not sep or not field or not other:
            raise HeraldError(f"--map {pair!r}: write it as source_field=target_field")
        mapping[field] = other
    settings = load_settings()
    store = _store()
    with open_warehouse(settings, read_only=True) as warehouse:
        profiles = read_profiles(warehouse, source)
    result = copy_profiles(store, settings.home, profiles, source, target, mapping or None)
    load_and_report(settings, store, result, load)
