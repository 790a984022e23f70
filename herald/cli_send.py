"""`herald send ...`, `herald queue ...`, `herald suppression ...`, `herald dkim ...` and
`herald serve sender`: sending from the command line.

    herald serve sender --workers 2
    herald send test --template welcome.yml --to me@shop.example
    herald send launch --template news.yml --segment vip --db shop --name "November news"
    herald queue status [RUN] [--json]
    herald queue pause|resume|cancel|retry RUN
    herald queue throttle RUN --per-second 50        (--off to lift it)
    herald suppression add anna@example.com --reason "asked by phone"
    herald dkim generate shop.example h2026 --algorithm ed25519

The sender's own code (senders/) is loaded by name when a command needs it: the kernel does
not import services.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import typer

from herald.cli_tracking import store_session
from herald.cli_users import serve_app
from herald.errors import HeraldError
from herald.settings import load_settings

send_app = typer.Typer(
    help="Send messages: a test to one address, or a run to an audience.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
queue_app = typer.Typer(
    help="The sending queue: runs, depths, pause, resume, cancel, retry, throttle.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
suppression_app = typer.Typer(
    help="Suppressed addresses (stop-list, hard bounces, complaints): never sent to.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bounces_app = typer.Typer(
    help="The bounce mailbox: asynchronous bounces (DSNs) and complaints (ARF) applied.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
dkim_app = typer.Typer(
    help="DKIM keys of the sending domains (HERALD_HOME/dkim/<domain>/<selector>.pem).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _echo(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _service(name: str) -> Any:
    return importlib.import_module(name)


_TEMPLATE = typer.Option(..., "--template", help="The message file (YAML): parts and options.")
_DB = typer.Option(None, "--db", help="The profile database (consent and tracking use it).")


@serve_app.command("sender")
def serve_sender(
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes on this host."),
) -> None:
    """Run sender workers: they take chunks from RabbitMQ's `sends` and deliver them."""
    _service("senders.server").serve_sender(workers=workers)


@send_app.command("test")
def send_test(
    template: Path = _TEMPLATE,
    to: str = typer.Option(..., "--to", help="The address (e-mail, chat id, ...)."),
    field: list[str] = typer.Option(
        [], "--field", help="A personalisation field, name=value (repeatable)."
    ),
    db: str | None = _DB,
) -> None:
    """Send one message now through the whole pipeline (consent, send log, signing,
    provider, events) and print its outcome."""
    commands = _service("senders.commands")
    fields = dict(item.split("=", 1) for item in field if "=" in item)
    with store_session() as store:
        spec, channel = commands.read_message_file(template)
        outcome = commands.send_test(
            load_settings(), store, spec, channel, to=to, fields=fields, database=db
        )
    _echo(outcome)
    if outcome.get("state") != "sent":
        raise typer.Exit(1)


@send_app.command("launch")
def send_launch(
    template: Path = _TEMPLATE,
    name: str = typer.Option(..., "--name", help="What the run is called."),
    segment: str | None = typer.Option(None, "--segment", help="Send to this segment."),
    snapshot: Path | None = typer.Option(
        None, "--snapshot", help="Or to the recipients of this Parquet file."
    ),
    db: str | None = _DB,
    transactional: bool = typer.Option(False, "--transactional", help="Use the priority lane."),
) -> None:
    """Freeze the audience as the run's snapshot and enqueue it for the sender workers."""
    commands = _service("senders.commands")
    with store_session() as store:
        spec, channel = commands.read_message_file(template)
        run, launched = commands.launch_run(
            load_settings(),
            store,
            spec,
            channel,
            name=name,
            database=db,
            segment=segment,
            snapshot=snapshot,
            kind="transactional" if transactional else "campaign",
        )
    _echo({"run": run.public(), "launch": launched})


@queue_app.command("status")
def queue_status(
    run: str | None = typer.Argument(None, help="One run (default: the latest runs)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Runs with their outcomes so far, queue depths and results per destination."""
    from herald.sending.admin import queue_status as status

    with store_session() as store:
        found = status(load_settings(), store, run)
    if as_json:
        _echo(found)
        return
    for item in found["runs"]:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(item["counts"].items())) or "-"
        typer.echo(
            f"{item['id']}  {item['state']:<9} {item['name']!r}: enqueued {item['enqueued']}"
            f"/{item['recipients']}, waiting {item['waiting']}; {counts}"
        )
    depths = found["queues"]
    if depths is None:
        typer.echo("queues: RabbitMQ does not answer")
    else:
        typer.echo(
            "queues: " + ", ".join(f"{k} {v if v is not None else '-'}" for k, v in depths.items())
        )
    for destination, counts in sorted(found["destinations"].items()):
        typer.echo(f"  {destination}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


def _admin(action: str, run: str, **extra: Any) -> None:
    from herald.sending import admin

    with store_session() as store:
        _echo(getattr(admin, action)(load_settings(), store, run, **extra))


@queue_app.command("pause")
def queue_pause(run: str = typer.Argument(..., help="The run.")) -> None:
    """Pause a run: workers hold its chunks until it is resumed."""
    _admin("pause_run", run)


@queue_app.command("resume")
def queue_resume(run: str = typer.Argument(..., help="The run.")) -> None:
    """Resume a paused run: its held chunks go back to the queue."""
    _admin("resume_run", run)


@queue_app.command("cancel")
def queue_cancel(run: str = typer.Argument(..., help="The run.")) -> None:
    """Cancel a run: what it has not sent is recorded as skipped."""
    _admin("cancel_run", run)


@queue_app.command("retry")
def queue_retry(run: str = typer.Argument(..., help="The run.")) -> None:
    """Send a run's failed messages again (not its bounces or skipped ones)."""
    _admin("retry_failed", run)


@queue_app.command("throttle")
def queue_throttle(
    run: str = typer.Argument(..., help="The run."),
    per_second: int | None = typer.Option(None, "--per-second", min=1, help="At most this fast."),
    off: bool = typer.Option(False, "--off", help="Lift the run's throttle."),
) -> None:
    """Send a run at most N messages per second (across workers), from now on."""
    from herald.sending.runs import set_throttle

    if per_second is None and not off:
        typer.echo("error: give --per-second N or --off", err=True)
        raise typer.Exit(2)
    with store_session() as store:
        _echo(set_throttle(store, run, None if off else per_second).public())


@suppression_app.command("add")
def suppression_add(
    address: str = typer.Argument(..., help="The address."),
    channel: str = typer.Option("email", "--channel", help="The channel."),
    reason: str = typer.Option("stop-list", "--reason", help="Why."),
) -> None:
    """Never send to this address on this channel."""
    from herald.sending.suppression import suppress_address

    with store_session() as store:
        added = suppress_address(store, channel, address, reason=reason, source="stop_list")
    _echo({"address": address, "channel": channel, "added": added})


@suppression_app.command("remove")
def suppression_remove(
    address: str = typer.Argument(..., help="The address."),
    channel: str = typer.Option("email", "--channel", help="The channel."),
) -> None:
    """Allow this address again."""
    from herald.sending.suppression import unsuppress_address

    with store_session() as store:
        removed = unsuppress_address(store, channel, address)
    _echo({"address": address, "channel": channel, "removed": removed})


@suppression_app.command("list")
def suppression_list(
    channel: str | None = typer.Option(None, "--channel", help="Only this channel."),
    limit: int = typer.Option(100, "--limit", min=1),
) -> None:
    """Suppressed addresses, newest first."""
    from herald.sending.suppression import suppressed_addresses

    with store_session() as store:
        _echo(suppressed_addresses(store, channel, limit))


@bounces_app.command("process")
def bounces_process(
    mailbox: str | None = typer.Option(
        None,
        "--mailbox",
        help="maildir:/path, imap[s]://user:pass@host/folder or pop3[s]://... "
        "(default HERALD_BOUNCE_MAILBOX).",
    ),
    limit: int = typer.Option(500, "--limit", min=1, help="At most this many mails per pass."),
) -> None:
    """Read the bounce mailbox once: bounces and complaints update the send log, suppress
    addresses and become events; processed mails are removed, others stay."""
    settings = load_settings()
    url = mailbox or settings.bounce_mailbox
    if not url:
        typer.echo("error: give --mailbox or set HERALD_BOUNCE_MAILBOX", err=True)
        raise typer.Exit(2)
    feedback = _service("senders.feedback")
    with store_session() as store:
        _echo(feedback.process_mailbox(settings, store, url, limit=limit))


@dkim_app.command("generate")
def dkim_generate(
    domain: str = typer.Argument(..., help="The sending domain (the From address's)."),
    selector: str = typer.Argument(..., help="The selector, e.g. h2026."),
    algorithm: str = typer.Option("rsa", "--algorithm", help="rsa or ed25519."),
    bits: int = typer.Option(2048, "--bits", help="RSA key size."),
) -> None:
    """Make a DKIM key for a domain and print the DNS TXT record to publish."""
    dkim = _service("senders.dkim")
    settings = load_settings()
    try:
        info = dkim.generate_dkim_key(
            settings.home / "dkim", domain, selector, algorithm=algorithm, bits=bits
        )
    except HeraldError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    _echo({"path": str(info.path), "dns_name": info.dns_name, "dns_value": info.dns_value})
