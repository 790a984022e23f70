"""One settings object for every Herald process, from HERALD_* variables and herald.toml.

Precedence: environment variables, then `herald.toml` in the working directory (or the file
named by HERALD_CONFIG), then defaults. Every URL is checked when it is read, so a wrong value
fails with one line naming the setting.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from herald.errors import SettingsError

EngineName = Literal["duckdb", "chdb", "clickhouse"]


@dataclass(frozen=True)
class WarehouseURL:
    """A parsed HERALD_WAREHOUSE value."""

    engine: EngineName
    path: Path | None = None
    host: str = ""
    port: int = 8123
    user: str = "default"
    password: str = ""
    database: str = "herald"
    secure: bool = False

    @classmethod
    def parse(cls, url: str, home: Path) -> WarehouseURL:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme in ("duckdb", "chdb"):
            raw_path = unquote(url.split("://", 1)[1]) if "://" in url else ""
            if not raw_path or raw_path == "/":
                raise SettingsError("HERALD_WAREHOUSE", f"{scheme} URL has no path: {url!r}")
            # duckdb:///abs/path and duckdb://relative/path are both accepted.
            path = Path(raw_path) if raw_path.startswith("/") else home / raw_path
            if scheme == "duckdb":
                return cls(engine="duckdb", path=path, database="main")
            return cls(engine="chdb", path=path, database="herald")
        if scheme in ("clickhouse", "clickhouses"):
            if not parts.hostname:
                raise SettingsError("HERALD_WAREHOUSE", f"ClickHouse URL has no host: {url!r}")
            secure = scheme == "clickhouses"
            try:
                port = parts.port or (8443 if secure else 8123)
            except ValueError as exc:
                raise SettingsError("HERALD_WAREHOUSE", f"bad port in {url!r}") from exc
            database = parts.path.strip("/") or "herald"
            return cls(
                engine="clickhouse",
                host=parts.hostname,
                port=port,
                user=unquote(parts.username or "default"),
                password=unquote(parts.password or ""),
                database=database,
                secure=secure,
            )
        raise SettingsError(
            "HERALD_WAREHOUSE",
            f"unknown engine {scheme or url!r}; use duckdb:///path, chdb:///path "
            "or clickhouse://user:password@host:8123/database",
        )

    def display(self) -> str:
        """The URL without its password, for logs and messages."""
        if self.engine == "clickhouse":
            scheme = "clickhouses" if self.secure else "clickhouse"
            return f"{scheme}://{self.user}@{self.host}:{self.port}/{self.database}"
        return f"{self.engine}://{self.path}"


class Settings(BaseSettings):
    """Herald's configuration. Field `x` is read from HERALD_X or `x = ...` in herald.toml."""

    model_config = SettingsConfigDict(
        env_prefix="HERALD_", extra="ignore", toml_file="herald.toml", frozen=True
    )

    home: Path = Path("var")
    warehouse: str = ""
    database: str = ""
    broker: str = "amqp://guest:guest@127.0.0.1:5672/"
    events_queue: str = "events"  # what the tracker publishes and the loader consumes
    pool_limit: int = 1
    language: str = "en"  # of what Herald tells a person: en or ru (herald.i18n)
    max_import_mb: int = 4096  # a bigger file is refused whole: split it or use a SQL source
    # Signs the web UI's session cookies; empty: a random key kept in HERALD_HOME/ui-secret
    # (made once, mode 0600). Set it the same on every host of one web UI.
    ui_secret: str = ""
    # The Dagster UI the web UI's reports link to (<dagster_ui_url>/assets/<mart>).
    dagster_ui_url: str = "http://127.0.0.1:3000"
    # Tracking tokens: `id:secret[,id:secret...]`, the first signs, all verify (herald.tokens);
    # empty: a random key kept in HERALD_HOME/tracking-keys. Set it the same on the sender's
    # and the tracker's hosts.
    tracking_keys: str = ""
    # The tracker's public address, which links in messages and the web snippet point to.
    tracking_url: str = "http://127.0.0.1:8090"
    # Where the tracker keeps events while RabbitMQ is unreachable (default HERALD_HOME/spool).
    tracking_spool: Path | None = None
    # The sender (senders/): the name it greets SMTP servers with (default: this host's
    # FQDN), SMTP connections per destination and worker, whether TLS certificates of SMTP
    # servers are verified (MX hosts often have none that verify: off by default, as MTAs do).
    sends_queue: str = "sends"  # the sender's queues: sends, sends.priority, sends.dead, ...
    sender_helo: str = ""
    sender_connections: int = 8
    sender_verify_tls: bool = False
    # A message another worker holds (it is sending it, or died doing so) is looked at
    # again after this many seconds.
    sender_busy_retry_seconds: int = 15
    # Where asynchronous bounces and complaints arrive (`herald bounces process`):
    # maildir:/path, imap[s]://user:password@host/folder or pop3[s]://...
    bounce_mailbox: str = ""
    # Telegram Bot API: the bot's token and the API's address (tests point it elsewhere).
    telegram_bot_token: str = ""
    telegram_api_url: str = "https://api.telegram.org"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("HERALD_CONFIG", "herald.toml"))
        toml = TomlConfigSettingsSource(settings_cls, toml_file=toml_path)
        return (init_settings, env_settings, toml)

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("language")
    @classmethod
    def _check_language(cls, value: str) -> str:
        from herald.i18n import LANGUAGES

        if value not in LANGUAGES:
            raise ValueError(f"use one of {', '.join(LANGUAGES)}")
        return value

    @field_validator("database")
    @classmethod
    def _check_database(cls, value: str) -> str:
        if value and not value.startswith(("sqlite:", "postgresql")):
            raise ValueError("use sqlite:///path or postgresql+psycopg://user@host:5432/db")
        return value

    @field_validator("broker")
    @classmethod
    def _check_broker(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("amqp", "amqps") or not parts.hostname:
            raise ValueError("use amqp://user:password@host:5672/vhost")
        return value

    @cached_property
    def warehouse_url(self) -> WarehouseURL:
        url = self.warehouse or f"duckdb://{self.home / 'warehouse.duckdb'}"
        return WarehouseURL.parse(url, self.home)

    @property
    def database_url(self) -> str:
        return self.database or f"sqlite:///{self.home / 'herald.sqlite'}"

    @property
    def landing_dir(self) -> Path:
        return self.home / "landing"

    @property
    def exports_dir(self) -> Path:
        return self.home / "exports"

    @property
    def spool_dir(self) -> Path:
        return self.tracking_spool or self.home / "spool"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning any problem into one SettingsError naming the setting."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "settings"
        message = error["msg"].removeprefix("Value error, ")
        raise SettingsError(f"HERALD_{field.upper()}", message) from None
    except (tomllib.TOMLDecodeError, OSError) as exc:
        raise SettingsError("herald.toml", str(exc)) from None
    settings.warehouse_url  # noqa: B018 - parse now so a bad URL fails here
    return settings
