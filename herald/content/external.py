"""External data for message templates: SQL queries and HTTP calls per recipient, cached.

    sources = parse_data_sources(document["data"])        # the template's `data:` section
    external = ExternalData(sources, connection_url=lambda name: connection_urls[name])
    values = external.fetch({"external_id": "c1", "city": "Oslo"})
    # {"recommendations": [{"title": "Kettle", "price": 19.9}, ...], "weather": {...}}
    external.stats                                      # {"hits": 0, "misses": 2, ...}
    external.close()

The `data:` section of a template document names its sources:

    data:
      recommendations:
        sql:
          connection: shop        # a named connection; connection_url("shop") gives its URL
          query: "select title, price from recommendations
                  where customer_id = :customer_id order by rank limit 5"
          params: {customer_id: "{{ external_id }}"}
          rows: many              # many: a list of rows; one: the first row or null;
          timeout: 2              #   value: the first column of the first row or null
      weather:
        http:
          url: "http://weather.local/v1?city={{ city | urlencode }}"
          method: GET             # or POST with `json: {...}`
          headers: {Authorization: "Bearer x"}
          timeout: 1
          retries: 2

Rule 5 of the architecture holds here: every call is parameterised, cached and timed out.

- Query parameters, the URL, header values and the strings of a JSON body are small Jinja
  templates run in a `SandboxedEnvironment` against the recipient's fields; a field the
  recipient does not have is an error, not an empty string. A template that is exactly one
  `{{ expression }}` gives the expression's own value (a number stays a number, a missing
  value is NULL); any other template gives text.
- SQL is one SELECT (or WITH ... SELECT) with `:name` bound parameters, never formatted text
  (write `cast(:id as int)`, not `:id::int`). It runs on a read-only engine from
  `herald.imports.sql_source.source_engine`, one per connection name, created on first use.
  The source's timeout is the statement timeout (PostgreSQL `SET LOCAL statement_timeout`,
  a progress handler on SQLite). At most `MAX_ROWS` rows are read; decimals become floats,
  dates and times ISO text.
- HTTP goes through one `httpx.Client`. Each attempt has the source's timeout; connection
  errors, timeouts, 429 and 5xx answers are tried again up to `retries` times after 0.1 s,
  0.2 s, 0.4 s ...; other 4xx answers fail at once. The answer must be JSON of at most
  `MAX_RESPONSE_BYTES`. Redirects are followed only within the URL's own host, whose name
  must be written out in the template (not rendered from a field).
- Results are kept in a bounded LRU cache per source, keyed by the rendered request (the
  bound parameters, or method + URL + headers + body), optionally for `ttl_seconds` only.
  Failures are not cached: a later try of the message may succeed.
- A source that cannot be fetched raises `ExternalDataError` naming the source and saying
  why (without any password); the sender marks the message FAILED with that reason and
  does not send it half-rendered.

Threads: `fetch` may be called from any thread; the caches, counters and lazily created
engines are guarded by a lock, and the calls themselves run outside it (SQLAlchemy engines
and `httpx.Client` are thread-safe). The sender calls it from one worker thread at a time
(`asyncio.to_thread`), so calls are not expected to overlap.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import ipaddress
import json
import math
import re
import socket
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from jinja2 import StrictUndefined, TemplateError, Undefined, UndefinedError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import URL, Connection, Engine, TextClause, event, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from herald.errors import HeraldError
from herald.imports.sql_source import SqlSourceError, masked_url, source_engine

MAX_TIMEOUT_S = 30.0
MAX_RETRIES = 5
MAX_ROWS = 1_000
MAX_RESPONSE_BYTES = 1_000_000
MAX_RENDERED_CHARS = 100_000
MAX_REDIRECTS = 5
BACKOFF_S = 0.1
ROW_SHAPES = ("one", "many", "value")
HTTP_METHODS = ("GET", "POST")
SOURCE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_SQL_KEYS = ("connection", "query", "params", "timeout", "rows")
_HTTP_KEYS = ("url", "method", "headers", "json", "timeout", "retries")
_SCALARS = (str, int, float, bool, type(None))


class ExternalDataError(HeraldError):
    """A data source is defined wrongly, or cannot be fetched for a recipient.

    The message names the source and says what is wrong; `source` is the source's name
    (None for a problem with the `data:` section as a whole).
    """

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__(message)
        self.source = source


@dataclass(frozen=True)
class SqlSource:
    """A parameterised SELECT on a named connection; `params` values are templates."""

    name: str
    connection: str
    query: str
    params: dict[str, Any] = field(default_factory=dict)
    timeout: float = 2.0
    rows: str = "many"  # "one": the first row or None; "many": a list; "value": one cell


@dataclass(frozen=True)
class HttpSource:
    """A GET, or a POST of a JSON body, answered with JSON; URL, headers, body are templates."""

    name: str
    url: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    timeout: float = 2.0
    retries: int = 2


DataSource = SqlSource | HttpSource


# ---------------------------------------------------------------------------------------------
# Reading the `data:` section


def parse_data_sources(spec: Mapping[str, Any] | None) -> dict[str, DataSource]:
    """The sources of a template's `data:` section, checked and compiled once.

    Raises ExternalDataError for a document that is not of the shape in the module docstring:
    unknown keys, a query that is not a single SELECT, a missing connection or URL, a method
    other than GET or POST, a timeout outside (0, 30] seconds, templates that do not compile.
    """
    if spec is None:
        return {}
    if not isinstance(spec, Mapping):
        raise ExternalDataError(
            f"data: expected source names, each with `sql:` or `http:`, not {_kind(spec)}"
        )
    sources: dict[str, DataSource] = {}
    for name, entry in spec.items():
        where = f"data.{name}"
        if not isinstance(name, str) or not SOURCE_NAME.match(name):
            raise ExternalDataError(
                f"{where}: a source name is letters, digits and _, starting with a letter "
                "(templates use it as a variable)"
            )
        if not isinstance(entry, Mapping):
            raise ExternalDataError(
                f"{where}: expected `sql:` or `http:` under the name, not {_kind(entry)}",
                source=name,
            )
        unknown = sorted(str(key) for key in entry if key not in ("sql", "http"))
        if unknown:
            raise ExternalDataError(
                f"{where}: unknown key {', '.join(unknown)}; a source has `sql:` or `http:`",
                source=name,
            )
        if len(entry) != 1:
            raise ExternalDataError(
                f"{where}: give `sql:` or `http:`, one of them, not both and not neither",
                source=name,
            )
        kind, body = next(iter(entry.items()))
        if not isinstance(body, Mapping):
            raise ExternalDataError(
                f"{where}.{kind}: expected its settings "
                f"({', '.join(_SQL_KEYS if kind == 'sql' else _HTTP_KEYS)}), not {_kind(body)}",
                source=name,
            )
        source: DataSource = (
            _sql_from_spec(name, body) if kind == "sql" else _http_from_spec(name, body)
        )
        try:  # templates and the query are checked now, not at the first send
            _compile(source)
        except ExternalDataError as exc:
            reason = str(exc).removeprefix(f"{name}: ")
            raise ExternalDataError(f"{where}.{kind}: {reason}", source=name) from None
        sources[name] = source
    return sources


def _sql_from_spec(name: str, body: Mapping[str, Any]) -> SqlSource:
    where = f"data.{name}.sql"
    _no_unknown_keys(where, name, body, _SQL_KEYS)
    connection = body.get("connection")
    if not isinstance(connection, str) or not connection.strip():
        raise ExternalDataError(
            f"{where}: `connection` is missing: name the database connection to query "
            "(for example `connection: shop`)",
            source=name,
        )
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        raise ExternalDataError(
            f"{where}: `query` is missing: give a SELECT with :name parameters", source=name
        )
    params = body.get("params") or {}
    if not isinstance(params, Mapping):
        raise ExternalDataError(
            f"{where}: `params` maps each :name of the query to a value or a template, "
            f"not {_kind(params)}",
            source=name,
        )
    rows = body.get("rows", "many")
    if rows not in ROW_SHAPES:
        raise ExternalDataError(
            f"{where}: rows {rows!r}: use one (the first row), many (a list of rows) "
            "or value (the first column of the first row)",
            source=name,
        )
    return SqlSource(
        name=name,
        connection=connection.strip(),
        query=query,
        params=dict(params),
        timeout=_timeout(where, name, body.get("timeout", 2.0)),
        rows=str(rows),
    )


def _http_from_spec(name: str, body: Mapping[str, Any]) -> HttpSource:
    where = f"data.{name}.http"
    _no_unknown_keys(where, name, body, _HTTP_KEYS)
    url = body.get("url")
    if not isinstance(url, str) or not url.strip():
        raise ExternalDataError(
            f"{where}: `url` is missing: give an http:// or https:// URL", source=name
        )
    method = body.get("method", "GET")
    headers = body.get("headers") or {}
    if not isinstance(headers, Mapping):
        raise ExternalDataError(
            f"{where}: `headers` maps header names to values, not {_kind(headers)}", source=name
        )
    retries = body.get("retries", 2)
    if isinstance(retries, bool) or not isinstance(retries, int):
        raise ExternalDataError(
            f"{where}: retries {retries!r}: give a whole number from 0 to {MAX_RETRIES}",
            source=name,
        )
    return HttpSource(
        name=name,
        url=url.strip(),
        method=method.upper() if isinstance(method, str) else method,
        headers={str(key): value for key, value in headers.items()},
        json=body.get("json"),
        timeout=_timeout(where, name, body.get("timeout", 2.0)),
        retries=retries,
    )


def _no_unknown_keys(
    where: str, name: str, body: Mapping[str, Any], known: tuple[str, ...]
) -> None:
    unknown = sorted(str(key) for key in body if key not in known)
    if unknown:
        raise ExternalDataError(
            f"{where}: unknown key {', '.join(unknown)}; known: {', '.join(known)}", source=name
        )


def _timeout(where: str, name: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 < value <= MAX_TIMEOUT_S
    ):
        raise ExternalDataError(
            f"{where}: timeout {value!r}: give seconds above 0 and at most {MAX_TIMEOUT_S:g}",
            source=name,
        )
    return float(value)


def _kind(value: Any) -> str:
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


# ---------------------------------------------------------------------------------------------
# Templates


_ENVIRONMENT = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_ONE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expression>.*)\}\}\s*$", re.DOTALL)

Rendered = Callable[[Mapping[str, Any]], Any]


def _template(value: Any, *, native: bool) -> Rendered:
    """A value rendered per recipient; `native` keeps the value of a lone {{ expression }}."""
    if not isinstance(value, str) or not any(mark in value for mark in ("{{", "{%", "{#")):
        return lambda _context: value
    match = _ONE_EXPRESSION.match(value)
    expression = match["expression"] if match else ""
    if native and match and not any(mark in expression for mark in ("{{", "}}", "{%", "{#")):
        compiled = _ENVIRONMENT.compile_expression(expression, undefined_to_none=False)
        shown = expression.strip()

        def evaluate(context: Mapping[str, Any]) -> Any:
            result = compiled(**context)
            if isinstance(result, Undefined):
                raise UndefinedError(f"{shown!r} is undefined")
            return result

        return evaluate
    template = _ENVIRONMENT.from_string(value)

    def render(context: Mapping[str, Any]) -> str:
        rendered = template.render(context)
        if len(rendered) > MAX_RENDERED_CHARS:
            raise ValueError(
                f"it renders to {len(rendered):,} characters, over the limit of "
                f"{MAX_RENDERED_CHARS:,}"
            )
        return rendered

    return render


def _tree(value: Any) -> Rendered:
    """A JSON body whose strings are templates (each lone {{ expression }} keeps its value)."""
    if isinstance(value, Mapping):
        members = {str(key): _tree(item) for key, item in value.items()}
        return lambda context: {key: member(context) for key, member in members.items()}
    if isinstance(value, list | tuple):
        items = [_tree(item) for item in value]
        return lambda context: [item(context) for item in items]
    return _template(value, native=True)


# ---------------------------------------------------------------------------------------------
# Checking and compiling one source

# Comments, string literals, quoted names and PostgreSQL dollar-quoted text: what a check
# for `;` and for writing keywords must not look into.
_SQL_NOISE = re.compile(
    r"""--[^\n]*
      | /\*.*?\*/
      | '(?:[^']|'')*'
      | "(?:[^"]|"")*"
      | `[^`]*`
      | \$\$.*?\$\$
      | \$(?P<tag>[A-Za-z_]\w*)\$.*?\$(?P=tag)\$""",
    re.DOTALL | re.VERBOSE,
)
_WRITING = re.compile(
    r"\b(insert|update|delete|merge|upsert|into|create|drop|alter|truncate|grant|revoke"
    r"|copy|call|execute|pragma|attach|detach)\b",
    re.IGNORECASE,
)
_URL_START = re.compile(r"^(?P<scheme>https?)://(?P<authority>[^/?#{}%\s]+)(?:[/?#]|$)", re.I)


@dataclass(frozen=True)
class _CompiledSql:
    source: SqlSource
    statement: TextClause
    params: dict[str, Rendered]


@dataclass(frozen=True)
class _CompiledHttp:
    source: HttpSource
    url: Rendered
    host: str
    headers: dict[str, Rendered]
    body: Rendered | None


def _compile(source: DataSource) -> _CompiledSql | _CompiledHttp:
    try:
        if isinstance(source, SqlSource):
            return _compile_sql(source)
        return _compile_http(source)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        raise ExternalDataError(
            f"{source.name}: a template does not compile{f' (line {line})' if line else ''}: {exc}",
            source=source.name,
        ) from None


def _compile_sql(source: SqlSource) -> _CompiledSql:
    name = source.name
    if source.rows not in ROW_SHAPES:
        raise ExternalDataError(
            f"{name}: rows {source.rows!r}: use one, many or value", source=name
        )
    _timeout(name, name, source.timeout)
    query = select_only(source.query, name)
    statement = text(query)
    binds = set(statement.compile().params)
    given = set(source.params)
    missing = sorted(binds - given)
    if missing:
        raise ExternalDataError(
            f"{name}: the query uses {', '.join(':' + bind for bind in missing)} but `params` "
            "gives no value for it",
            source=name,
        )
    extra = sorted(given - binds)
    if extra:
        raise ExternalDataError(
            f"{name}: `params` gives {', '.join(extra)}, which the query does not use as "
            ":name (write cast(:id as int) rather than :id::int)",
            source=name,
        )
    for key, value in source.params.items():
        if not isinstance(value, _SCALARS):
            raise ExternalDataError(
                f"{name}: parameter {key!r} must be a value or a template, not {_kind(value)}",
                source=name,
            )
    return _CompiledSql(
        source=source,
        statement=statement,
        params={key: _template(value, native=True) for key, value in source.params.items()},
    )


def select_only(query: str, name: str = "query") -> str:
    """The query without trailing `;`, if it is one SELECT (or WITH ... SELECT) that only reads.

    Raises ExternalDataError otherwise. The engine is read-only as well; this check gives the
    author a clear message when the template is loaded rather than a failure per recipient.
    """
    statement = query.strip()
    while statement.endswith(";"):
        statement = statement[:-1].rstrip()
    if not statement:
        raise ExternalDataError(f"{name}: the query is empty", source=name)
    bare = _SQL_NOISE.sub(" ", statement)
    if ";" in bare:
        raise ExternalDataError(
            f"{name}: the query holds more than one statement (a `;` inside it); give one SELECT",
            source=name,
        )
    first = re.match(r"[\s(]*(\w+)", bare)
    word = first.group(1).lower() if first else ""
    if word not in ("select", "with"):
        raise ExternalDataError(
            f"{name}: the query must be a SELECT (or WITH ... SELECT), "
            f"not {word.upper() or 'this'}",
            source=name,
        )
    writing = _WRITING.search(bare)
    if writing:
        raise ExternalDataError(
            f"{name}: the query may only read, but it holds {writing.group(1).upper()}; "
            "if a column has that name, write it in double quotes",
            source=name,
        )
    return statement


def _compile_http(source: HttpSource) -> _CompiledHttp:
    name = source.name
    if source.method not in HTTP_METHODS:
        raise ExternalDataError(
            f"{name}: method {source.method!r}: use GET, or POST with a JSON body", source=name
        )
    if source.json is not None and source.method != "POST":
        raise ExternalDataError(
            f"{name}: a JSON body is sent with POST; add `method: POST` or remove `json`",
            source=name,
        )
    _timeout(name, name, source.timeout)
    if isinstance(source.retries, bool) or not 0 <= source.retries <= MAX_RETRIES:
        raise ExternalDataError(
            f"{name}: retries {source.retries!r}: give a whole number from 0 to {MAX_RETRIES}",
            source=name,
        )
    start = _URL_START.match(source.url)
    if start is None:
        raise ExternalDataError(
            f"{name}: the URL must start with http:// or https:// and a host written out "
            f"(templates may fill the path and the query, not the host): {source.url[:80]!r}",
            source=name,
        )
    try:
        host = httpx.URL(f"{start['scheme']}://{start['authority']}/").host
    except httpx.InvalidURL as exc:
        raise ExternalDataError(
            f"{name}: the URL's host is not valid: {exc}", source=name
        ) from None
    headers: dict[str, Rendered] = {}
    for key, value in source.headers.items():
        if not isinstance(key, str) or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", key):
            raise ExternalDataError(f"{name}: {key!r} is not a header name", source=name)
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ExternalDataError(
                f"{name}: header {key!r} must be text or a template, not {_kind(value)}",
                source=name,
            )
        headers[key] = _template(str(value), native=False)
    return _CompiledHttp(
        source=source,
        url=_template(source.url, native=False),
        host=host,
        headers=headers,
        body=_tree(source.json) if source.json is not None else None,
    )


# ---------------------------------------------------------------------------------------------
# Values


def plain_value(value: Any) -> Any:
    """A database or JSON value as JSON-friendly Python: decimals as floats, dates ISO text."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(key): plain_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain_value(item) for item in value]
    return str(value)


def _copy(value: Any) -> Any:
    """A copy of a cached JSON-like value, so a template cannot change what others see."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


# ---------------------------------------------------------------------------------------------
# The cache


class _LruCache:
    """At most `entries` values, the least recently used dropped first, each kept `ttl` s."""

    def __init__(self, entries: int, ttl: float | None) -> None:
        self.entries = entries
        self.ttl = ttl
        self._items: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()

    def get(self, key: Hashable) -> tuple[bool, Any]:
        found = self._items.get(key)
        if found is None:
            return False, None
        expires, value = found
        if expires and time.monotonic() > expires:
            del self._items[key]
            return False, None
        self._items.move_to_end(key)
        return True, value

    def put(self, key: Hashable, value: Any) -> None:
        expires = time.monotonic() + self.ttl if self.ttl else 0.0
        self._items[key] = (expires, value)
        self._items.move_to_end(key)
        while len(self._items) > self.entries:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


# ---------------------------------------------------------------------------------------------
# Fetching


class _Retry(Exception):
    """One HTTP attempt failed in a way another attempt may not."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind  # "timeout", "network" or "status"
        self.reason = reason


class ExternalData:
    """The external data of one template, fetched per recipient (see the module docstring).

    `connection_url(name)` gives the SQLAlchemy URL of a named connection; it may raise
    KeyError or a HeraldError for an unknown name. `cache_entries` bounds each source's
    cache; `ttl_seconds` (None: for the object's life) bounds how long a value is kept.
    """

    def __init__(
        self,
        sources: Mapping[str, DataSource],
        *,
        connection_url: Callable[[str], str],
        cache_entries: int = 100_000,
        ttl_seconds: float | None = None,
    ) -> None:
        if cache_entries < 0:
            raise ValueError("cache_entries must be 0 or more")
        self._compiled = {key: _compile(source) for key, source in sources.items()}
        self._connection_url = connection_url
        self._caches = {key: _LruCache(cache_entries, ttl_seconds) for key in sources}
        self._lock = threading.Lock()
        self._engines: dict[str, Engine] = {}
        self._shown_urls: dict[str, str] = {}  # connection name: its URL without password
        # An engine's connection-level statement timeout, in the whole seconds
        # source_engine takes: the longest timeout of the sources on that connection.
        self._statement_timeouts: dict[str, int] = {}
        for compiled in self._compiled.values():
            if isinstance(compiled, _CompiledSql):
                connection = compiled.source.connection
                seconds = math.ceil(compiled.source.timeout)
                self._statement_timeouts[connection] = max(
                    seconds, self._statement_timeouts.get(connection, 0)
                )
        self._client: httpx.Client | None = None
        self._counts = {"hits": 0, "misses": 0, "errors": 0, "requests": 0, "retries": 0}

    # -- public -------------------------------------------------------------------------------

    def fetch(self, context: Mapping[str, Any]) -> dict[str, Any]:
        """{source name: value} for one recipient; ExternalDataError if a source fails."""
        return {
            key: self._fetch_source(key, compiled, context)
            for key, compiled in self._compiled.items()
        }

    @property
    def stats(self) -> dict[str, int]:
        """Cache hits and misses, failed fetches, requests made (retries included)."""
        with self._lock:
            counts = dict(self._counts)
            counts["cached"] = sum(len(cache) for cache in self._caches.values())
        return counts

    def close(self) -> None:
        """Close the HTTP client and the database engines; a later fetch opens them again."""
        with self._lock:
            engines, self._engines = list(self._engines.values()), {}
            client, self._client = self._client, None
        for engine in engines:
            engine.dispose()
        if client is not None:
            client.close()

    def __enter__(self) -> ExternalData:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- one source ---------------------------------------------------------------------------

    def _fetch_source(
        self, key: str, compiled: _CompiledSql | _CompiledHttp, context: Mapping[str, Any]
    ) -> Any:
        try:
            if isinstance(compiled, _CompiledSql):
                params = self._sql_params(compiled, context)
                cache_key: Hashable = json.dumps(params, sort_keys=True, default=repr)
            else:
                request = self._http_request(compiled, context)
                cache_key = request
            cache = self._caches[key]
            with self._lock:
                found, value = cache.get(cache_key)
                self._counts["hits" if found else "misses"] += 1
            if found:
                return _copy(value)
            if isinstance(compiled, _CompiledSql):
                value = self._run_sql(compiled, params)
            else:
                value = self._run_http(compiled, request)
        except ExternalDataError:
            with self._lock:
                self._counts["errors"] += 1
            raise
        with self._lock:
            cache.put(cache_key, value)
        return _copy(value)

    # -- SQL ----------------------------------------------------------------------------------

    def _sql_params(self, compiled: _CompiledSql, context: Mapping[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for key, render in compiled.params.items():
            params[key] = _rendered(compiled.source.name, f"parameter {key!r}", render, context)
        return params

    def _engine(self, source: SqlSource) -> Engine:
        with self._lock:
            engine = self._engines.get(source.connection)
            if engine is not None:
                return engine
            try:
                url = self._connection_url(source.connection)
            except LookupError:
                raise ExternalDataError(
                    f"{source.name}: there is no database connection named "
                    f"{source.connection!r}; add it, or fix `connection` in the template",
                    source=source.name,
                ) from None
            except HeraldError as exc:
                raise ExternalDataError(
                    f"{source.name}: connection {source.connection!r}: {exc}", source=source.name
                ) from None
            seconds = self._statement_timeouts.get(source.connection, math.ceil(source.timeout))
            try:
                engine = source_engine(
                    url, connect_timeout=max(2, seconds), statement_timeout=seconds
                )
            except SqlSourceError as exc:
                raise ExternalDataError(
                    f"{source.name}: connection {source.connection!r}: {exc}", source=source.name
                ) from None
            if engine.dialect.name == "sqlite":
                _limit_sqlite_statements(engine)
            self._engines[source.connection] = engine
            self._shown_urls[source.connection] = masked_url(url)
            return engine

    def _run_sql(self, compiled: _CompiledSql, params: dict[str, Any]) -> Any:
        source = compiled.source
        engine = self._engine(source)
        url = engine.url
        shown = f"connection {source.connection!r} ({self._shown_urls[source.connection]})"
        with self._lock:
            self._counts["requests"] += 1
        try:
            connection = engine.connect()
        except DBAPIError as exc:
            raise ExternalDataError(
                f"{source.name}: cannot connect to {shown}: {_reason(exc, url)}",
                source=source.name,
            ) from None
        try:
            with connection:
                return self._query(connection, compiled, params)
        except DBAPIError as exc:
            if _cancelled(exc):
                raise ExternalDataError(
                    f"{source.name}: no answer within {source.timeout} s from {shown}; the "
                    "query was cancelled: make it faster or give it a longer timeout "
                    f"(at most {MAX_TIMEOUT_S:g} s)",
                    source=source.name,
                ) from None
            raise ExternalDataError(
                f"{source.name}: the query fails on {shown}: {_reason(exc, url)}",
                source=source.name,
            ) from None
        except SQLAlchemyError as exc:
            raise ExternalDataError(
                f"{source.name}: the query fails on {shown}: {_reason(exc, url)}",
                source=source.name,
            ) from None

    def _query(self, connection: Connection, compiled: _CompiledSql, params: dict[str, Any]) -> Any:
        source = compiled.source
        whole_seconds = self._statement_timeouts.get(source.connection)
        if connection.dialect.name == "postgresql" and source.timeout != whole_seconds:
            # The session's statement_timeout is in whole seconds (source_engine); this
            # transaction gets the source's own.
            milliseconds = max(1, round(source.timeout * 1000))
            connection.exec_driver_sql(f"set local statement_timeout = {milliseconds}")
        result = connection.execution_options(herald_timeout=source.timeout).execute(
            compiled.statement, params
        )
        try:
            if source.rows == "many":
                rows = result.mappings().fetchmany(MAX_ROWS + 1)
                if len(rows) > MAX_ROWS:
                    raise ExternalDataError(
                        f"{source.name}: the query returns more than {MAX_ROWS:,} rows; "
                        "add a LIMIT",
                        source=source.name,
                    )
                value: Any = [plain_value(dict(row)) for row in rows]
            elif source.rows == "one":
                row = result.mappings().fetchone()
                value = plain_value(dict(row)) if row is not None else None
            else:
                cell = result.fetchone()
                value = plain_value(cell[0]) if cell is not None else None
        finally:
            result.close()
        connection.rollback()
        return value

    # -- HTTP ---------------------------------------------------------------------------------

    def _http_request(
        self, compiled: _CompiledHttp, context: Mapping[str, Any]
    ) -> tuple[str, str, tuple[tuple[str, str], ...], bytes | None]:
        name = compiled.source.name
        url = _rendered(name, "the URL", compiled.url, context)
        try:
            host = httpx.URL(url).host
        except httpx.InvalidURL as exc:
            raise ExternalDataError(
                f"{name}: the URL is not valid for this recipient: {exc}", source=name
            ) from None
        if host != compiled.host:
            raise ExternalDataError(
                f"{name}: the URL renders to another host ({host}) than {compiled.host}",
                source=name,
            )
        headers = tuple(
            sorted(
                (key, str(_rendered(name, f"header {key!r}", render, context)))
                for key, render in compiled.headers.items()
            )
        )
        body = None
        if compiled.body is not None:
            document = _rendered(name, "the JSON body", compiled.body, context)
            body = json.dumps(plain_value(document), ensure_ascii=False).encode()
        return compiled.source.method, url, headers, body

    def _http_client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(
                    follow_redirects=False,
                    headers={"Accept": "application/json", "User-Agent": "herald"},
                )
            return self._client

    def _run_http(
        self,
        compiled: _CompiledHttp,
        request: tuple[str, str, tuple[tuple[str, str], ...], bytes | None],
    ) -> Any:
        source = compiled.source
        method, url, headers, body = request
        parsed = httpx.URL(url)
        shown = f"{method} {parsed.scheme}://{parsed.netloc.decode()}{parsed.path}"
        client = self._http_client()
        attempts = source.retries + 1
        problem = _Retry("network", "")
        for attempt in range(attempts):
            if attempt:
                time.sleep(BACKOFF_S * 2 ** (attempt - 1))
                with self._lock:
                    self._counts["retries"] += 1
            with self._lock:
                self._counts["requests"] += 1
            try:
                return self._http_once(client, compiled, shown, method, url, headers, body)
            except _Retry as failed:
                problem = failed
        tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
        if problem.kind == "timeout":
            message = f"{source.name}: no answer within {source.timeout} s from {shown} ({tries})"
        elif problem.kind == "status":
            message = f"{source.name}: {shown} answered {problem.reason} ({tries})"
        else:
            message = f"{source.name}: cannot reach {shown}: {problem.reason} ({tries})"
        raise ExternalDataError(message, source=source.name)

    def _http_once(
        self,
        client: httpx.Client,
        compiled: _CompiledHttp,
        shown: str,
        method: str,
        url: str,
        headers: tuple[tuple[str, str], ...],
        body: bytes | None,
    ) -> Any:
        source = compiled.source
        name = source.name
        _refuse_link_local(compiled.host, name)
        deadline = time.monotonic() + source.timeout
        request_headers = dict(headers)
        if body is not None and not any(key.lower() == "content-type" for key in request_headers):
            request_headers["Content-Type"] = "application/json"
        try:
            request = client.build_request(
                method, url, headers=request_headers, content=body, timeout=source.timeout
            )
            response = client.send(request, stream=True, follow_redirects=False)
            try:
                redirects = 0
                while response.is_redirect:
                    following = response.next_request
                    if following is None or redirects >= MAX_REDIRECTS:
                        raise ExternalDataError(
                            f"{name}: {shown} redirects too often or without a Location",
                            source=name,
                        )
                    if following.url.host != compiled.host:
                        raise ExternalDataError(
                            f"{name}: {shown} redirects to another host "
                            f"({following.url.host}); only redirects within "
                            f"{compiled.host} are followed",
                            source=name,
                        )
                    response.close()
                    redirects += 1
                    response = client.send(following, stream=True, follow_redirects=False)
                status = f"{response.status_code} {response.reason_phrase}".strip()
                if response.status_code == 429 or response.status_code >= 500:
                    raise _Retry("status", status)
                if not 200 <= response.status_code < 300:
                    raise ExternalDataError(
                        f"{name}: {shown} answered {status}; check the URL and the request",
                        source=name,
                    )
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
                    raise _too_big(name, shown)
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > MAX_RESPONSE_BYTES:
                        raise _too_big(name, shown)
                    if time.monotonic() > deadline:
                        raise _Retry("timeout", "")
                    chunks.append(chunk)
                content_type = response.headers.get("Content-Type", "no content type")
            finally:
                response.close()
        except httpx.TimeoutException:
            raise _Retry("timeout", "") from None
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise _Retry("network", str(exc) or type(exc).__name__) from None
        except httpx.HTTPError as exc:
            raise ExternalDataError(
                f"{name}: the request to {shown} fails: {exc}", source=name
            ) from None
        content = b"".join(chunks)
        try:
            return plain_value(json.loads(content))
        except ValueError:
            start = content[:80].decode("utf-8", "replace")
            raise ExternalDataError(
                f"{name}: the answer of {shown} is not JSON ({content_type}, {size:,} bytes, "
                f"starting {start!r})",
                source=name,
            ) from None


@functools.lru_cache(maxsize=1024)
def _link_local(host: str) -> bool:
    """Whether a host is (or resolves to) a link-local address: 169.254.0.0/16, fe80::/10,
    where clouds serve instance metadata and credentials."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError):
        return False  # not resolvable: the request itself will say so
    return any(ipaddress.ip_address(str(a).split("%")[0]).is_link_local for a in addresses)


def _refuse_link_local(host: str, name: str) -> None:
    if _link_local(host):
        raise ExternalDataError(
            f"{name}: {host} is a link-local address (cloud instance metadata); "
            "templates may not fetch from it",
            source=name,
        )


def _too_big(name: str, shown: str) -> ExternalDataError:
    return ExternalDataError(
        f"{name}: the answer of {shown} is larger than {MAX_RESPONSE_BYTES:,} bytes; "
        "ask the service for less",
        source=name,
    )


def _rendered(name: str, what: str, render: Rendered, context: Mapping[str, Any]) -> Any:
    try:
        return render(context)
    except Exception as exc:  # a template raised: Jinja's errors and whatever it called
        raise ExternalDataError(
            f"{name}: {what} cannot be rendered for this recipient: {exc}", source=name
        ) from None


def _limit_sqlite_statements(engine: Engine) -> None:
    """Interrupt a SQLite statement after its source's timeout (`herald_timeout` option).

    source_engine's own handler counts whole seconds; this one, listening after it, takes
    its place for statements run with the option.
    """

    @event.listens_for(engine, "before_cursor_execute")
    def _before(
        connection: Connection,
        _cursor: Any,
        _statement: str,
        _params: Any,
        context: Any,
        _many: bool,
    ) -> None:
        seconds = context.execution_options.get("herald_timeout") if context is not None else None
        raw = connection.connection.dbapi_connection
        if seconds is None or raw is None:
            return
        deadline = time.monotonic() + float(seconds)
        raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 1_000)


def _cancelled(exc: DBAPIError) -> bool:
    """Whether the database cancelled the statement for taking too long."""
    original = exc.orig
    if getattr(original, "sqlstate", None) == "57014":  # PostgreSQL query_canceled
        return True
    return "interrupted" in str(original).lower()


def _reason(exc: BaseException, url: URL) -> str:
    """The driver's message on one line, without the URL's password in it."""
    original = getattr(exc, "orig", None)
    message = str(original if original is not None else exc)
    line = next((part.strip() for part in message.strip().splitlines() if part.strip()), "")
    if url.password:
        line = line.replace(str(url.password), "***")
    return line or type(exc).__name__


__all__ = [
    "BACKOFF_S",
    "MAX_RESPONSE_BYTES",
    "MAX_ROWS",
    "MAX_TIMEOUT_S",
    "DataSource",
    "ExternalData",
    "ExternalDataError",
    "HttpSource",
    "SqlSource",
    "parse_data_sources",
    "plain_value",
    "select_only",
]
