"""`herald segment ...`: define, compute, explain, estimate, freeze and keep lists of audiences.

Saving a segment only writes the operational store; its members are computed by a Dagster run
of the `segment_members` asset (one partition per segment), which `create`, `freeze`, `add`,
`remove` and `refresh` start in-process unless told `--no-refresh`. Reads (members, explain,
estimate) open the warehouse read-only.
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

from herald.cli_segment_syncs import (
    export_command,
    sync_add,
    sync_list,
    sync_remove,
    sync_run,
)
from herald.errors import HeraldError
from herald.settings import load_settings

segment_app = typer.Typer(
    help="Segments: audiences defined by conditions (dynamic) or kept as lists (static).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
segment_app.command(name="export")(export_command)
segment_app.command(name="sync-add")(sync_add)
segment_app.command(name="sync-list")(sync_list)
segment_app.command(name="sync-run")(sync_run)
segment_app.command(name="sync-remove")(sync_remove)

_FILE = typer.Option(..., "--file", "-f", help="The definition, YAML or JSON.")
_NO_REFRESH = typer.Option(False, "--no-refresh", help="Save only; compute members later.")


def _echo(document: Any) -> None:
    def plain(value: Any) -> Any:
        return value.isoformat() if isinstance(value, datetime | date) else str(value)

    typer.echo(json.dumps(document, ensure_ascii=False, indent=2, default=plain))


@contextlib.contextmanager
def _store() -> Iterator[Any]:
    from herald.store.engine import create_store_engine
    from herald.store.migrate import migrate

    settings = load_settings()
    migrate(settings.database_url)
    engine = create_store_engine(settings.database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@contextlib.contextmanager
def _reader() -> Iterator[Any]:
    from herald.warehouse import open_warehouse

    settings = load_settings()
    url = settings.warehouse_url
    if url.engine == "duckdb" and url.path is not None and not url.path.exists():
        raise HeraldError("the warehouse is empty: import and unify profiles first")
    warehouse = open_warehouse(settings, read_only=True)
    try:
        yield warehouse
    finally:
        warehouse.close()


def _read_definition(path: Path) -> Any:
    from herald.segments.definition import parse_definition_text

    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise HeraldError(f"{path}: cannot read it ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise HeraldError(f"{path}: not UTF-8 text; save the definition as UTF-8") from None
    return parse_definition_text(text, source=str(path))


def _schema(store: Any, database: str) -> Any:
    from herald.profiles.databases import get_database

    return get_database(store, database).schema


def _inputs_ready(database: str) -> bool:
    from herald.segments.inputs import segment_profiles_table

    try:
        with _reader() as warehouse:
            return bool(warehouse.exists(segment_profiles_table(database)))
    except HeraldError:
        return False


def _refresh(names: list[str] | None, *, with_inputs: bool) -> dict[str, Any]:
    run = importlib.import_module("pipelines.run")
    outcome = run.materialize_segments(load_settings(), names, with_inputs=with_inputs)
    if not outcome.success:
        errors = "; ".join(
            f"{asset.name}: {asset.error}" for asset in outcome.assets if asset.error
        )
        raise HeraldError(f"refreshing segments failed: {errors or 'see run ' + outcome.run_id}")
    reports: list[Any] = []
    for asset in outcome.assets:
        if asset.name == "segment_members":
            reports += list(asset.metadata.get("segments") or [])
    return {"run_id": outcome.run_id, "seconds": round(outcome.seconds, 2), "segments": reports}


def _save(path: Path, refresh: bool) -> dict[str, Any]:
    from herald.segments.catalog import save_segment
    from herald.segments.service import definition_checker

    definition = _read_definition(path)
    with _store() as store:
        schema = _schema(store, definition.database)
        try:
            with _reader() as warehouse:
                segment = save_segment(
                    store, definition, check=definition_checker(warehouse, schema)
                )
        except HeraldError as exc:
            if "warehouse is empty" not in str(exc):
                raise
            segment = save_segment(store, definition, check=definition_checker(None, schema))
    result: dict[str, Any] = {"segment": segment.summary()}
    if refresh:
        result["refresh"] = _refresh(
            [segment.name], with_inputs=not _inputs_ready(segment.database)
        )
    return result


@segment_app.command()
def create(file: Path = _FILE, no_refresh: bool = _NO_REFRESH) -> None:
    """Save a segment from its definition (a new version if it exists), then compute it."""
    _echo(_save(file, not no_refresh))


@segment_app.command(name="list")
def list_command(
    db: str | None = typer.Option(None, "--db", help="Only segments of this database."),
) -> None:
    """Every segment with its latest size."""
    from herald.segments.catalog import list_segments

    with _store() as store:
        segments = list_segments(store, db)
    sizes = _latest_sizes()
    _echo([{**segment.summary(), **sizes.get(segment.name, {})} for segment in segments])


def _latest_sizes() -> dict[str, dict[str, Any]]:
    from herald.segments.service import latest_sizes

    try:
        with _reader() as warehouse:
            return latest_sizes(warehouse)
    except HeraldError:
        return {}


@segment_app.command()
def show(name: str = typer.Argument(..., help="The segment.")) -> None:
    """A segment: its settings, its current definition and its latest size."""
    from herald.segments.catalog import get_segment

    with _store() as store:
        segment = get_segment(store, name)
    _echo(
        {
            **segment.summary(),
            **_latest_sizes().get(name, {}),
            "definition": dict(segment.definition.document),
        }
    )


@segment_app.command()
def members(
    name: str = typer.Argument(..., help="The segment."),
    count: bool = typer.Option(False, "--count", help="Only how many."),
    limit: int = typer.Option(100, "--limit", min=1, max=100_000, help="How many ids to list."),
) -> None:
    """The members computed last (profile ids, with the time each one entered)."""
    from herald.segments.catalog import get_segment
    from herald.segments.service import read_members

    with _store() as store:
        get_segment(store, name)
    with _reader() as warehouse:
        page = read_members(warehouse, name, limit=0 if count else limit)
    if page is None:
        raise HeraldError(f"segment {name!r} has not been computed yet: herald segment refresh")
    if count:
        del page["profiles"]
    _echo(page)


@segment_app.command()
def explain(
    name: str = typer.Argument(..., help="The segment."),
    profile: str = typer.Option(..., "--profile", help="A profile id (or a merged id)."),
) -> None:
    """Why a profile is in a segment or not: every condition, true or false, with its value."""
    from herald.segments.catalog import get_segment
    from herald.segments.service import explain as explain_profile

    with _store() as store:
        segment = get_segment(store, name)
        schema = _schema(store, segment.database)
    with _reader() as warehouse:
        _echo(explain_profile(warehouse, schema, segment.definition, profile))


@segment_app.command()
def estimate(file: Path = _FILE) -> None:
    """How many profiles a definition matches now, without saving it."""
    from herald.segments.service import estimate as estimate_size

    definition = _read_definition(file)
    with _store() as store:
        schema = _schema(store, definition.database)
    with _reader() as warehouse:
        _echo(estimate_size(warehouse, schema, definition))


@segment_app.command()
def freeze(
    name: str = typer.Argument(..., help="The dynamic segment to freeze."),
    as_name: str = typer.Option(..., "--as", help="The name of the static copy."),
    no_refresh: bool = _NO_REFRESH,
) -> None:
    """A static copy of a dynamic segment's members as they are now."""
    from herald.segments.catalog import freeze_segment

    with _store() as store:
        segment = freeze_segment(store, name, as_name)
    result: dict[str, Any] = {"segment": segment.summary()}
    if not no_refresh:
        result["refresh"] = _refresh([segment.name], with_inputs=False)
    _echo(result)


def _ids(ids: list[str], file: Path | None) -> list[str]:
    given = list(ids)
    if file is not None:
        try:
            lines = file.read_text(encoding="utf-8-sig").splitlines()
        except OSError as exc:
            raise HeraldError(f"{file}: cannot read it ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise HeraldError(f"{file}: not UTF-8 text; save the ids as UTF-8") from None
        if lines and lines[0].strip().lower() == "profile_id":
            lines = lines[1:]
        given += [line.split(",")[0].strip() for line in lines if line.strip()]
    if not given:
        raise HeraldError("give profile ids, or --file with one id per line")
    return given


def _change(name: str, ids: list[str], file: Path | None, included: bool, refresh: bool) -> None:
    from herald.segments.catalog import change_list, get_segment
    from herald.segments.service import unknown_profiles

    source = f"file:{file.name}" if file is not None else "cli"
    given = _ids(ids, file)
    with _store() as store:
        counts = change_list(store, name, given, included=included, source=source)
        database = get_segment(store, name).database
    result: dict[str, Any] = {"segment": name, **counts}
    try:
        with _reader() as warehouse:
            unknown = unknown_profiles(warehouse, database, given)
    except HeraldError:
        unknown = []
    if unknown:
        # Kept (the profile may arrive with the next import) but counted for nobody now.
        result["unknown_profiles"] = unknown[:100]
        result["unknown_count"] = len(unknown)
    if refresh:
        result["refresh"] = _refresh([name], with_inputs=False)
    _echo(result)


_IDS = typer.Argument(None, help="Profile ids.")
_IDS_FILE = typer.Option(None, "--file", "-f", help="A file with one profile id per line.")


@segment_app.command()
def add(
    name: str = typer.Argument(..., help="The static segment."),
    ids: list[str] = _IDS,
    file: Path | None = _IDS_FILE,
    no_refresh: bool = _NO_REFRESH,
) -> None:
    """Add profiles to a static segment."""
    _change(name, ids or [], file, True, not no_refresh)


@segment_app.command()
def remove(
    name: str = typer.Argument(..., help="The static segment."),
    ids: list[str] = _IDS,
    file: Path | None = _IDS_FILE,
    no_refresh: bool = _NO_REFRESH,
) -> None:
    """Remove profiles from a static segment."""
    _change(name, ids or [], file, False, not no_refresh)


@segment_app.command()
def refresh(
    names: list[str] = typer.Argument(None, help="Segments to refresh (default: all)."),
    inputs: bool = typer.Option(False, "--inputs", help="Rebuild the segment inputs first."),
) -> None:
    """Recompute segments now (a Dagster run of segment_members)."""
    _echo(_refresh(names or None, with_inputs=inputs))


@segment_app.command()
def delete(name: str = typer.Argument(..., help="The segment.")) -> None:
    """Delete a segment (its members leave the tables at the next sensor tick)."""
    from herald.segments.catalog import delete_segment

    with _store() as store:
        delete_segment(store, name)
    _echo({"deleted": name})
