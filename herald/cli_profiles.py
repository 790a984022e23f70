"""`herald unify` and `herald profile ...`: build profiles in-process and look one up.

Heavy imports (the store, pydantic schemas, the unification kernel) happen inside the
commands, so other commands do not pay for them.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import typer

from herald.errors import HeraldError
from herald.settings import load_settings

profile_app = typer.Typer(
    help="Profiles: one per customer per profile database.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def unify_command(
    db: str | None = typer.Option(
        None, "--db", help="The profile database to rebuild (default: every database)."
    ),
) -> None:
    """Unify imported records into profiles (a Dagster run of the `profiles` asset, which
    rebuilds every database); prints the counts as JSON, for one database with --db."""
    from herald.profiles.databases import get_database
    from herald.store.engine import create_store_engine
    from herald.store.migrate import migrate

    settings = load_settings()
    migrate(settings.database_url)
    if db is not None:
        store = create_store_engine(settings.database_url)
        try:
            get_database(store, db)  # an unknown name is a clear error before any run
        finally:
            store.dispose()
    run = importlib.import_module("pipelines.run")
    outcome = run.materialize(settings, "profiles")
    if not outcome.success:
        errors = "; ".join(
            f"{asset.name}: {asset.error}" for asset in outcome.assets if asset.error
        )
        raise HeraldError(
            f"unification failed: {errors or 'see the Dagster run ' + outcome.run_id}"
        )
    [asset] = [asset for asset in outcome.assets if asset.name == "profiles"]
    databases = dict(asset.metadata.get("databases") or {})
    if db is not None:
        databases = {db: databases.get(db, {})}
    report = {
        "run_id": outcome.run_id,
        "seconds": round(outcome.seconds, 2),
        "databases": databases,
    }
    typer.echo(json.dumps(report, ensure_ascii=False, indent=2, default=str))


@profile_app.command()
def show(
    id_or_identifier: str = typer.Argument(
        ..., help="A profile id (p_...) or an identifier value (e-mail, phone, ...)."
    ),
    db: str | None = typer.Option(None, "--db", help="Only this profile database."),
) -> None:
    """One profile as JSON: its golden record, identifiers and source records (read-only)."""
    from herald.warehouse import open_warehouse

    settings = load_settings()
    with open_warehouse(settings, read_only=True) as warehouse:
        if not warehouse.exists("profiles"):
            raise HeraldError("no profiles yet: run `herald unify` (or the profiles asset)")
        profile = find_profile(warehouse, id_or_identifier, db)
    typer.echo(json.dumps(profile, ensure_ascii=False, indent=2, default=str))


def find_profile(warehouse: Any, id_or_identifier: str, db: str | None = None) -> dict[str, Any]:
    """A profile by its id or by one of its identifiers; HeraldError if none or several."""

    def literal(text: str) -> str:
        if warehouse.dialect == "clickhouse":
            text = text.replace("\\", "\\\\")
        return "'" + text.replace("'", "''") + "'"

    where_db = f" and database = {literal(db)}" if db else ""
    profiles = warehouse.qualify("profiles")
    found = warehouse.query_arrow(
        f"select profile_id from {profiles} where profile_id = {literal(id_or_identifier)}"
        f"{where_db}"
    ).to_pylist()
    alias_of = None
    if not found and warehouse.exists("profile_aliases"):
        # A merged profile's old id still finds the profile it was merged into.
        found = warehouse.query_arrow(
            f"select profile_id from {warehouse.qualify('profile_aliases')} "
            f"where alias_id = {literal(id_or_identifier)}{where_db}"
        ).to_pylist()
        alias_of = id_or_identifier if found else None
    if not found:
        values = ", ".join(literal(value) for value in _identifier_forms(id_or_identifier))
        found = warehouse.query_arrow(
            f"select distinct profile_id from {warehouse.qualify('profile_identifiers')} "
            f"where value in ({values}){where_db} order by profile_id"
        ).to_pylist()
    if not found:
        where = f" in profile database {db!r}" if db else ""
        raise HeraldError(f"no profile has the id or identifier {id_or_identifier!r}{where}")
    if len(found) > 1:
        ids = ", ".join(row["profile_id"] for row in found)
        raise HeraldError(
            f"{id_or_identifier!r} identifies {len(found)} profiles ({ids}); "
            "give --db or a profile id"
        )
    profile_id = literal(found[0]["profile_id"])
    row = warehouse.query_arrow(
        "select profile_id, database, created_at, updated_at, fields "
        f"from {profiles} where profile_id = {profile_id}"
    ).to_pylist()[0]
    identifiers = warehouse.query_arrow(
        f"select kind, value from {warehouse.qualify('profile_identifiers')} "
        f"where profile_id = {profile_id} order by kind, value"
    ).to_pylist()
    sources = warehouse.query_arrow(
        "select source, record_key, import_id, row_number "
        f"from {warehouse.qualify('profile_records')} where profile_id = {profile_id} "
        "order by source, record_key, import_id, row_number"
    ).to_pylist()
    profile = {
        "profile_id": row["profile_id"],
        "database": row["database"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "fields": json.loads(row["fields"]),
        "identifiers": identifiers,
        "sources": sources,
    }
    if alias_of is not None:
        profile["alias_of"] = alias_of
    return profile


def _identifier_forms(text: str) -> list[str]:
    """The text as typed and as an import would have normalised it (e-mail, phone)."""
    from herald.imports.normalize import normalize_email, normalize_phone

    forms = [text, text.strip()]
    for normalise in (normalize_email, normalize_phone):
        value, error = normalise(text)
        if value is not None and error is None:
            forms.append(str(value))
    return list(dict.fromkeys(forms))


def export_command(
    db: str = typer.Option(..., "--db", help="The profile database to export."),
    export_format: str = typer.Option("csv", "--format", help="csv, xlsx or parquet."),
    out: Path = typer.Option(..., "--out", help="The file to write."),
) -> None:
    """Export a database's profiles (one typed column per field); prints JSON with the count."""
    from herald.profiles.export import export_profiles, read_profiles
    from herald.warehouse import open_warehouse

    if export_format not in ("csv", "xlsx", "parquet"):
        raise HeraldError(f"--format {export_format!r}: use csv, xlsx or parquet")
    settings = load_settings()
    with open_warehouse(settings, read_only=True) as warehouse:
        table = read_profiles(warehouse, db)
    rows = export_profiles(table, export_format, out)  # type: ignore[arg-type]
    typer.echo(json.dumps({"database": db, "format": export_format, "rows": rows, "out": str(out)}))
