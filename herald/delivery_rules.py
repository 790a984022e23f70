"""Per-provider delivery rules: who a recipient's mailbox provider is, how fast and over how
many connections to send to it, how to retry it, and which way the mail leaves.

    rules = load_rules(rules_path(settings))          # built-in defaults when the file is missing
    rule = rules.provider_for("Gmail.com", mx_hosts=None)
    rule.group, rule.max_connections, rule.per_second  # "gmail", 5, 50.0
    rule.retry.delay(attempt=1, first_attempt_at=t0, now=t0)   # 300.0 (5 minutes)
    rules.provider_for("corp.example", ["aspmx.l.google.com"]).group   # "gmail" (MX rollup)
    rules.provider_for("shop.example", ["mx.shop.example"]).group      # "domain:shop.example"

The file is `<HERALD_HOME>/delivery-rules.yml`; the sender service and the web API read it
(`PUT /api/v1/delivery-rules` writes it). It is merged over the built-in rules below
(mappings merge key by key, lists replace), unless it says `include_builtin: false`:

    defaults:                    # every provider's values unless it gives its own
      max_connections: 10        # open SMTP connections per destination group
      messages_per_connection: 100
      per_second: null           # null: unlimited
      per_hour: null
      retry: {first: 5m, factor: 2, max_delay: 4h, max_age: 4d}   # 30s, 5m, 2h, 4d or seconds
    providers:
      gmail: {per_second: 20}    # only the limit changes; domains and mx stay built-in
      corp:  {domains: [corp.example], mx: ["*.corp.example"], max_connections: 2,
              retry: {first: 1m}}   # a provider's retry replaces only the fields it gives
    routes:                      # how mail leaves: straight to the MX, or through a smart host
      default: {mode: mx}
      corp: {mode: smarthost, host: smtp.corp.example, port: 587, tls: starttls,
             username: herald, password_env: HERALD_SMTP_PASSWORD}
    mx_overrides:                # domain -> host:port, skipping DNS (tests, private routing)
      example.test: "127.0.0.1:2525"

A recipient's provider is found by its domain (exact, case-insensitive, IDNA form), then by
its MX hosts (shell patterns over the lower-case names, so a company on Google Workspace
counts as gmail), else it is the `default` provider with the group `domain:<domain>`: an
unknown domain is limited on its own, never lumped together with others. The group names
the queue depth and the limits a destination shares.

Retries follow RFC 5321 §4.5.4.1 (a sender retries a deferred message, spacing attempts,
and gives up after at least 4-5 days): exponential backoff starting at 5 minutes (most
greylisting lets a retry through after 1-5 minutes), doubling up to one try every 4 hours
(the RFC's 30 minutes is a floor for a queue run, met from the third retry on), and a bounce
after 4 days. A retry's last attempt falls at the max age exactly.

Built-in limits are conservative starting points for a warmed-up IP; providers publish no
numbers but throttle with 4xx replies (Gmail 421-4.7.28, Outlook 451 4.7.500, Yahoo 421
4.7.0 [TS..], Mail.ru 421 ratelimit), which the pipeline turns into deferrals:

- gmail: 5 connections, 50/s, 100,000/h: Google's bulk-sender guidelines ask for a
  gradual, even volume; more connections do not raise Gmail's per-IP rate.
- outlook: 5 connections, 20/s: Outlook.com throttles new or busy IPs hardest.
- yahoo (with AOL, one MX system): 5 connections, 20/s: Yahoo defers bursts per IP ([TS]).
- yandex, mailru: 5 connections, 20/s: both rate-limit per IP and per connection.
- icloud, gmx (with web.de), rambler: 3 connections, 10/s: smaller systems, strict on bursts.
- default (any other domain): 10 connections per domain, 100 messages per connection,
  unlimited rate: a single company server should not see more than a few connections.
"""

from __future__ import annotations

import contextlib
import copy
import fnmatch
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from herald.errors import HeraldError

if TYPE_CHECKING:
    from herald.settings import Settings

RULES_FILE = "delivery-rules.yml"
DEFAULT_PROVIDER = "default"
MAX_RULES_BYTES = 1024 * 1024
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PROVIDER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_GROUP_CACHE_LIMIT = 50_000


class DeliveryRulesError(HeraldError):
    """A rules file that is not YAML, or whose values are wrong: every problem, with its line."""

    def __init__(self, problems: list[str], line: int | None = None, field: str | None = None):
        self.problems = problems
        self.line = line
        self.field = field
        super().__init__("; ".join(problems))


# ---------------------------------------------------------------------------------------------
# Durations


def parse_duration(value: object) -> float:
    """Seconds from `30s`, `5m`, `2h`, `4d`, `1w`, or a number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f"a duration is 30s, 5m, 2h, 4d or seconds, not {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value.lower())):
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise ValueError(f"a duration is 30s, 5m, 2h, 4d or seconds, not {value!r}")
    if seconds <= 0:
        raise ValueError(f"a duration must be above zero, not {value!r}")
    return seconds


def format_duration(seconds: float) -> str | float:
    """The shortest exact form: 4d, 2h, 5m, 30s (or the number of seconds)."""
    for unit in ("d", "h", "m", "s"):
        count = seconds / _UNITS[unit]
        if count >= 1 and count == int(count):
            return f"{int(count)}{unit}"
    return seconds


Duration = Annotated[
    float, BeforeValidator(parse_duration), PlainSerializer(format_duration, when_used="json")
]


# ---------------------------------------------------------------------------------------------
# The file's models


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetryConfig(_Strict):
    first: Duration = 300.0
    factor: float = Field(default=2.0, ge=1, le=10)
    max_delay: Duration = 4 * 3600.0
    max_age: Duration = 4 * 86400.0

    @model_validator(mode="after")
    def _ordered(self) -> RetryConfig:
        if self.first > self.max_delay:
            raise ValueError("first must not be longer than max_delay")
        if self.max_delay > self.max_age:
            raise ValueError("max_delay must not be longer than max_age")
        return self


class RetryOverride(_Strict):
    """A provider's retry: the fields it gives replace the default retry's."""

    first: Duration | None = None
    factor: float | None = Field(default=None, ge=1, le=10)
    max_delay: Duration | None = None
    max_age: Duration | None = None


class LimitsConfig(_Strict):
    max_connections: int = Field(default=10, ge=1, le=1000)
    messages_per_connection: int = Field(default=100, ge=1, le=100_000)
    per_second: float | None = Field(default=None, gt=0)
    per_hour: float | None = Field(default=None, gt=0)
    retry: RetryConfig = RetryConfig()


class ProviderConfig(_Strict):
    """A provider: its domains and MX patterns, and the limits it sets apart from defaults.

    A limit left out is the default's; `per_second: null` (or per_hour) given explicitly
    means unlimited for this provider.
    """

    domains: list[str] = Field(default_factory=list, max_length=10_000)
    mx: list[str] = Field(default_factory=list, max_length=1000)
    max_connections: int | None = Field(default=None, ge=1, le=1000)
    messages_per_connection: int | None = Field(default=None, ge=1, le=100_000)
    per_second: float | None = Field(default=None, gt=0)
    per_hour: float | None = Field(default=None, gt=0)
    retry: RetryOverride | None = None

    @field_validator("domains")
    @classmethod
    def _domains(cls, values: list[str]) -> list[str]:
        return [_checked_domain(value) for value in values]

    @field_validator("mx")
    @classmethod
    def _patterns(cls, values: list[str]) -> list[str]:
        patterns = [value.strip().lower().rstrip(".") for value in values]
        for pattern in patterns:
            if not pattern or any(char.isspace() for char in pattern):
                raise ValueError(f"an MX pattern is a host name or *.domain, not {pattern!r}")
        return patterns


class Route(_Strict):
    """How mail leaves: `mx` (straight to the recipient's MX) or `smarthost` (a relay)."""

    mode: Literal["mx", "smarthost"] = "mx"
    host: str | None = Field(default=None, min_length=1, max_length=253)
    port: int = Field(default=25, ge=1, le=65535)
    tls: Literal["none", "starttls", "opportunistic", "tls"] = "opportunistic"
    username: str | None = Field(default=None, max_length=500)
    password_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    timeout: Duration = 60.0

    @model_validator(mode="after")
    def _consistent(self) -> Route:
        if self.mode == "smarthost" and not self.host:
            raise ValueError("a smarthost route needs a host")
        if self.mode == "mx" and self.host:
            raise ValueError("an mx route takes no host (use mode: smarthost for a relay)")
        if self.password_env and not self.username:
            raise ValueError("password_env needs a username")
        return self

    def password(self) -> str | None:
        """The smart host's password, from the environment variable the route names."""
        return os.environ.get(self.password_env) if self.password_env else None


class RulesDocument(_Strict):
    include_builtin: bool = True
    defaults: LimitsConfig = LimitsConfig()
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    routes: dict[str, Route] = Field(default_factory=dict)
    mx_overrides: dict[str, str] = Field(default_factory=dict)

    @field_validator("providers")
    @classmethod
    def _provider_names(cls, providers: dict[str, ProviderConfig]) -> dict[str, ProviderConfig]:
        seen: dict[str, str] = {}
        for name, provider in providers.items():
            if name == DEFAULT_PROVIDER or not _PROVIDER_NAME.match(name):
                raise ValueError(
                    f"provider name {name!r}: use lower-case letters, digits, - and _ "
                    f"(and not {DEFAULT_PROVIDER!r})"
                )
            for domain in provider.domains:
                if domain in seen and seen[domain] != name:
                    raise ValueError(f"domain {domain} is in both {seen[domain]} and {name}")
                seen[domain] = name
        return providers

    @field_validator("mx_overrides")
    @classmethod
    def _overrides(cls, overrides: dict[str, str]) -> dict[str, str]:
        checked: dict[str, str] = {}
        for domain, target in overrides.items():
            split_host_port(target)
            checked[_checked_domain(domain)] = target.strip()
        return checked

    @field_validator("routes")
    @classmethod
    def _routes_name_providers(
        cls, routes: dict[str, Route], info: ValidationInfo
    ) -> dict[str, Route]:
        providers = info.data.get("providers") or {}
        for name in routes:
            if name != DEFAULT_PROVIDER and name not in providers:
                known = ", ".join(sorted(providers)) or "none"
                raise ValueError(f"no provider {name!r} (use default or one of: {known})")
        return routes


# ---------------------------------------------------------------------------------------------
# What the sender uses


def _no_jitter(delay: float) -> float:
    return delay


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """When to try a deferred message again: `first * factor**(attempt-1)`, capped."""

    first: float
    factor: float
    max_delay: float
    max_age: float
    jitter: Callable[[float], float] = _no_jitter

    def delay(self, attempt: int, first_attempt_at: float, now: float) -> float | None:
        """Seconds to wait before attempt `attempt + 1`, after `attempt` failed ones; None when
        the message is older than the max age (give up). The last wait ends at the max age."""
        if attempt < 1:
            raise ValueError(f"attempt counts from 1, not {attempt}")
        age = now - first_attempt_at
        if age >= self.max_age:
            return None
        exponent = min(attempt - 1, 64)
        wait = min(self.first * self.factor**exponent, self.max_delay)
        wait = max(0.0, self.jitter(wait))
        return min(wait, self.max_age - age)

    def with_jitter(self, jitter: Callable[[float], float]) -> RetrySchedule:
        return replace(self, jitter=jitter)


def proportional_jitter(
    fraction: float, random: Callable[[], float] | None = None
) -> Callable[[float], float]:
    """A jitter that moves a delay by up to ±fraction of it (spreads retries of a burst)."""
    import random as random_module

    draw = random or random_module.random

    def jitter(delay: float) -> float:
        return delay * (1 + fraction * (2 * draw() - 1))

    return jitter


@dataclass(frozen=True, slots=True)
class ProviderRule:
    """The resolved rules of one provider (or of one unknown domain, under `default`)."""

    name: str
    group: str
    max_connections: int
    messages_per_connection: int
    per_second: float | None
    per_hour: float | None
    retry: RetrySchedule
    route: Route
    domains: tuple[str, ...] = ()
    mx: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "group": self.group,
            "domains": list(self.domains),
            "mx": list(self.mx),
            "max_connections": self.max_connections,
            "messages_per_connection": self.messages_per_connection,
            "per_second": self.per_second,
            "per_hour": self.per_hour,
            "retry": {
                "first": format_duration(self.retry.first),
                "factor": self.retry.factor,
                "max_delay": format_duration(self.retry.max_delay),
                "max_age": format_duration(self.retry.max_age),
            },
            "route": self.route.model_dump(mode="json", exclude_none=True),
        }


@dataclass
class DeliveryRules:
    """The effective rules: the file merged over the built-ins, resolved per provider."""

    document: RulesDocument
    source: str
    providers: dict[str, ProviderRule]
    default: ProviderRule
    _by_domain: dict[str, ProviderRule] = field(default_factory=dict, repr=False)
    _mx_patterns: list[tuple[str, ProviderRule]] = field(default_factory=list, repr=False)
    _by_mx: dict[tuple[str, tuple[str, ...]], ProviderRule] = field(
        default_factory=dict, repr=False
    )

    def __post_init__(self) -> None:
        for rule in self.providers.values():
            for domain in rule.domains:
                self._by_domain[domain] = rule
            self._mx_patterns.extend((pattern, rule) for pattern in rule.mx)

    @property
    def mx_overrides(self) -> dict[str, str]:
        return self.document.mx_overrides

    def provider_for(self, domain: str, mx_hosts: list[str] | None = None) -> ProviderRule:
        """The provider of a recipient domain: by the domain, then by its MX hosts, else the
        default rules grouped under `domain:<domain>`."""
        name = normalize_domain(domain)
        found = self._by_domain.get(name)
        if found is not None:
            return found
        key = (name, tuple(mx_hosts or ()))
        found = self._by_mx.get(key)
        if found is None:
            found = self._by_mx_patterns(key[1]) or replace(self.default, group=f"domain:{name}")
            if len(self._by_mx) >= _GROUP_CACHE_LIMIT:
                self._by_mx.clear()
            self._by_mx[key] = found
        return found

    def _by_mx_patterns(self, mx_hosts: tuple[str, ...]) -> ProviderRule | None:
        for host in mx_hosts:
            host_name = host.lower().rstrip(".")
            for pattern, provider in self._mx_patterns:
                if fnmatch.fnmatchcase(host_name, pattern):
                    return provider
        return None

    def as_json(self) -> dict[str, Any]:
        """The effective rules, resolved per provider, and where they come from."""
        return {
            "source": self.source,
            "include_builtin": self.document.include_builtin,
            "defaults": self.document.defaults.model_dump(mode="json"),
            "default": self.default.as_json(),
            "providers": {name: rule.as_json() for name, rule in self.providers.items()},
            "mx_overrides": dict(self.document.mx_overrides),
        }


# ---------------------------------------------------------------------------------------------
# Built-in rules

_GMAIL = ["gmail.com", "googlemail.com"]
_YANDEX = ["yandex.ru", "ya.ru", "yandex.com", "yandex.by", "yandex.kz", "yandex.ua", "narod.ru"]
_MAILRU = ["mail.ru", "bk.ru", "inbox.ru", "list.ru", "internet.ru", "mail.ua"]
_OUTLOOK = [
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "hotmail.co.uk",
    "hotmail.fr",
    "hotmail.de",
    "hotmail.it",
    "live.ru",
    "outlook.de",
    "outlook.fr",
]
_YAHOO = [
    "yahoo.com",
    "ymail.com",
    "rocketmail.com",
    "yahoo.co.uk",
    "yahoo.fr",
    "yahoo.de",
    "yahoo.co.jp",
    "aol.com",
    "aim.com",
]

BUILTIN_RULES: dict[str, Any] = {
    "defaults": {
        "max_connections": 10,
        "messages_per_connection": 100,
        "per_second": None,
        "per_hour": None,
        "retry": {"first": "5m", "factor": 2, "max_delay": "4h", "max_age": "4d"},
    },
    "providers": {
        "gmail": {
            "domains": _GMAIL,
            "mx": ["*.google.com", "*.googlemail.com"],
            "max_connections": 5,
            "per_second": 50,
            "per_hour": 100_000,
        },
        "outlook": {
            "domains": _OUTLOOK,
            "mx": ["*.protection.outlook.com", "*.olc.protection.outlook.com"],
            "max_connections": 5,
            "per_second": 20,
        },
        "yahoo": {
            "domains": _YAHOO,
            "mx": ["*.yahoodns.net"],
            "max_connections": 5,
            "per_second": 20,
        },
        "yandex": {
            "domains": _YANDEX,
            "mx": ["*.yandex.net", "*.yandex.ru"],
            "max_connections": 5,
            "per_second": 20,
        },
        "mailru": {
            "domains": _MAILRU,
            "mx": ["*.mail.ru"],
            "max_connections": 5,
            "per_second": 20,
        },
        "icloud": {
            "domains": ["icloud.com", "me.com", "mac.com"],
            "mx": ["*.mail.icloud.com"],
            "max_connections": 3,
            "per_second": 10,
        },
        "gmx": {
            "domains": ["gmx.de", "gmx.net", "gmx.com", "gmx.at", "gmx.ch", "web.de"],
            "mx": ["*.gmx.net", "*.web.de"],
            "max_connections": 3,
            "per_second": 10,
        },
        "rambler": {
            "domains": ["rambler.ru", "lenta.ru", "autorambler.ru", "myrambler.ru", "ro.ru"],
            "mx": ["*.rambler.ru"],
            "max_connections": 3,
            "per_second": 10,
        },
    },
    "routes": {DEFAULT_PROVIDER: {"mode": "mx"}},
    "mx_overrides": {},
}


# ---------------------------------------------------------------------------------------------
# Loading and saving


def rules_path(settings: Settings) -> Path:
    return settings.home / RULES_FILE


def builtin_rules() -> DeliveryRules:
    return _resolve(RulesDocument.model_validate(BUILTIN_RULES), "built-in")


def parse_rules(text: str, source: str = "text") -> DeliveryRules:
    """The effective rules of a rules file's text (merged over the built-ins unless it says
    `include_builtin: false`); DeliveryRulesError with every problem and its line."""
    if len(text.encode("utf-8", "replace")) > MAX_RULES_BYTES:
        raise DeliveryRulesError([f"the rules are over {MAX_RULES_BYTES // 1024} KB"])
    try:
        loaded = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        prefix = f"line {line}: " if line else ""
        raise DeliveryRulesError([f"{prefix}not valid YAML: {problem}"], line=line) from None
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        raise DeliveryRulesError(
            ["the rules must be a mapping (defaults:, providers:, routes:, mx_overrides:)"], 1
        )
    include_builtin = loaded.get("include_builtin", True)
    merged = _merge(BUILTIN_RULES, loaded) if include_builtin is not False else loaded
    try:
        document = RulesDocument.model_validate(merged)
    except ValidationError as exc:
        raise _rules_error(exc, text) from None
    return _resolve(document, source)


def load_rules(path: Path) -> DeliveryRules:
    """The rules in `path`, or the built-in rules when there is no such file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return builtin_rules()
    except (OSError, UnicodeDecodeError) as exc:
        raise DeliveryRulesError([f"{path}: cannot be read: {exc}"]) from None
    try:
        return parse_rules(text, source=str(path))
    except DeliveryRulesError as exc:
        problems = [f"{path}: {problem}" for problem in exc.problems]
        raise DeliveryRulesError(problems, exc.line, exc.field) from None


def save_rules(path: Path, text: str) -> DeliveryRules:
    """Validate a rules file's text, then replace `path` with it atomically."""
    rules = parse_rules(text, source=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return rules


def rules_to_yaml(rules: DeliveryRules) -> str:
    """The effective rules as a complete rules file (it does not need the built-ins)."""
    document = rules.document.model_dump(mode="json", exclude_unset=True)
    document["include_builtin"] = False
    document["defaults"] = rules.document.defaults.model_dump(mode="json")
    ordered = {key: document[key] for key in RulesDocument.model_fields if key in document}
    return yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True, width=100)


def as_json(rules: DeliveryRules) -> dict[str, Any]:
    return rules.as_json()


def normalize_domain(domain: str) -> str:
    """A domain as rules compare it: lower case, no trailing dot, IDNA (punycode) form."""
    name = domain.strip().rstrip(".").lower()
    if name.isascii():
        return name
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name


def split_host_port(target: str, default_port: int = 25) -> tuple[str, int]:
    """`host`, `host:port` or `[v6]:port` as (host, port); ValueError when malformed."""
    text = target.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
        if rest and not rest.startswith(":"):
            raise ValueError(f"{target!r} is not host:port")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, ""
    if not host or any(char.isspace() for char in host):
        raise ValueError(f"{target!r} is not host:port")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{target!r}: the port must be 1-65535")
    return host, int(port_text)


# ---------------------------------------------------------------------------------------------
# Inside


def _checked_domain(value: str) -> str:
    name = normalize_domain(str(value))
    if not name or " " in name or "." not in name.strip("."):
        raise ValueError(f"{value!r} is not a domain")
    return name


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` over `base`: mappings merge key by key, anything else replaces."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _resolve(document: RulesDocument, source: str) -> DeliveryRules:
    defaults = document.defaults
    default_route = document.routes.get(DEFAULT_PROVIDER, Route())
    default = ProviderRule(
        name=DEFAULT_PROVIDER,
        group=DEFAULT_PROVIDER,
        max_connections=defaults.max_connections,
        messages_per_connection=defaults.messages_per_connection,
        per_second=defaults.per_second,
        per_hour=defaults.per_hour,
        retry=_schedule(defaults.retry),
        route=default_route,
    )
    providers: dict[str, ProviderRule] = {}
    problems: list[str] = []
    for name, config in document.providers.items():
        chosen = config.model_fields_set
        retry = defaults.retry
        if config.retry:
            try:
                given = config.retry.model_dump(exclude_none=True)
                retry = RetryConfig.model_validate({**defaults.retry.model_dump(), **given})
            except ValidationError as exc:
                problems.extend(
                    f"providers.{name}.retry: {_message(error)}" for error in exc.errors()
                )
                continue
        providers[name] = ProviderRule(
            name=name,
            group=name,
            max_connections=config.max_connections or defaults.max_connections,
            messages_per_connection=config.messages_per_connection
            or defaults.messages_per_connection,
            per_second=config.per_second if "per_second" in chosen else defaults.per_second,
            per_hour=config.per_hour if "per_hour" in chosen else defaults.per_hour,
            retry=_schedule(retry),
            route=document.routes.get(name, default_route),
            domains=tuple(config.domains),
            mx=tuple(config.mx),
        )
    if problems:
        raise DeliveryRulesError(problems)
    return DeliveryRules(document=document, source=source, providers=providers, default=default)


def _schedule(retry: RetryConfig) -> RetrySchedule:
    return RetrySchedule(retry.first, retry.factor, retry.max_delay, retry.max_age)


def _rules_error(exc: ValidationError, text: str) -> DeliveryRulesError:
    try:
        root = yaml.compose(text) if text.strip() else None
    except yaml.YAMLError:
        root = None
    problems: list[str] = []
    first_line: int | None = None
    first_field: str | None = None
    for error in exc.errors():
        location = [part for part in error["loc"] if not _is_pydantic_tag(part)]
        path = ".".join(str(part) for part in location)
        line = _line_of(root, location)
        first_line = first_line if first_line is not None else line
        first_field = first_field if first_field is not None else path
        where = f"line {line}: " if line else ""
        problems.append(f"{where}{path or 'rules'}: {_message(error)}")
    return DeliveryRulesError(problems, first_line, first_field)


def _is_pydantic_tag(part: object) -> bool:
    return isinstance(part, str) and part.startswith(("function-", "[key]"))


def _message(error: Mapping[str, Any]) -> str:
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if error["type"] == "extra_forbidden":
        return "unknown setting (check the spelling)"
    return message


def _line_of(root: yaml.Node | None, location: list[Any]) -> int | None:
    """The line of the deepest node of `location` that the file itself has."""
    if root is None:
        return None
    node = root
    line = None
    for part in location:
        found: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if str(key.value) == str(part):
                    found = value
                    line = key.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            found = node.value[part] if 0 <= part < len(node.value) else None
            line = found.start_mark.line + 1 if found is not None else line
        if found is None:
            break
        node = found
    return line
