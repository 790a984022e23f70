"""`herald user ...` (the web UI's users) and `herald serve ui|api` (the HTTP services).

    herald user create anna --role admin [--language ru] [--password-stdin]
    herald user list
    herald user disable anna
    herald user password anna
    herald serve ui [--host 127.0.0.1] [--port 8000]
    herald serve api [--host 127.0.0.1] [--port 8080]

Passwords are read from a hidden prompt (typed twice) or, with `--password-stdin`, from the
first line of standard input; never from the command line, where `ps` would show them.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Iterator
from datetime import datetime

import typer
from sqlalchemy import Engine

from herald.errors import HeraldError
from herald.i18n import N_
from herald.settings import load_settings

user_app = typer.Typer(
    help="Users of the web UI: create, list, disable, change a password.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
serve_app = typer.Typer(
    help="Serve Herald's HTTP services: the web UI or the API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_PASSWORD_STDIN = typer.Option(
    False, "--password-stdin", help="Read the password from the first line of standard input."
)


@contextlib.contextmanager
def _store() -> Iterator[Engine]:
    from herald.store.engine import create_store_engine
    from herald.store.migrate import migrate

    settings = load_settings()
    migrate(settings.database_url)
    engine = create_store_engine(settings.database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise HeraldError(N_("no password given"))
    return password


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else "-"


@user_app.command("create")
def create(
    username: str = typer.Argument(..., help="The login name."),
    role: str = typer.Option(..., help="admin, marketer, analyst or viewer."),
    language: str = typer.Option("en", help="Language of the web UI for this user: en or ru."),
    password_stdin: bool = _PASSWORD_STDIN,
) -> None:
    """Create a user of the web UI (the first one is usually an admin)."""
    from herald.users import check_language, check_role, check_username, create_user

    check_username(username)
    check_role(role)
    check_language(language)
    password = _read_password(password_stdin)
    with _store() as store:
        user = create_user(store, username, password, role=role, language=language)
    typer.echo(f"created user {user.username} ({user.role}, {user.language})")


@user_app.command("list")
def list_command() -> None:
    """Every user: name, role, language, created, last login, disabled."""
    from herald.users import list_users

    with _store() as store:
        users = list_users(store)
    typer.echo(
        f"{'username':<24} {'role':<9} {'lang':<4} {'created':<16} {'last login':<16} status"
    )
    for user in users:
        status = f"disabled {_when(user.disabled_at)}" if user.disabled_at else "active"
        typer.echo(
            f"{user.username:<24} {user.role:<9} {user.language:<4} {_when(user.created_at):<16} "
            f"{_when(user.last_login_at):<16} {status}"
        )


@user_app.command("disable")
def disable_command(username: str = typer.Argument(..., help="The login name.")) -> None:
    """Stop a user from logging in (their open sessions end at their next request)."""
    from herald.users import disable

    with _store() as store:
        user = disable(store, username)
    typer.echo(f"disabled user {user.username}")


@user_app.command("password")
def password_command(
    username: str = typer.Argument(..., help="The login name."),
    password_stdin: bool = _PASSWORD_STDIN,
) -> None:
    """Set a user's password."""
    from herald.users import get_user, set_password

    with _store() as store:
        get_user(store, username)  # an unknown user fails before the prompt
        password = _read_password(password_stdin)
        set_password(store, username, password)
    typer.echo(f"changed the password of {username}")


@serve_app.command("ui")
def serve_ui(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 for all)."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
) -> None:
    """Serve the marketer web UI (ui/web) with uvicorn."""
    # The service is loaded by name at call time: the kernel does not import services.
    importlib.import_module("ui.web.cli").serve_ui_command(host=host, port=port)


@serve_app.command("api")
def serve_api(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 for all)."),
    port: int = typer.Option(8080, min=1, max=65535, help="Port to listen on."),
) -> None:
    """Serve the HTTP API (the same as `herald serve-api`)."""
    importlib.import_module("ui.cli").serve_api_command(host=host, port=port)
