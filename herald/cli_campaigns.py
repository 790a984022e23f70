"""`herald template ...`, `herald fragment ...`, `herald campaign ...` and `herald serve
scheduler`: content and campaigns from the command line.

    herald template create --file news.yml            # validated, saved as version 1
    herald template update --file news.yml            # a new version
    herald template validate --file news.yml [--db shop]
    herald template preview news --db shop --profile p_shop:crm:1
    herald template connection add shop postgresql://reader@db/shop
    herald fragment create footer --file footer.html
    herald campaign create --file c.yml               # create or update (a draft)
    herald campaign launch news [--now]
    herald campaign pause|resume|cancel news
    herald campaign status news [--json]
    herald campaign calendar [--from 2026-12-01 --to 2027-01-01]
    herald campaign limits set domain:shop.example --per-day 50000 \
        --warmup-start 1000 --warmup-factor 1.5 --warmup-cap 50000
    herald serve scheduler                            # launches, limits, A/B winners, triggers
"""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer
import yaml

from herald.cli_tracking import store_session
from herald.cli_users import serve_app
from herald.settings import load_settings

template_app = typer.Typer(
    help="Message templates: create, update, validate, preview (versioned).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
connection_app = typer.Typer(
    help="Named databases that templates query for external data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
fragment_app = typer.Typer(
    help="Fragments (header, footer, blocks) that templates include by name (versioned).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
campaign_app = typer.Typer(
    help="Campaigns: one-off, regular, triggered and transactional; A/B/n and MVT tests.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
limits_app = typer.Typer(
    help="Sending limits per campaign or sending domain, with warm-up ramps.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
template_app.add_typer(connection_app, name="connection")
campaign_app.add_typer(limits_app, name="limits")

_FILE = typer.Option(..., "--file", "-f", help="The template file (YAML).")
_JSON = typer.Option(False, "--json", help="Print JSON.")


def _echo(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _fields(items: list[str]) -> dict[str, str]:
    return dict(item.split("=", 1) for item in items if "=" in item)


# ---------------------------------------------------------------------------------------------
# Templates


def _save_template(file: Path, name: str | None, mode: str) -> None:
    from herald.campaigns.content import read_template_file, save_content
    from herald.campaigns.preview import validate_document

    with store_session() as store:
        found, document = read_template_file(file)
        chosen = name or found or file.stem
        problems = validate_document(store, document)
        errors = [p for p in problems if p["severity"] == "error"]
        if errors:
            _print_problems(problems)
            raise typer.Exit(1)
        info = save_content(store, "template", chosen, document, mode=mode)  # type: ignore[arg-type]
    _echo(
        {
            "template": info.name,
            "version": info.version,
            "channel": info.channel,
            "warnings": [p for p in problems if p["severity"] == "warning"],
        }
    )


def _print_problems(problems: list[dict[str, Any]]) -> None:
    for problem in problems:
        line = f" line {problem['line']}" if problem.get("line") else ""
        typer.echo(
            f"{problem['severity']}: {problem['part']}{line}: {problem['message']}", err=True
        )


@template_app.command("create")
def template_create(
    file: Path = _FILE,
    name: str | None = typer.Option(None, "--name", help="Default: the file's `name`."),
) -> None:
    """Validate a template file and save it as a new template (version 1)."""
    _save_template(file, name, "create")


@template_app.command("update")
def template_update(
    file: Path = _FILE,
    name: str | None = typer.Option(None, "--name", help="Default: the file's `name`."),
) -> None:
    """Validate a template file and save it as the template's next version."""
    _save_template(file, name, "update")


@template_app.command("validate")
def template_validate(
    file: Path | None = typer.Option(None, "--file", "-f", help="A template file."),
    name: str | None = typer.Argument(None, help="Or a saved template."),
    db: str | None = typer.Option(None, "--db", help="Check field names against its schema."),
    as_json: bool = _JSON,
) -> None:
    """Syntax errors (with line numbers), missing parts and fragments, unknown fields."""
    from herald.campaigns.content import get_content, read_template_file
    from herald.campaigns.preview import validate_document

    with store_session() as store:
        if file is not None:
            document = read_template_file(file)[1]
        elif name is not None:
            document = get_content(store, "template", name).document
        else:
            raise typer.BadParameter("give a template name or --file")
        problems = validate_document(store, document, database=db)
    if as_json:
        _echo({"valid": not any(p["severity"] == "error" for p in problems), "problems": problems})
    else:
        _print_problems(problems)
        if not problems:
            typer.echo("valid")
    if any(p["severity"] == "error" for p in problems):
        raise typer.Exit(1)


@template_app.command("preview")
def template_preview(
    name: str | None = typer.Argument(None, help="A saved template."),
    file: Path | None = typer.Option(None, "--file", "-f", help="Or a template file."),
    db: str | None = typer.Option(None, "--db", help="The profile database."),
    profile: str | None = typer.Option(None, "--profile", help="Render for this profile."),
    field: list[str] = typer.Option([], "--field", help="A field, name=value (repeatable)."),
    version: int | None = typer.Option(None, "--version", help="A saved version."),
) -> None:
    """Render every part for a chosen profile (its fields read from the warehouse), with
    external data fetched live; SMS parts show their encoding and segments."""
    from herald.campaigns.content import get_content, read_template_file
    from herald.campaigns.preview import preview_template

    with store_session() as store:
        if file is not None:
            document = read_template_file(file)[1]
        elif name is not None:
            document = get_content(store, "template", name, version).document
        else:
            raise typer.BadParameter("give a template name or --file")
        result = preview_template(
            load_settings(),
            store,
            document,
            database=db,
            profile_id=profile,
            fields=_fields(field),
        )
    _echo(result)
    if result.get("error"):
        raise typer.Exit(1)


@template_app.command("list")
def template_list() -> None:
    from herald.campaigns.content import list_content

    with store_session() as store:
        _echo(list_content(store, "template"))


@template_app.command("show")
def template_show(
    name: str = typer.Argument(...),
    version: int | None = typer.Option(None, "--version"),
) -> None:
    from herald.campaigns.content import get_content

    with store_session() as store:
        _echo(get_content(store, "template", name, version).public())


@connection_app.command("add")
def connection_add(
    name: str = typer.Argument(..., help="The name templates use (sql: {connection: NAME})."),
    url: str = typer.Argument(..., help="SQLAlchemy URL, e.g. postgresql://reader@db/shop."),
) -> None:
    from herald.campaigns.content import add_connection

    with store_session() as store:
        add_connection(store, name, url)
    _echo({"connection": name, "saved": True})


@connection_app.command("list")
def connection_list() -> None:
    from herald.campaigns.content import list_connections

    with store_session() as store:
        _echo(list_connections(store))


@connection_app.command("remove")
def connection_remove(name: str = typer.Argument(...)) -> None:
    from herald.campaigns.content import remove_connection

    with store_session() as store:
        _echo({"connection": name, "removed": remove_connection(store, name)})


# ---------------------------------------------------------------------------------------------
# Fragments


def _save_fragment(name: str, file: Path, mode: str) -> None:
    from herald.campaigns.content import ContentError, save_content
    from herald.campaigns.preview import validate_fragment

    with store_session() as store:
        try:
            source = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ContentError(f"cannot read {file}: {exc}") from None
        problems = validate_fragment(name, source)
        if problems:
            _print_problems(problems)
            raise typer.Exit(1)
        info = save_content(store, "fragment", name, {"source": source}, mode=mode)  # type: ignore[arg-type]
    _echo({"fragment": info.name, "version": info.version})


@fragment_app.command("create")
def fragment_create(
    name: str = typer.Argument(..., help="The name templates include."),
    file: Path = typer.Option(..., "--file", "-f", help="Its source (HTML or text)."),
) -> None:
    """Save a new fragment (version 1)."""
    _save_fragment(name, file, "create")


@fragment_app.command("update")
def fragment_update(
    name: str = typer.Argument(...),
    file: Path = typer.Option(..., "--file", "-f"),
) -> None:
    """Save a fragment's next version (templates that include it by name get it at their
    next launch; `name@N` pins a version)."""
    _save_fragment(name, file, "update")


@fragment_app.command("list")
def fragment_list() -> None:
    from herald.campaigns.content import list_content

    with store_session() as store:
        _echo(list_content(store, "fragment"))


@fragment_app.command("show")
def fragment_show(
    name: str = typer.Argument(...),
    version: int | None = typer.Option(None, "--version"),
) -> None:
    from herald.campaigns.content import get_content

    with store_session() as store:
        _echo(get_content(store, "fragment", name, version).public())


# ---------------------------------------------------------------------------------------------
# Campaigns


def _scheduler() -> Any:
    return importlib.import_module("senders.campaigns")


@campaign_app.command("create")
def campaign_create(
    file: Path = typer.Option(..., "--file", "-f", help="The campaign file (YAML)."),
) -> None:
    """Create a campaign from its file, or update it (a draft until launched)."""
    from herald.campaigns.catalog import save_campaign
    from herald.campaigns.definition import CampaignError, parse_campaign
    from herald.campaigns.preview import check_campaign

    with store_session() as store:
        try:
            document = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise CampaignError(f"cannot read the campaign file {file}: {exc}") from None
        definition = parse_campaign(document)
        check_campaign(store, definition)
        info, created = save_campaign(store, definition)
    _echo({"campaign": info.name, "kind": info.kind, "state": info.state, "created": created})


@campaign_app.command("launch")
def campaign_launch(
    name: str = typer.Argument(...),
    now: bool = typer.Option(False, "--now", help="Launch at once, whatever the schedule."),
) -> None:
    """Start a campaign: a one-off now or at its time, a regular one on its schedule, a
    triggered or transactional one from now on (its content frozen now)."""
    with store_session() as store:
        _echo(_scheduler().activate_campaign(load_settings(), store, name, launch_now=now))


@campaign_app.command("pause")
def campaign_pause(name: str = typer.Argument(...)) -> None:
    """No launch starts; the runs' queued messages are held."""
    from herald.campaigns.control import pause_campaign

    with store_session() as store:
        _echo(pause_campaign(load_settings(), store, name))


@campaign_app.command("resume")
def campaign_resume(name: str = typer.Argument(...)) -> None:
    from herald.campaigns.control import resume_campaign

    with store_session() as store:
        _echo(resume_campaign(load_settings(), store, name))


@campaign_app.command("cancel")
def campaign_cancel(name: str = typer.Argument(...)) -> None:
    """Stop for good: nothing more is sent; what was not sent is recorded as skipped."""
    from herald.campaigns.control import cancel_campaign

    with store_session() as store:
        _echo(cancel_campaign(load_settings(), store, name))


@campaign_app.command("status")
def campaign_status(name: str = typer.Argument(...), as_json: bool = _JSON) -> None:
    """Launches, runs (live send-log counts) and results per variant (from the
    communications mart as of its last build)."""
    from herald.campaigns.control import campaign_status as status_of

    with store_session() as store:
        status = status_of(load_settings(), store, name)
    if as_json:
        _echo(status)
        return
    typer.echo(f"{status['name']} ({status['kind']}): {status['state']}")
    if status.get("next_launch_at"):
        typer.echo(f"  next launch {status['next_launch_at']}")
    for launched in status["launches"]:
        typer.echo(
            f"  launch {launched['id']}: {launched['state']}, {launched['recipients']} recipients"
        )
        winner = launched["plan"].get("winner")
        if winner:
            typer.echo(f"    winner {winner['variant']} by {winner['metric']}: {winner['rates']}")
        for run in launched["runs"]:
            role = " (observers)" if run["observer"] else " (winner)" if run["winner"] else ""
            counts = ", ".join(f"{k} {v}" for k, v in sorted(run["send_log"].items())) or "-"
            typer.echo(
                f"    {run['variant']}{role} {run['id']}: {run['state']}, "
                f"{run['enqueued']}/{run['recipients']} queued; {counts}"
            )
        for variant, result in launched["variants"].items():
            typer.echo(
                f"    {variant}: sent {result['sent']}, opened {result['opened']}, "
                f"clicked {result['clicked']}, conversions {result['conversions']}"
            )


@campaign_app.command("list")
def campaign_list(as_json: bool = _JSON) -> None:
    from herald.campaigns.catalog import list_campaigns

    with store_session() as store:
        campaigns = [c.public() for c in list_campaigns(store)]
    if as_json:
        _echo(campaigns)
        return
    for campaign in campaigns:
        typer.echo(f"{campaign['name']}\t{campaign['kind']}\t{campaign['state']}")


@campaign_app.command("calendar")
def campaign_calendar(
    start: str | None = typer.Option(None, "--from", help="A date (default: 7 days ago)."),
    end: str | None = typer.Option(None, "--to", help="A date (default: 30 days ahead)."),
    as_json: bool = _JSON,
) -> None:
    """Scheduled and past launches in a period."""
    from herald.campaigns.catalog import calendar

    now = datetime.now(UTC)
    since = _date(start) if start else now - timedelta(days=7)
    until = _date(end) if end else now + timedelta(days=30)
    with store_session() as store:
        entries = calendar(store, since, until)
    if as_json:
        _echo(entries)
        return
    for entry in entries:
        typer.echo(f"{entry['at']}\t{entry['campaign']}\t{entry['kind']}\t{entry['status']}")


def _date(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (2026-12-01)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@campaign_app.command("tick")
def campaign_tick() -> None:
    """One pass of the scheduler (what `herald serve scheduler` does every 15 s)."""
    with store_session() as store:
        _echo(_scheduler().tick(load_settings(), store).public())


@limits_app.command("set")
def limits_set(
    scope: str = typer.Argument(..., help="domain:<sending domain> or campaign:<name>."),
    per_hour: int | None = typer.Option(None, "--per-hour", min=1),
    per_day: int | None = typer.Option(None, "--per-day", min=1),
    warmup_start: int | None = typer.Option(None, "--warmup-start", min=1),
    warmup_factor: float | None = typer.Option(None, "--warmup-factor", min=1.01, max=10),
    warmup_cap: int | None = typer.Option(None, "--warmup-cap", min=1),
) -> None:
    """Limit a sending domain or a campaign; a warm-up ramp starts today."""
    from herald.campaigns.quotas import set_limit

    if not scope.startswith(("domain:", "campaign:")):
        raise typer.BadParameter("a scope is domain:<sending domain> or campaign:<name>")
    ramp = (warmup_start, warmup_factor, warmup_cap)
    if any(ramp) and not all(ramp):
        raise typer.BadParameter("a warm-up needs --warmup-start, --warmup-factor and --warmup-cap")
    with store_session() as store:
        rule = set_limit(
            store,
            scope,
            per_hour=per_hour,
            per_day=per_day,
            warmup_start=warmup_start,
            warmup_factor=warmup_factor,
            warmup_cap=warmup_cap,
        )
    _echo(rule.public())


@limits_app.command("list")
def limits_list() -> None:
    from herald.campaigns.quotas import list_limits, used

    with store_session() as store:
        _echo([{**rule.public(), "used": used(store, rule.scope)} for rule in list_limits(store)])


@limits_app.command("remove")
def limits_remove(scope: str = typer.Argument(...)) -> None:
    from herald.campaigns.quotas import remove_limit

    with store_session() as store:
        _echo({"scope": scope, "removed": remove_limit(store, scope)})


@serve_app.command("scheduler")
def serve_scheduler(
    interval: float = typer.Option(15.0, "--interval", min=1, help="Seconds between ticks."),
) -> None:
    """Run the campaign scheduler: launches, limits and warm-up, A/B/n winners, triggers."""
    _scheduler().serve_scheduler(load_settings(), interval=interval)
