"""`herald profile unmerge`: undo a wrong merge, then rebuild the profiles."""

from __future__ import annotations

import importlib
import json

import typer

from herald.cli_profiles import profile_app
from herald.errors import HeraldError
from herald.settings import load_settings


@profile_app.command()
def unmerge(
    merged_id: str = typer.Argument(..., help="The profile id that was merged away (an alias)."),
    db: str = typer.Option(..., "--db", help="The profile database."),
    by: str | None = typer.Option(None, "--by", help="Who undoes the merge."),
    reason: str | None = typer.Option(None, "--reason", help="Why the merge was wrong."),
    build: bool = typer.Option(True, help="Rebuild the profiles now (a Dagster run)."),
) -> None:
    """Undo the latest merge of MERGED_ID: its records get their own profile back, and later
    builds keep them apart. Prints the request (and the build's run id) as JSON."""
    from herald.profiles.merges import request_unmerge
    from herald.store.engine import create_store_engine
    from herald.store.migrate import migrate
    from herald.warehouse import open_warehouse

    settings = load_settings()
    migrate(settings.database_url)
    store = create_store_engine(settings.database_url)
    try:
        with open_warehouse(settings, read_only=True) as warehouse:
            request = request_unmerge(store, warehouse, db, merged_id, by=by, reason=reason)
    finally:
        store.dispose()
    summary = request.as_dict()
    if build:
        run = importlib.import_module("pipelines.run")
        outcome = run.materialize(settings, "profiles")
        summary["run_id"] = outcome.run_id
        if not outcome.success:
            raise HeraldError(
                f"the unmerge is recorded, but rebuilding the profiles failed (run "
                f"{outcome.run_id}); it takes effect with the next `herald unify`"
            )
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
