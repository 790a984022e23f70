"""`herald source-sql ...`: tables and queries of external SQL databases, imported on a schedule.

Passwords in source URLs are kept in the operational store and never printed: every output
shows the URL with `***` in their place.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

from herald.errors import HeraldError
from herald.settings import load_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

sources_app = typer.Typer(
    help="SQL sources: a table or query of any SQLAlchemy database, imported on a schedule.",
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


@sources_app.command()
def add(
    name: str = typer.Argument(..., help="Name of the source: lowercase letters, digits, _."),
    db: str = typer.Option(..., "--db", help="The profile database to import into."),
    url: str = typer.Option(..., "--url", help="SQLAlchemy URL of the source database."),
    table: str | None = typer.Option(None, "--table", help="Table to read (schema.table ok)."),
    query: str | None = typer.Option(None, "--query", help="A SELECT to read instead."),
    cursor: str | None = typer.Option(
        None, "--cursor", help="Column that grows with each change; without it, full reloads."
    ),
    key: str | None = typer.Option(None, "--key", help="Column holding each record's key."),
    map_: list[str] = typer.Option([], "--map", help="column=field; repeat for more columns."),
    mode: str = typer.Option("upsert", help="upsert, insert (new only) or update (existing only)."),
    schedule: str = typer.Option("0 * * * *", help="Cron expression (UTC) of the runs."),
    disabled: bool = typer.Option(False, "--disabled", help="Keep it, but do not schedule it."),
) -> None:
    """Add a SQL source (the source database is not contacted: `run` checks it)."""
    from herald.imports.sql_source import add_sql_source

    mapping: dict[str, str] = {}
    for pair in map_:
        column, sep, target = pair.partition("=")
        if not sep or not column or not target:
            raise HeraldError(f"--map {pair!r}: write it as column=field")
        mapping[column] = target
    engine = _store()
    try:
        info = add_sql_source(
            engine,
            name,
            database=db,
            url=url,
            table=table,
            query=query,
            cursor_column=cursor,
            key_column=key,
            mapping=mapping,
            mode=mode,
            schedule=schedule,
            enabled=not disabled,
        )
    finally:
        engine.dispose()
    what = f"table {info.table}" if info.table else "a query"
    typer.echo(
        f"added SQL source {info.name}: {what} of {info.shown_url} into {info.database}, "
        f"schedule {info.schedule!r}" + ("" if info.enabled else " (disabled)")
    )


@sources_app.command("list")
def list_sources(
    as_json: bool = typer.Option(False, "--json", help="One JSON array instead of lines."),
) -> None:
    """The SQL sources, their cursors and last runs (passwords masked)."""
    from herald.imports.sql_source import list_sql_sources

    engine = _store()
    try:
        sources = list_sql_sources(engine)
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps([item.public() for item in sources], ensure_ascii=False, indent=2))
        return
    if not sources:
        typer.echo("no SQL sources; add one with `herald source-sql add`")
        return
    for item in sources:
        what = f"table {item.table}" if item.table else f"query {item.query!r}"
        cursor = (
            f"cursor {item.cursor_column} > {item.last_cursor!r}"
            if item.cursor_column
            else "full reload"
        )
        state = "enabled" if item.enabled else "disabled"
        last = item.last_run_at.strftime("%Y-%m-%d %H:%M:%S UTC") if item.last_run_at else "never"
        typer.echo(
            f"{item.name}  {item.shown_url}  {what} -> {item.database} ({item.mode})  {cursor}  "
            f"[{item.schedule}] {state}  last run: {last}"
        )


@sources_app.command()
def run(
    name: str = typer.Argument(..., help="The SQL source to import now."),
    load: bool = typer.Option(True, help="Load the records into the warehouse (a Dagster run)."),
) -> None:
    """Import the source's new rows now; prints one JSON object with the counts."""
    from herald.cli_imports import load_and_report
    from herald.imports.sql_source import run_sql_source

    settings = load_settings()
    engine = _store()
    try:
        result = run_sql_source(engine, settings.home, name)
        load_and_report(settings, engine, result, load)
    finally:
        engine.dispose()


@sources_app.command()
def remove(name: str = typer.Argument(..., help="The SQL source to remove.")) -> None:
    """Remove a SQL source (its past imports stay)."""
    from herald.imports.sql_source import remove_sql_source

    engine = _store()
    try:
        remove_sql_source(engine, name)
    finally:
        engine.dispose()
    typer.echo(f"removed SQL source {name}")
