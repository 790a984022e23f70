"""`herald source ...` (tracking sources and their write keys) and `herald serve tracking|loader`.

    herald source create web --db customers [--user-id-field F] [--anonymous-id-field F]
    herald source list
    herald source rotate-key web
    herald source disable web
    herald serve tracking [--host 127.0.0.1] [--port 8090] [--workers 2]
    herald serve loader [--until-idle SECONDS] [--processes N]

`source create` and `rotate-key` print the write key alone on standard output (once: only its
hash is kept); everything else goes to standard error.
"""

from __future__ import annotations

import contextlib
import importlib
import json
from collections.abc import Iterator

import typer
from sqlalchemy import Engine

from herald.cli_users import serve_app
from herald.errors import HeraldError
from herald.settings import load_settings

source_app = typer.Typer(
    help="Tracking sources: websites, apps and servers that send events, with write keys.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@contextlib.contextmanager
def store_session() -> Iterator[Engine]:
    """The migrated operational store for one command; a HeraldError inside becomes one
    `error: ...` line and exit status 1."""
    from herald.store.engine import create_store_engine
    from herald.store.migrate import migrate

    url = load_settings().database_url
    migrate(url)
    engine = create_store_engine(url)
    try:
        yield engine
    except HeraldError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


@source_app.command("create")
def create(
    name: str = typer.Argument(..., help="Name of the source: lowercase letters, digits, _."),
    db: str = typer.Option(..., "--db", help="The profile database its identify calls go to."),
    user_id_field: str | None = typer.Option(
        None, help="The identifier field a userId fills (default: user_id or external_id)."
    ),
    anonymous_id_field: str | None = typer.Option(
        None,
        help="The identifier field an anonymousId fills "
        "(default: anonymous_id or custom:anonymous_id).",
    ),
) -> None:
    """Create a source and print its write key (shown only this once)."""
    from herald.tracking_sources import create_source

    with store_session() as store:
        created = create_source(
            store,
            name,
            database=db,
            user_id_field=user_id_field,
            anonymous_id_field=anonymous_id_field,
        )
    source = created.source
    typer.echo(
        f"source {source.name} created for database {source.database} "
        f"(userId -> {source.user_id_field or 'nothing'}, "
        f"anonymousId -> {source.anonymous_id_field or 'nothing'}); its write key:",
        err=True,
    )
    typer.echo(created.write_key)


@source_app.command("list")
def list_command(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the sources (keys are not shown: only their first characters)."""
    from herald.tracking_sources import list_sources

    with store_session() as store:
        sources = list_sources(store)
    rows = [
        {
            "name": source.name,
            "database": source.database,
            "key": source.key_prefix + "…",
            "user_id_field": source.user_id_field,
            "anonymous_id_field": source.anonymous_id_field,
            "disabled": source.disabled,
            "created_at": source.created_at.isoformat(),
        }
        for source in sources
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        state = "disabled" if row["disabled"] else "enabled"
        typer.echo(f"{row['name']:<20} {row['database']:<20} {row['key']:<14} {state}")


@source_app.command("rotate-key")
def rotate(name: str = typer.Argument(..., help="The source.")) -> None:
    """Give the source a new write key (printed once); the old key stops working."""
    from herald.tracking_sources import rotate_key

    with store_session() as store:
        key = rotate_key(store, name)
    typer.echo(f"new write key of {name} (the old one no longer works; trackers notice "
               "within a minute):", err=True)  # fmt: skip
    typer.echo(key)


@source_app.command("disable")
def disable(name: str = typer.Argument(..., help="The source.")) -> None:
    """Refuse the source's write key from now on (trackers notice within a minute)."""
    from herald.tracking_sources import disable_source

    with store_session() as store:
        disable_source(store, name)
    typer.echo(f"disabled {name}", err=True)


@serve_app.command("tracking")
def serve_tracking(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 for all)."),
    port: int = typer.Option(8090, min=1, max=65535, help="Port to listen on."),
    workers: int = typer.Option(2, min=1, max=64, help="Worker processes."),
) -> None:
    """Serve the tracking service: Segment API, pixel, clicks, unsubscribe, web snippet."""
    # The service is loaded by name at call time: the kernel does not import services.
    importlib.import_module("tracking.server").serve_tracking(host=host, port=port, workers=workers)


@serve_app.command("loader")
def serve_loader(
    until_idle: float | None = typer.Option(
        None, help="Stop once the queue has been empty this many seconds (default: never)."
    ),
    batch_events: int = typer.Option(50_000, min=1, help="Events per landing file at most."),
    batch_seconds: float = typer.Option(
        5.0, min=0.1, help="Seconds a batch gathers events before its files are written."
    ),
    processes: int = typer.Option(
        1, min=1, max=64, help="Consumer processes sharing the queue (one per core helps)."
    ),
) -> None:
    """Move tracked events from RabbitMQ into landing files, until Ctrl-C."""
    importlib.import_module("tracking.server").serve_loader(
        until_idle=until_idle,
        batch_events=batch_events,
        batch_seconds=batch_seconds,
        processes=processes,
    )
