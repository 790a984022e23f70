"""A ClickHouse-HTTP-compatible test server whose queries run in chdb.

No modern ClickHouse server can be installed on the test machines, so Herald's HTTP
engine (clickhouse-connect) is verified against this process: it speaks enough of
ClickHouse's HTTP interface for clickhouse-connect, and hands every statement to chdb,
which is the ClickHouse engine itself running in-process on `--path`. It is a transport
shim, not an emulator: parsing, planning, execution, formats and error messages are
ClickHouse's own. What it implements and what it does not is listed in docs/clickhouse.md.

    python -m tests.support.clickhouse_http_server --port 8123 --path var/chdb-http

Port 0 picks a free port; the ready line on stdout names the one in use.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import importlib
import json
import os
import re
import signal
import socket
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from chdb import session as chdb_session


def _optional_module(name: str) -> Any:
    """lz4 and zstd come with clickhouse-connect; the server works without them."""
    try:
        return importlib.import_module(name)
    except ImportError:  # pragma: no cover
        return None


lz4_frame = _optional_module("lz4.frame")
zstd = _optional_module("backports.zstd")

READY = "clickhouse-http-server ready"

# URL parameters the HTTP interface consumes itself; every other one is a setting,
# except `param_<name>`, which binds the query parameter {name:Type}.
TRANSPORT_PARAMS = frozenset(
    {
        "query",
        "database",
        "default_format",
        "user",
        "password",
        "quota_key",
        "query_id",
        "session_id",
        "session_timeout",
        "session_check",
        "close_session",
        "stacktrace",
        "compress",
        "decompress",
        "buffer_size",
        "wait_end_of_query",
        "client_protocol_version",
        "role",
    }
)
# Statements that produce a result set (and so a format and the X-ClickHouse-Format header).
RESULT_KINDS = frozenset(
    {"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN", "CHECK", "KILL", "("}
)
# What an HTTP GET may run: ClickHouse sets readonly=2 for GET requests.
READ_ONLY_KINDS = frozenset(
    {"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN", "SET", "USE", "("}
)
# chdb's Python-side pseudo formats, which a ClickHouse server does not have.
CHDB_ONLY_FORMATS = frozenset({"arrowtable", "dataframe", "debug"})
RESPONSE_ENCODINGS = [
    name
    for name, available in (
        ("zstd", zstd is not None),
        ("lz4", lz4_frame is not None),
        ("gzip", True),
        ("deflate", True),
    )
    if available
]

# ClickHouse's mapping of exception codes to HTTP statuses (HTTPHandler), common cases.
_STATUS_BY_CODE = {
    194: 401,  # REQUIRED_PASSWORD
    192: 403,  # UNKNOWN_USER
    193: 403,  # WRONG_PASSWORD
    516: 403,  # AUTHENTICATION_FAILED
    6: 400,  # CANNOT_PARSE_TEXT
    25: 400,  # CANNOT_PARSE_ESCAPE_SEQUENCE
    26: 400,  # CANNOT_PARSE_QUOTED_STRING
    27: 400,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
    36: 400,  # BAD_ARGUMENTS
    38: 400,  # CANNOT_PARSE_DATE
    41: 400,  # CANNOT_PARSE_DATETIME
    53: 400,  # TYPE_MISMATCH
    62: 400,  # SYNTAX_ERROR
    72: 400,  # CANNOT_PARSE_NUMBER
    117: 400,  # INCORRECT_DATA
    46: 404,  # UNKNOWN_FUNCTION
    47: 404,  # UNKNOWN_IDENTIFIER
    50: 404,  # UNKNOWN_TYPE
    56: 404,  # UNKNOWN_STORAGE
    60: 404,  # UNKNOWN_TABLE
    63: 404,  # UNKNOWN_AGGREGATE_FUNCTION
    73: 404,  # UNKNOWN_FORMAT
    81: 404,  # UNKNOWN_DATABASE
    115: 404,  # UNKNOWN_SETTING
    48: 501,  # NOT_IMPLEMENTED
    76: 503,  # CANNOT_OPEN_FILE
    209: 503,  # SOCKET_TIMEOUT
    159: 408,  # TIMEOUT_EXCEEDED
}
_CODE = re.compile(r"\bCode:\s*(\d+)")
_VERSION_TRAILER = re.compile(r"\(version\s+[^)]*(\([^)]*\))?[^)]*\)\s*$")


class QueryFailure(Exception):
    """A ClickHouse exception: its code and its message as ClickHouse writes it."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @classmethod
    def of(cls, code: int, name: str, text: str) -> QueryFailure:
        return cls(code, f"Code: {code}. DB::Exception: {text}. ({name})")

    @classmethod
    def from_chdb(cls, exc: Exception) -> QueryFailure:
        message = str(exc).strip() or type(exc).__name__
        match = _CODE.search(message)
        return cls(int(match.group(1)) if match else 1001, message)


# --- SQL scanning ---------------------------------------------------------------------------
# Just enough lexing to find the statement kind, a trailing FORMAT clause and where an
# INSERT's data starts; quoted names, string literals and comments are skipped whole.


@dataclass(frozen=True)
class Token:
    kind: str  # "word" | "quoted" | "string" | "number" | "punct"
    text: str
    start: int
    end: int
    depth: int  # parenthesis depth at the token

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""

    @property
    def name(self) -> str:
        """The identifier a word or quoted token stands for."""
        if self.kind != "quoted":
            return self.text
        body = self.text[1:-1]
        quote = self.text[0]
        body = body.replace(quote * 2, quote)
        return re.sub(r"\\(.)", r"\1", body)


def tokens(sql: str) -> Iterator[Token]:
    position, depth, length = 0, 0, len(sql)
    while position < length:
        char = sql[position]
        if char.isspace():
            position += 1
            continue
        if sql.startswith("--", position):
            newline = sql.find("\n", position)
            position = length if newline < 0 else newline + 1
            continue
        if sql.startswith("/*", position):
            close = sql.find("*/", position + 2)
            position = length if close < 0 else close + 2
            continue
        start = position
        if char in "'`\"":
            position += 1
            while position < length:
                if sql[position] == "\\":
                    position += 2
                    continue
                if sql[position] == char:
                    if position + 1 < length and sql[position + 1] == char:
                        position += 2
                        continue
                    break
                position += 1
            if position >= length:
                return  # unterminated: nothing reliable follows
            position += 1
            kind = "string" if char == "'" else "quoted"
            yield Token(kind, sql[start:position], start, position, depth)
            continue
        if char.isalpha() or char == "_" or ord(char) > 127:
            while position < length and (
                sql[position].isalnum() or sql[position] in "_$" or ord(sql[position]) > 127
            ):
                position += 1
            yield Token("word", sql[start:position], start, position, depth)
            continue
        if char.isdigit():
            while position < length and (sql[position].isalnum() or sql[position] in "._"):
                position += 1
            yield Token("number", sql[start:position], start, position, depth)
            continue
        position += 1
        if char == ")":
            depth = max(0, depth - 1)
        yield Token("punct", char, start, position, depth)
        if char == "(":
            depth += 1


def statement_kind(sql: str) -> str:
    for token in tokens(sql):
        return token.upper or token.text
    return ""


def output_format(sql: str) -> str | None:
    """The name in a trailing `FORMAT name` clause (before any SETTINGS), if there is one."""
    top = [token for token in tokens(sql) if token.depth == 0]
    for index in range(len(top) - 2, -1, -1):
        if top[index].upper != "FORMAT" or top[index + 1].kind not in ("word", "quoted"):
            continue
        after = top[index + 2] if index + 2 < len(top) else None
        if after is None or after.text == ";" or after.upper == "SETTINGS":
            return top[index + 1].name
    return None


@dataclass
class InsertWithData:
    """`INSERT INTO target [(columns)] [SETTINGS ...] FORMAT name` followed by its data."""

    target: str
    columns: list[str] | None  # None: no list, or a list that is not plain names
    columns_sql: str
    settings_sql: str
    format_name: str
    data_offset: int


def parse_insert(raw: bytes) -> InsertWithData | None:
    """The parts of an INSERT that carries data after FORMAT; None for INSERT ... SELECT/VALUES."""
    text = raw.decode("latin-1")  # one character per byte, so offsets are byte offsets
    stream = tokens(text)
    words = [next(stream, None), next(stream, None)]
    if any(token is None for token in words) or [t.upper for t in words if t] != [
        "INSERT",
        "INTO",
    ]:
        return None
    token = next(stream, None)
    if token is not None and token.upper == "TABLE":
        token = next(stream, None)
    if token is not None and token.upper == "FUNCTION":
        raise QueryFailure.of(
            48,
            "NOT_IMPLEMENTED",
            "INSERT INTO FUNCTION with data is not supported by the test server",
        )
    if token is None or token.kind not in ("word", "quoted"):
        return None
    target_start, target_end = token.start, token.end
    token = next(stream, None)
    while token is not None and token.text == ".":
        name = next(stream, None)
        if name is None:
            return None
        target_end = name.end
        token = next(stream, None)
    columns: list[str] | None = None
    columns_sql = ""
    if token is not None and token.text == "(":
        open_at = token.start
        items: list[list[Token]] = []
        current: list[Token] = []
        token = next(stream, None)
        while token is not None and not (token.text == ")" and token.depth == 0):
            if token.text == "," and token.depth == 1:
                items.append(current)
                current = []
            else:
                current.append(token)
            token = next(stream, None)
        if token is None:
            return None
        items.append(current)
        columns_sql = " " + text[open_at : token.end]
        if all(len(item) == 1 and item[0].kind in ("word", "quoted") for item in items):
            columns = [item[0].name for item in items]
        token = next(stream, None)
    settings_start = token.start if token is not None else len(text)
    while token is not None:
        if token.depth == 0 and token.upper in ("VALUES", "SELECT", "WITH"):
            return None
        if token.depth == 0 and token.text == "(" and token.start == settings_start:
            return None  # INSERT INTO t (SELECT ...)
        if token.depth == 0 and token.upper == "FORMAT":
            name = next(stream, None)
            if name is None or name.kind not in ("word", "quoted"):
                return None
            settings_sql = text[settings_start : token.start].strip()
            return InsertWithData(
                target=raw[target_start:target_end].decode(),
                columns=columns,
                columns_sql=columns_sql.encode("latin-1").decode(),
                settings_sql=(" " + settings_sql.encode("latin-1").decode())
                if settings_sql
                else "",
                format_name=name.name,
                data_offset=_data_start(raw, name.end),
            )
        token = next(stream, None)
    return None


def _data_start(raw: bytes, position: int) -> int:
    """ClickHouse's rule: data starts after the first newline, or after the blanks."""
    while position < len(raw) and raw[position] in b" \t\f":
        position += 1
    if position < len(raw) and raw[position] == 0x0D:
        position += 1
    if position < len(raw) and raw[position] == 0x0A:
        position += 1
    return position


def quote_name(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# --- chdb --------------------------------------------------------------------------------------


@dataclass
class Result:
    body: bytes
    result_format: str | None  # None: the statement produced no result set
    timezone: str
    summary: dict[str, str]


@dataclass
class HttpSession:
    connection: chdb_session.Session
    timeout: float
    last_used: float = field(default_factory=time.monotonic)


@dataclass
class Request:
    query: bytes
    database: str | None = None
    settings: dict[str, str] = field(default_factory=dict)
    query_parameters: dict[str, str] = field(default_factory=dict)
    default_format: str = "TabSeparated"
    session_id: str | None = None
    session_timeout: float = 60.0
    session_check: bool = False
    close_session: bool = False
    read_only: bool = False


class ChdbBackend:
    """One chdb data path; one chdb connection per HTTP session, a fresh one otherwise.

    chdb connections on one path share the data but each has its own settings and current
    database, as ClickHouse sessions do. One lock serialises all work on the engine.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.anchor = chdb_session.Session(str(path.resolve()))  # keeps the engine open
        self.sessions: dict[str, HttpSession] = {}
        row = self.anchor.query("select version(), timezone()", "TabSeparated").bytes()
        self.version, self.timezone = row.decode().rstrip("\n").split("\t")
        self.http_compression = _query(
            self.anchor, "select getSetting('enable_http_compression')"
        ).strip() in (b"1", b"true")
        self.scratch = Path(tempfile.mkdtemp(prefix="ch-http-insert-"))

    def close(self) -> None:
        with self.lock:
            for session in self.sessions.values():
                session.connection.close()
            self.sessions.clear()
            self.anchor.close()
            for leftover in self.scratch.glob("*"):
                leftover.unlink(missing_ok=True)
            self.scratch.rmdir()

    def run(self, request: Request) -> Result:
        with self.lock:
            self._expire_sessions()
            if request.session_id:
                session = self._session(request)
                try:
                    return self._run_in_session(session.connection, request)
                finally:
                    session.last_used = time.monotonic()
                    if request.close_session and request.session_id in self.sessions:
                        self.sessions.pop(request.session_id).connection.close()
            connection = chdb_session.Session(str(self.path.resolve()))
            try:
                self._enter(connection, request)
                return self._execute(connection, request)
            finally:
                connection.close()

    # sessions ----------------------------------------------------------------------------
    def _expire_sessions(self) -> None:
        now = time.monotonic()
        for session_id, session in list(self.sessions.items()):
            if now - session.last_used > session.timeout:
                self.sessions.pop(session_id).connection.close()

    def _session(self, request: Request) -> HttpSession:
        assert request.session_id is not None
        session = self.sessions.get(request.session_id)
        if session is None:
            if request.session_check:
                raise QueryFailure.of(
                    372, "SESSION_NOT_FOUND", f"Session {request.session_id} not found"
                )
            connection = chdb_session.Session(str(self.path.resolve()))
            session = HttpSession(connection, request.session_timeout)
            self.sessions[request.session_id] = session
        session.timeout = request.session_timeout
        return session

    def _run_in_session(self, connection: chdb_session.Session, request: Request) -> Result:
        # URL settings and `database` apply to this request only; SET and USE inside the
        # session's own statements persist, as on a server.
        saved_settings: dict[str, str] = {}
        if request.settings:
            names = ", ".join(sql_string(name) for name in request.settings)
            rows = _query(
                connection, f"select name, value from system.settings where name in ({names})"
            )
            saved_settings = dict(_tsv_rows(rows))
        saved_database = _query(connection, "select currentDatabase()").decode().rstrip("\n")
        succeeded = False
        try:
            self._enter(connection, request)
            result = self._execute(connection, request)
            succeeded = True
            return result
        finally:
            try:
                if saved_settings:
                    _set(connection, saved_settings)
                if request.database:
                    _query(connection, f"use {quote_name(_unescape(saved_database))}")
                if succeeded and statement_kind(request.query.decode("latin-1")) in ("SET", "USE"):
                    # The statement's own change belongs to the session: apply it again.
                    self._execute(connection, replace(request, read_only=False))
            except QueryFailure:
                # A setting that cannot be put back (readonly=1): drop the session instead.
                if request.session_id and request.session_id in self.sessions:
                    self.sessions.pop(request.session_id).connection.close()

    # statements --------------------------------------------------------------------------
    def _enter(self, connection: chdb_session.Session, request: Request) -> None:
        if request.settings:
            _set(connection, request.settings)
        if request.database:
            _query(connection, f"use {quote_name(request.database)}")

    def _execute(self, connection: chdb_session.Session, request: Request) -> Result:
        kind = statement_kind(request.query.decode("latin-1"))
        if not kind:
            raise QueryFailure.of(62, "SYNTAX_ERROR", "Empty query")
        if request.read_only and kind not in READ_ONLY_KINDS:
            raise QueryFailure(
                164,
                "Code: 164. DB::Exception: Cannot execute query in readonly mode. "
                "For queries over HTTP, method GET implies readonly. "
                "You should use method POST for modifying queries. (READONLY)",
            )
        if kind == "INSERT":
            insert = parse_insert(request.query)
            if insert is not None:
                return self._insert(connection, request, insert)
        sql = request.query.decode("utf-8", errors="replace")
        fmt = None
        timezone = self.timezone
        if kind in RESULT_KINDS:
            fmt = output_format(sql) or request.default_format
            if fmt.lower() in CHDB_ONLY_FORMATS:
                raise QueryFailure.of(73, "UNKNOWN_FORMAT", f"Unknown format {fmt}")
            timezone = _query(connection, "select timezone()").decode().rstrip("\n")
        started = time.perf_counter_ns()
        result = _run(connection, sql, request.default_format, request.query_parameters or None)
        body = result.bytes() or b""
        return Result(body, fmt, timezone, _summary(result, started, len(body)))

    def _insert(
        self, connection: chdb_session.Session, request: Request, insert: InsertWithData
    ) -> Result:
        data = request.query[insert.data_offset :]
        started = time.perf_counter_ns()
        if not data:
            return Result(b"", None, self.timezone, _summary(None, started, 0))
        structure = self._structure(connection, insert)
        data_file = self.scratch / f"{uuid.uuid4().hex}.bin"
        reader_args = [sql_string(str(data_file)), sql_string(insert.format_name)]
        if structure:
            reader_args.append(sql_string(structure))
        sql = (
            f"insert into {insert.target}{insert.columns_sql}{insert.settings_sql} "
            f"select * from file({', '.join(reader_args)})"
        )
        data_file.write_bytes(data)
        try:
            result = _run(connection, sql, "TabSeparated", request.query_parameters or None)
        finally:
            data_file.unlink(missing_ok=True)
        return Result(b"", None, self.timezone, _summary(result, started, 0))

    def _structure(self, connection: chdb_session.Session, insert: InsertWithData) -> str | None:
        """The target's types for the inserted columns: the server parses input with them."""
        rows = [
            json.loads(line)
            for line in _query(connection, f"describe table {insert.target}", "JSONEachRow")
            .decode()
            .splitlines()
            if line.strip()
        ]
        types = {row["name"]: row["type"] for row in rows}
        if insert.columns is None:
            if insert.columns_sql:
                return None  # a column list that is not plain names: let chdb infer
            names = [
                row["name"] for row in rows if row["default_type"] not in ("MATERIALIZED", "ALIAS")
            ]
        else:
            names = insert.columns
        if any(name not in types for name in names):
            return None  # chdb reports the unknown column itself
        return ", ".join(f"{quote_name(name)} {types[name]}" for name in names)


def _run(
    connection: chdb_session.Session,
    sql: str,
    fmt: str = "TabSeparated",
    parameters: dict[str, str] | None = None,
) -> Any:
    try:
        if parameters:
            return connection.query(sql, fmt, params=parameters)
        return connection.query(sql, fmt)
    except Exception as exc:  # chdb raises ChdbError / RuntimeError with ClickHouse's text
        raise QueryFailure.from_chdb(exc) from exc


def _query(connection: chdb_session.Session, sql: str, fmt: str = "TabSeparated") -> bytes:
    return _run(connection, sql, fmt).bytes() or b""


def _set(connection: chdb_session.Session, settings: dict[str, str]) -> None:
    assignments = ", ".join(f"{name} = {sql_string(value)}" for name, value in settings.items())
    _query(connection, f"set {assignments}")


def _tsv_rows(body: bytes) -> list[tuple[str, str]]:
    rows = []
    for line in body.decode().splitlines():
        name, _, value = line.partition("\t")
        rows.append((name, _unescape(value)))
    return rows


def _unescape(value: str) -> str:
    escapes = {"t": "\t", "n": "\n", "\\": "\\", "0": "\0", "r": "\r", "'": "'", "b": "\b"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(1)), value)


def _summary(result: Any, started_ns: int, result_bytes: int) -> dict[str, str]:
    def number(method: str) -> int:
        return int(getattr(result, method)()) if result is not None else 0

    return {
        "read_rows": str(number("rows_read")),
        "read_bytes": str(number("bytes_read")),
        "written_rows": str(number("rows_written")),
        "written_bytes": str(number("bytes_written")),
        "total_rows_to_read": str(number("rows_read")),
        "result_bytes": str(result_bytes),
        "elapsed_ns": str(time.perf_counter_ns() - started_ns),
    }


# --- HTTP -------------------------------------------------------------------------------------


class ShimServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        backend: ChdbBackend,
        *,
        user: str,
        password: str | None,
        display_name: str,
        verbose: bool,
    ) -> None:
        super().__init__(address, Handler)
        self.backend = backend
        self.user = user
        self.password = password
        self.display_name = display_name
        self.verbose = verbose


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ShimServer

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    # ---------------------------------------------------------------------------------
    def _handle(self) -> None:
        query_id = str(uuid.uuid4())
        params: dict[str, str] = {}
        try:
            url = urlsplit(self.path)
            body = self._read_body()
            if url.path in ("/ping", "/replicas_status"):
                self._reply(200, b"Ok.\n", {"Content-Type": "text/html; charset=UTF-8"})
                return
            if url.path != "/":
                text = f"There is no handle {url.path}\n\nUse / or /ping for health checks.\n"
                self._reply(404, text.encode(), {"Content-Type": "text/plain; charset=UTF-8"})
                return
            params = dict(parse_qsl(url.query, keep_blank_values=True))
            query_id = params.get("query_id") or query_id
            self._authenticate(params)
            request = self._request(params, body)
            result = self.server.backend.run(request)
        except QueryFailure as failure:
            self._fail(failure, query_id)
            return
        except Exception as exc:  # a bug here must still answer like a server
            self._fail(
                QueryFailure.of(1001, "STD_EXCEPTION", f"{type(exc).__name__}: {exc}"), query_id
            )
            return
        self._answer(result, params, query_id)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = bytearray()
            while True:
                size = int(self.rfile.readline(65537).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(chunks)
                chunks += self.rfile.read(size)
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _authenticate(self, params: dict[str, str]) -> None:
        user = self.headers.get("X-ClickHouse-User") or params.get("user") or "default"
        password = self.headers.get("X-ClickHouse-Key") or params.get("password") or ""
        authorization = self.headers.get("Authorization", "")
        if authorization.lower().startswith("basic "):
            decoded = base64.b64decode(authorization[6:].strip()).decode()
            user, _, password = decoded.partition(":")
        if self.server.password is None:
            return
        if user != self.server.user or password != self.server.password:
            raise QueryFailure.of(
                516,
                "AUTHENTICATION_FAILED",
                f"{user}: Authentication failed: password is incorrect, "
                "or there is no user with such name",
            )

    def _request(self, params: dict[str, str], body: bytes) -> Request:
        if self.headers.get("Content-Type", "").startswith("multipart/form-data"):
            raise QueryFailure.of(
                48, "NOT_IMPLEMENTED", "multipart requests (external data) are not supported"
            )
        for unsupported in ("compress", "decompress"):
            if params.get(unsupported, "0") not in ("0", ""):
                raise QueryFailure.of(
                    48,
                    "NOT_IMPLEMENTED",
                    f"{unsupported}=1 (native block compression) is not supported",
                )
        body = _decode_body(body, self.headers.get("Content-Encoding", ""))
        query_param = params.get("query", "")
        query = (query_param.encode() + b"\n" + body) if query_param else body
        return Request(
            query=query,
            database=params.get("database") or None,
            settings={
                name: value
                for name, value in params.items()
                if name not in TRANSPORT_PARAMS and not name.startswith("param_")
            },
            query_parameters={
                name.removeprefix("param_"): value
                for name, value in params.items()
                if name.startswith("param_")
            },
            default_format=params.get("default_format") or "TabSeparated",
            session_id=params.get("session_id") or None,
            session_timeout=float(params.get("session_timeout") or 60),
            session_check=params.get("session_check") == "1",
            close_session=params.get("close_session") == "1",
            read_only=self.command == "GET",
        )

    def _answer(self, result: Result, params: dict[str, str], query_id: str) -> None:
        headers = {
            "X-ClickHouse-Summary": json.dumps(result.summary, separators=(",", ":")),
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Server-Display-Name": self.server.display_name,
            "Content-Type": "text/plain; charset=UTF-8",
        }
        if params.get("session_id"):
            headers["X-ClickHouse-Session-Id"] = params["session_id"]
        if result.result_format is not None:
            headers["X-ClickHouse-Format"] = result.result_format
            headers["X-ClickHouse-Timezone"] = result.timezone
            headers["Content-Type"] = _content_type(result.result_format)
        body = result.body
        # ClickHouse compresses a response when enable_http_compression is on (a URL
        # setting, or the server default, which is 1 in recent versions) and the client
        # accepts an encoding it knows.
        compression = params.get("enable_http_compression")
        enabled = (
            self.server.backend.http_compression
            if compression is None
            else compression in ("1", "true")
        )
        if body and enabled:
            encoding = _pick_encoding(self.headers.get("Accept-Encoding", ""))
            if encoding:
                body = _encode(body, encoding)
                headers["Content-Encoding"] = encoding
        self._reply(200, body, headers)

    def _fail(self, failure: QueryFailure, query_id: str) -> None:
        message = failure.message.rstrip()
        if not _VERSION_TRAILER.search(message):
            message = f"{message} (version {self.server.backend.version})"
        headers = {
            "X-ClickHouse-Exception-Code": str(failure.code),
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Server-Display-Name": self.server.display_name,
            "Content-Type": "text/plain; charset=UTF-8",
        }
        self._reply(_STATUS_BY_CODE.get(failure.code, 500), (message + "\n").encode(), headers)

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Keep-Alive", "timeout=10")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def _decode_body(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if not body or encoding in ("", "identity"):
        return body
    try:
        if encoding == "gzip":
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
        if encoding == "zstd" and zstd is not None:
            return bytes(zstd.decompress(body))
        if encoding == "lz4" and lz4_frame is not None:
            out, rest = bytearray(), body
            while rest:  # clickhouse-connect sends one LZ4 frame per block
                decompressor = lz4_frame.LZ4FrameDecompressor()
                out += decompressor.decompress(rest)
                rest = decompressor.unused_data
                if not decompressor.eof:
                    raise ValueError("truncated lz4 frame")
            return bytes(out)
    except Exception as exc:
        raise QueryFailure.of(
            432, "UNKNOWN_CODEC", f"Cannot decompress request body ({encoding}): {exc}"
        ) from exc
    raise QueryFailure.of(36, "BAD_ARGUMENTS", f"Unknown HTTP compression method {encoding!r}")


def _pick_encoding(accept: str) -> str | None:
    offered = {part.split(";")[0].strip().lower() for part in accept.split(",") if part.strip()}
    return next((name for name in RESPONSE_ENCODINGS if name in offered), None)


def _encode(body: bytes, encoding: str) -> bytes:
    if encoding == "zstd":
        return bytes(zstd.compress(body))
    if encoding == "lz4":
        return bytes(lz4_frame.compress(body))
    if encoding == "gzip":
        return gzip.compress(body)
    return zlib.compress(body)


def _content_type(fmt: str) -> str:
    name = fmt.lower()
    if name.startswith(("tabseparated", "tsv")):
        return "text/tab-separated-values; charset=UTF-8"
    if name.startswith("csv"):
        return "text/csv; charset=UTF-8; header=" + ("present" if "names" in name else "absent")
    if name.startswith("json"):
        return "application/json; charset=UTF-8"
    if name in ("pretty", "vertical", "markdown", "values") or name.startswith("pretty"):
        return "text/plain; charset=UTF-8"
    return "application/octet-stream"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8123, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--path", type=Path, required=True, help="chdb data directory")
    parser.add_argument("--user", default="default")
    parser.add_argument("--password", default=None, help="require this user and password")
    parser.add_argument("--display-name", default=socket.gethostname())
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    backend = ChdbBackend(args.path)
    server = ShimServer(
        (args.host, args.port),
        backend,
        user=args.user,
        password=args.password,
        display_name=args.display_name,
        verbose=args.verbose,
    )

    def stop(*_: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(
        f"{READY} at http://{args.host}:{server.server_port} "
        f"(ClickHouse {backend.version} via chdb, data {args.path}, pid {os.getpid()})",
        flush=True,
    )
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
