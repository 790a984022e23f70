"""`herald unify` and `herald profile ...`: build profiles in-process and look one up.

Heavy imports (the store, pydantic schemas, the unification kernel) happen inside the
commands, so other commands do not pay for them.
"""

from __future__ import annotations

import contextlib
import importlib
import json
from collections.abc import Iterator
from datetime import date, datetime
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
    """Unify imported records into profiles (a Dagster run that loads the profile records
    still in landing, then the `profiles` asset, which rebuilds every database); prints the
    counts as JSON, for one database with --db."""
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
    # Records still in landing (a client-card edit, an API import) are loaded first.
    outcome = run.materialize(settings, "raw_profile_records,stg_profiles__records,profiles")
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
        ..., help="A profile id (p_...), a merged id, or an identifier value (e-mail, phone, ...)."
    ),
    db: str | None = typer.Option(None, "--db", help="Only this profile database."),
    timeline: int = typer.Option(
        20, "--timeline", min=0, max=200, help="Timeline items on the card (0: none)."
    ),
) -> None:
    """The client card as JSON: fields (with pending edits), identifiers, source records,
    aliases and merges, subscriptions, relations and the latest activity (read-only)."""
    from herald.profiles.card import read_card

    with _card() as (warehouse, store):
        card = read_card(warehouse, store, id_or_identifier, db, timeline_limit=timeline)
    _echo(card)


@profile_app.command()
def timeline(
    id_or_identifier: str = typer.Argument(..., help="A profile id, merged id or identifier."),
    db: str | None = typer.Option(None, "--db", help="Only this profile database."),
    limit: int = typer.Option(20, "--limit", min=1, max=200, help="Items per page."),
    cursor: str | None = typer.Option(
        None, "--cursor", help="The next_cursor of the previous page."
    ),
) -> None:
    """A page of a profile's activity (web events, orders, message events), newest first."""
    from herald.profiles.card import card_timeline

    with _card(store=False) as (warehouse, _):
        page = card_timeline(warehouse, id_or_identifier, db, limit=limit, cursor=cursor)
    _echo(page)


@profile_app.command()
def edit(
    id_or_identifier: str = typer.Argument(..., help="A profile id, merged id or identifier."),
    assignments: list[str] = typer.Option(
        ..., "--set", help="field=value (repeatable), read as an import reads a cell."
    ),
    db: str | None = typer.Option(None, "--db", help="Only this profile database."),
    by: str | None = typer.Option(None, "--by", help="Who makes the edit (kept in history)."),
) -> None:
    """Edit fields: validated by the schema, kept as a new source record (source `card`) that
    the next load and build take in; the card shows it at once as pending."""
    from herald.profiles.card import card_edit

    values: dict[str, str] = {}
    for assignment in assignments:
        name, separator, value = assignment.partition("=")
        if not separator or not name.strip():
            raise HeraldError(f"--set {assignment!r}: write field=value")
        values[name.strip()] = value
    settings = load_settings()
    with _card() as (warehouse, store):
        done = card_edit(
            warehouse,
            store,
            settings.landing_dir,
            id_or_identifier,
            db,
            values,
            edited_by=by,
            as_typed=True,
        )
    _echo(
        {
            "import_id": done.import_id,
            "database": done.database,
            "profile_id": done.profile_id,
            "fields": done.fields,
            "edited_at": done.edited_at,
            "edited_by": done.edited_by,
            "pending": True,
        }
    )


def _set_subscription(
    status: str,
    id_or_identifier: str,
    channel: str,
    resource: str,
    reason: str | None,
    db: str | None,
) -> None:
    from herald.profiles.card import card_set_subscription

    with _card() as (warehouse, store):
        state = card_set_subscription(
            warehouse,
            store,
            id_or_identifier,
            db,
            channel=channel,
            resource=resource,
            status=status,
            reason=reason,
            source="cli",
        )
    _echo(state)


_CHANNEL = typer.Option(..., "--channel", help="email, sms, push, telegram, whatsapp or viber.")
_RESOURCE = typer.Option(
    "*", "--resource", help="A newsletter or topic; * (the default) for the whole channel."
)
_REASON = typer.Option(None, "--reason", help="Why (kept in the history).")
_DB = typer.Option(None, "--db", help="Only this profile database.")
_PROFILE = typer.Argument(..., help="A profile id, merged id or identifier.")


@profile_app.command()
def subscribe(
    id_or_identifier: str = _PROFILE,
    channel: str = _CHANNEL,
    resource: str = _RESOURCE,
    reason: str | None = _REASON,
    db: str | None = _DB,
) -> None:
    """Subscribe a profile to a channel (or one resource of it)."""
    _set_subscription("subscribed", id_or_identifier, channel, resource, reason, db)


@profile_app.command()
def unsubscribe(
    id_or_identifier: str = _PROFILE,
    channel: str = _CHANNEL,
    resource: str = _RESOURCE,
    reason: str | None = _REASON,
    db: str | None = _DB,
) -> None:
    """Unsubscribe a profile from a channel (or one resource of it)."""
    _set_subscription("unsubscribed", id_or_identifier, channel, resource, reason, db)


@profile_app.command()
def suppress(
    id_or_identifier: str = _PROFILE,
    channel: str = _CHANNEL,
    resource: str = _RESOURCE,
    reason: str | None = _REASON,
    db: str | None = _DB,
) -> None:
    """Suppress a channel for a profile (a bounce, a complaint, a stop-list)."""
    _set_subscription("suppressed", id_or_identifier, channel, resource, reason, db)


@profile_app.command()
def subscriptions(id_or_identifier: str = _PROFILE, db: str | None = _DB) -> None:
    """A profile's subscriptions and the history of their changes (newest first)."""
    from herald.profiles.card import card_subscriptions

    with _card() as (warehouse, store):
        _echo(card_subscriptions(warehouse, store, id_or_identifier, db))


@profile_app.command()
def relate(
    from_profile: str = typer.Argument(..., help="The profile the relation goes from."),
    to_profile: str = typer.Argument(..., help="The profile it goes to (same database)."),
    kind: str = typer.Option(..., "--kind", help='The relation, e.g. "family", "manager of".'),
    db: str | None = _DB,
) -> None:
    """Relate two profiles of one database (FROM is KIND of TO)."""
    from herald.profiles.card import card_relate

    with _card() as (warehouse, store):
        _echo(
            card_relate(warehouse, store, from_profile, to_profile, db, kind=kind, created_by="cli")
        )


@profile_app.command()
def unrelate(
    from_profile: str = typer.Argument(..., help="The profile the relation goes from."),
    to_profile: str = typer.Argument(..., help="The profile it goes to."),
    kind: str = typer.Option(..., "--kind", help="The relation to remove."),
    db: str | None = _DB,
) -> None:
    """Remove a relation between two profiles."""
    from herald.profiles.card import card_unrelate

    with _card() as (warehouse, store):
        card_unrelate(warehouse, store, from_profile, to_profile, db, kind=kind)
    _echo({"deleted": True, "from": from_profile, "to": to_profile, "kind": kind})


@profile_app.command()
def relations(id_or_identifier: str = _PROFILE, db: str | None = _DB) -> None:
    """A profile's relations, both directions."""
    from herald.profiles.card import card_relations

    with _card() as (warehouse, store):
        _echo(card_relations(warehouse, store, id_or_identifier, db))


@contextlib.contextmanager
def _card(store: bool = True) -> Iterator[tuple[Any, Any]]:
    """The warehouse (read-only) and the migrated operational store, for card commands."""
    from herald.profiles.card import open_card_warehouse
    from herald.store.engine import create_store_engine
    from herald.store.migrate import migrate

    settings = load_settings()
    engine = None
    if store:
        migrate(settings.database_url)
        engine = create_store_engine(settings.database_url)
    try:
        with open_card_warehouse(settings) as warehouse:
            yield warehouse, engine
    finally:
        if engine is not None:
            engine.dispose()


def _echo(document: Any) -> None:
    def plain(value: Any) -> Any:
        return value.isoformat() if isinstance(value, datetime | date) else str(value)

    typer.echo(json.dumps(document, ensure_ascii=False, indent=2, default=plain))


def find_profile(warehouse: Any, id_or_identifier: str, db: str | None = None) -> dict[str, Any]:
    """A profile by its id or by one of its identifiers (`herald.profiles.card`)."""
    from herald.profiles.card import find_profile as find

    return find(warehouse, id_or_identifier, db)


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
