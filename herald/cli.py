"""The `herald` command."""

from __future__ import annotations

import csv
import importlib
import json
import os
import subprocess
import sys
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from herald.cli_campaigns import campaign_app, fragment_app, template_app
from herald.cli_db import db_app
from herald.cli_merges import unmerge as _unmerge  # noqa: F401 - registers `profile unmerge`
from herald.cli_profiles import export_command, profile_app, unify_command
from herald.cli_reports import report_app
from herald.cli_segments import segment_app
from herald.cli_send import bounces_app, dkim_app, queue_app, send_app, suppression_app
from herald.cli_sources import sources_app
from herald.cli_tracking import source_app
from herald.cli_users import serve_app, user_app
from herald.errors import HeraldError
from herald.settings import Settings, load_settings

app = typer.Typer(
    help="Herald: customer data platform with omnichannel marketing automation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(db_app, name="db")
app.add_typer(sources_app, name="source-sql")
app.add_typer(source_app, name="source")
app.add_typer(profile_app, name="profile")
app.add_typer(segment_app, name="segment")
app.add_typer(report_app, name="report")
app.add_typer(user_app, name="user")
app.add_typer(serve_app, name="serve")
app.add_typer(send_app, name="send")
app.add_typer(queue_app, name="queue")
app.add_typer(suppression_app, name="suppression")
app.add_typer(dkim_app, name="dkim")
app.add_typer(bounces_app, name="bounces")
app.add_typer(template_app, name="template")
app.add_typer(fragment_app, name="fragment")
app.add_typer(campaign_app, name="campaign")
app.command(name="unify")(unify_command)
app.command(name="export")(export_command)
REPO_ROOT = Path(__file__).resolve().parents[1]


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _settings() -> Settings:
    return load_settings()


@app.command()
def generate(
    profiles: int = typer.Option(10_000, min=1, help="How many true persons to generate."),
    seed: int = typer.Option(42, help="Random seed: the same seed gives the same files."),
    end_date: str = typer.Option("2026-11-01", help="Last day of generated history (YYYY-MM-DD)."),
) -> None:
    """Write realistic sample landing data under HERALD_HOME/landing, with the profile
    records of the profile database `customers` (whose schema it applies)."""
    from herald.generate import generate as run_generate
    from herald.generate.database import apply_customers_schema, describe

    settings = _settings()
    try:
        last_day = date.fromisoformat(end_date)
    except ValueError:
        raise HeraldError(f"--end-date {end_date!r} is not a date like 2026-11-01") from None
    report = run_generate(settings.home, profiles, seed=seed, end_date=last_day)
    for source, rows in sorted(report.rows.items()):
        typer.echo(f"  {source:<16} {rows:>12,} rows")
    total = sum(report.rows.values())
    typer.echo(
        f"generated {total:,} rows in {report.seconds:.1f} s "
        f"({report.rows_per_second:,.0f} rows/s) under {settings.landing_dir}"
    )
    typer.echo(describe(apply_customers_schema(settings.database_url)))


@app.command()
def materialize(
    select: str | None = typer.Option(
        None,
        "--select",
        "-s",
        help="Assets to run: names (events,orders) or key:events+ / group:marts.",
    ),
) -> None:
    """Load new landing files and build the models, in-process; a line per asset."""
    run = importlib.import_module("pipelines.run")
    settings = _settings()
    outcome = run.materialize(settings, select)
    for asset in outcome.assets:
        typer.echo(_asset_line(asset))
    status = "succeeded" if outcome.success else "FAILED"
    typer.echo(
        f"run {outcome.run_id} {status} in {outcome.seconds:.1f} s "
        f"({settings.warehouse_url.display()})"
    )
    if not outcome.success:
        raise typer.Exit(1)


def _asset_line(asset: Any) -> str:
    if asset.error:
        return f"  {asset.name:<32} FAILED: {asset.error}"
    if asset.skipped:
        return f"  {asset.name:<32} skipped (an upstream asset failed)"
    rows = f"{asset.rows:>12,} rows" if asset.rows is not None else f"{'':>12}     "
    seconds = f"{asset.seconds:>7.2f} s" if asset.seconds is not None else f"{'':>9}"
    checks = ""
    if asset.checks_passed or asset.checks_failed:
        total = asset.checks_passed + len(asset.checks_failed)
        checks = f"  checks {asset.checks_passed}/{total} passed"
        if asset.checks_failed:
            checks += f" (failed: {', '.join(asset.checks_failed)})"
    return f"  {asset.name:<32} {rows} {seconds}{checks}"


@app.command("import")
def import_records(
    file: Path | None = typer.Argument(None, help="CSV, TXT, XLSX or XLS file to import."),
    db: str = typer.Option(..., "--db", help="The profile database to import into."),
    source: str | None = typer.Option(None, help="Label of the source (default: file name)."),
    key: str | None = typer.Option(None, help="Column holding each record's key in its source."),
    map_: list[str] = typer.Option([], "--map", help="column=field; repeat for more columns."),
    match: str | None = typer.Option(None, help="Fields that identify an existing profile."),
    mode: str = typer.Option("upsert", help="upsert, insert (new only) or update (existing only)."),
    sheet: str | None = typer.Option(None, help="Spreadsheet sheet, by name or 0-based index."),
    paste: bool = typer.Option(False, "--paste", help="Read pasted tab-separated text on stdin."),
    region: str = typer.Option("RU", help="Phone region for numbers without a country code."),
    month_first: bool = typer.Option(False, help="Read 01/02/2024 as 2 January, not 1 February."),
    load: bool = typer.Option(True, help="Load the records into the warehouse (a Dagster run)."),
) -> None:
    """Import profiles into a profile database; prints one JSON object with the counts."""
    from herald.cli_imports import load_and_report
    from herald.imports import open_pasted, open_table
    from herald.profiles.importing import ImportRequest, run_import
    from herald.store import create_store_engine, migrate

    if mode not in ("upsert", "insert", "update"):
        raise HeraldError(f"--mode {mode!r}: use upsert, insert or update")
    if (file is None) == (not paste):
        raise HeraldError("give a FILE to import, or --paste to read pasted text on stdin")
    mapping: dict[str, str] = {}
    for pair in map_:
        column, sep, target = pair.partition("=")
        if not sep or not column or not target:
            raise HeraldError(f"--map {pair!r}: write it as column=field")
        mapping[column] = target
    settings = _settings()
    store = create_store_engine(settings.database_url)
    migrate(store)
    if paste:
        reader = open_pasted(sys.stdin.read())
    else:
        assert file is not None
        if not file.is_file():
            raise HeraldError(f"{file}: no such file")
        size = file.stat().st_size
        if size > settings.max_import_mb * 1024 * 1024:
            raise HeraldError(
                f"{file}: {size / 1024**3:.1f} GiB is above the import limit of "
                f"{settings.max_import_mb:,} MiB (HERALD_MAX_IMPORT_MB); split the file, or "
                "load it from its database with `herald source-sql`"
            )
        chosen_sheet: str | int | None = int(sheet) if sheet and sheet.isdigit() else sheet
        reader = open_table(file, sheet=chosen_sheet)
    request = ImportRequest(
        database=db,
        source=source or (file.name if file else "paste"),
        kind="paste" if paste else "file",
        mode=mode,  # type: ignore[arg-type]
        key_column=key,
        mapping=mapping,
        match_fields=tuple(name.strip() for name in (match or "").split(",") if name.strip()),
        region=region,
        dayfirst=not month_first,
        file_name=file.name if file else None,
    )
    result = run_import(store, settings.home, reader, request)
    load_and_report(settings, store, result, load)


@app.command("serve-api")
def serve_api(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 for all)."),
    port: int = typer.Option(8080, min=1, max=65535, help="Port to listen on."),
) -> None:
    """Serve the HTTP API (ui/api.py): create or update profiles; HERALD_API_TOKEN turns on
    bearer auth."""
    # The service is loaded by name at call time: the kernel does not import services.
    importlib.import_module("ui.cli").serve_api_command(host=host, port=port)


@app.command()
def sql(
    query: str = typer.Argument(..., help="A SELECT to run on the warehouse (read-only)."),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f"),
) -> None:
    """Run a read-only query on the configured warehouse and print the result."""
    from herald.warehouse import open_warehouse

    settings = _settings()
    with open_warehouse(settings, read_only=True) as warehouse:
        result = warehouse.query_arrow(query)
    rows = result.to_pylist()
    columns = result.column_names
    if output is OutputFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([row[name] for name in columns] for row in rows)
    elif output is OutputFormat.json:
        typer.echo(json.dumps(rows, default=str, ensure_ascii=False, indent=2))
    else:
        typer.echo(_table(columns, rows))


def _table(columns: list[str], rows: list[dict[str, Any]]) -> str:
    cells = [[("" if row[name] is None else str(row[name])) for name in columns] for row in rows]
    widths = [max([len(name), *(len(line[i]) for line in cells)]) for i, name in enumerate(columns)]
    lines = [" | ".join(name.ljust(widths[i]) for i, name in enumerate(columns))]
    lines.append("-+-".join("-" * width for width in widths))
    lines += [" | ".join(value.ljust(widths[i]) for i, value in enumerate(line)) for line in cells]
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines)


@app.command()
def lint() -> None:
    """Render every SQL model for DuckDB and ClickHouse and parse it with sqlglot."""
    from herald.models.project import SqlProject
    from herald.models.render import lint as lint_project

    project = SqlProject.load()
    problems = lint_project(project)
    for problem in problems:
        typer.echo(problem, err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo(f"{len(project.models)} models render and parse on duckdb and clickhouse")


@app.command()
def demo(
    profiles: int = typer.Option(10_000, min=1, help="Persons to generate if landing is empty."),
    seed: int = typer.Option(42),
    port: int = typer.Option(3000, help="Port of the Dagster UI."),
    ui_port: int = typer.Option(8000, help="Port of Herald's web UI."),
    tracking_port: int = typer.Option(8090, help="Port of the tracking service."),
    serve: bool = typer.Option(True, help="Serve the Dagster UI and the web UI afterwards."),
) -> None:
    """Generate sample data, materialise everything, then serve the Dagster UI, Herald's web
    UI (a first admin, `admin`, is created with a password printed once) and, when RabbitMQ
    answers, the tracking service and its loader."""
    from herald.generate.database import apply_customers_schema, describe

    settings = _settings()
    if not any(settings.landing_dir.glob("*/*.*")):
        generate(profiles=profiles, seed=seed, end_date="2026-11-01")  # applies the schema
    else:
        typer.echo(describe(apply_customers_schema(settings.database_url)))
    materialize(select=None)
    _example_segments(settings)
    _demo_admin(settings)
    if not serve:
        return
    run = importlib.import_module("pipelines.run")
    dagster_home = run.prepare_instance(settings)
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home)}
    web_ui = subprocess.Popen(
        [sys.executable, "-m", "herald.cli", "serve", "ui", "--port", str(ui_port)],
        env=env,
        cwd=REPO_ROOT,
    )
    services = [web_ui, *_demo_tracking(settings, env, tracking_port)]
    typer.echo(f"Herald web UI: http://127.0.0.1:{ui_port}")
    typer.echo(f"Dagster UI: http://127.0.0.1:{port}  (Ctrl-C stops both)")
    command = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-w",
        str(REPO_ROOT / "workspace.yaml"),
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    try:
        code = subprocess.call(command, env=env, cwd=REPO_ROOT)
    finally:
        for service in services:
            service.terminate()
        for service in services:
            service.wait(timeout=15)
    raise typer.Exit(code)


def _demo_tracking(
    settings: Settings, env: dict[str, str], port: int
) -> list[subprocess.Popen[bytes]]:
    """The tracker on `port` and the loader, when RabbitMQ answers; the demo's source `web`
    (database customers) is made once, its write key kept in HERALD_HOME/demo-write-key.txt."""
    import socket
    from urllib.parse import urlsplit

    broker = urlsplit(settings.broker)
    try:
        socket.create_connection((broker.hostname or "127.0.0.1", broker.port or 5672), 2).close()
    except OSError:
        typer.echo(
            f"Tracking not started: RabbitMQ does not answer at {broker.hostname}:"
            f"{broker.port or 5672} (deploy/services.sh ensure rabbitmq starts one)"
        )
        return []
    from herald.store import create_store_engine
    from herald.tracking_sources import TrackingSourceError, create_source

    key_file = settings.home / "demo-write-key.txt"
    if not key_file.exists():
        store = create_store_engine(settings.database_url)
        try:
            created = create_source(store, "web", database="customers", user_id_field="shop_id")
        except TrackingSourceError:
            created = None  # made by an earlier demo whose key file is gone
        finally:
            store.dispose()
        if created is not None:
            key_file.write_text(created.write_key + "\n", encoding="utf-8")
            key_file.chmod(0o600)
    herald = [sys.executable, "-m", "herald.cli", "serve"]
    tracker = subprocess.Popen(
        [*herald, "tracking", "--port", str(port), "--workers", "1"], env=env, cwd=REPO_ROOT
    )
    loader = subprocess.Popen([*herald, "loader"], env=env, cwd=REPO_ROOT)
    key = key_file.read_text("utf-8").strip() if key_file.exists() else "(see herald source list)"
    typer.echo(f"Tracking: http://127.0.0.1:{port}  (source web, write key {key})")
    return [tracker, loader]


def _demo_admin(settings: Settings) -> None:
    """Create the demo's first user, `admin`, when there is no user yet; its password is
    printed once and kept in HERALD_HOME/demo-admin-password.txt (mode 0600)."""
    import secrets

    from herald.store import create_store_engine, migrate
    from herald.users import create_user, list_users

    store = create_store_engine(settings.database_url)
    try:
        migrate(store)
        if list_users(store):
            return
        password = secrets.token_urlsafe(12)
        create_user(store, "admin", password, role="admin")
        path = settings.home / "demo-admin-password.txt"
        path.write_text(password + "\n", encoding="utf-8")
        path.chmod(0o600)
        typer.echo(f"Web UI user: admin, password: {password}  (also in {path})")
    finally:
        store.dispose()


def _example_segments(settings: Settings) -> None:
    """Save the example segments of docs/segments (once) and compute them."""
    from herald.profiles.databases import get_database
    from herald.segments.catalog import list_segments, save_segment
    from herald.segments.definition import parse_definition_text, referenced_segments
    from herald.segments.service import definition_checker
    from herald.store import create_store_engine
    from herald.warehouse import open_warehouse

    store = create_store_engine(settings.database_url)
    try:
        if list_segments(store):
            return
        definitions = [
            parse_definition_text(path.read_text(encoding="utf-8"), source=str(path))
            for path in sorted((REPO_ROOT / "docs" / "segments").glob("*.yml"))
        ]
        definitions.sort(key=lambda definition: len(referenced_segments(definition.where)))
        with open_warehouse(settings, read_only=True) as warehouse:
            for definition in definitions:
                schema = get_database(store, definition.database).schema
                save_segment(store, definition, check=definition_checker(warehouse, schema))
    finally:
        store.dispose()
    run = importlib.import_module("pipelines.run")
    outcome = run.materialize_segments(settings)
    for asset in outcome.assets:
        for report in asset.metadata.get("segments") or []:
            typer.echo(f"  segment {report['segment_id']:<28} {report['members']:>10,} members")


def main() -> None:
    try:
        app()
    except HeraldError as exc:
        from herald.i18n import DEFAULT_LANGUAGE, translate_reason

        try:  # the message in HERALD_LANGUAGE; in English if the settings do not load
            language = load_settings().language
        except Exception:
            language = DEFAULT_LANGUAGE
        typer.echo(f"herald: {translate_reason(str(exc), language)}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
