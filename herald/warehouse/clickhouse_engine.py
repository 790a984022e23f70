"""ClickHouse server or cluster over HTTP, through clickhouse-connect.

Only transport lives here; the SQL of tables, swaps and the catalogue is in
`clickhouse_base`. Every request carries `SESSION_SETTINGS` as URL settings, so no
server-side session is needed (and none is opened: sessions pin a client to one server
behind a load balancer and forbid concurrent queries from one client).
"""

from __future__ import annotations

import logging
import re
import socket
import ssl
from collections.abc import Callable
from typing import TypeVar

import clickhouse_connect
import pyarrow as pa
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError, Error

from herald.errors import SettingsError, WarehouseError
from herald.settings import WarehouseURL
from herald.warehouse.clickhouse_base import SESSION_SETTINGS, ClickHouseBase, _sql_string
from herald.warehouse.read_only import check_read_only

T = TypeVar("T")

# ClickHouse error codes that mean the URL's user or password is wrong, not the SQL.
_AUTH_CODES = {192, 193, 194, 516}  # UNKNOWN_USER, WRONG_PASSWORD, REQUIRED_PASSWORD, AUTH...
_SERVER_RESPONSE = re.compile(r"server response:\s*(.*)", re.DOTALL)
_VERSION_TRAILER = re.compile(r"\s*\(version\s+(?:[^()]|\([^()]*\))*\)\s*$")
_URL_TRAILER = re.compile(r"\s*\(for url [^)]*\)\s*$")


class _DropTransportTraceback(logging.Filter):
    """clickhouse-connect logs a stack trace for every failed HTTP request before raising;
    Herald turns that exception into one SettingsError line, so the log record is noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "Unexpected Http Driver Exception"


logging.getLogger("clickhouse_connect.driver._backend.http_sync").addFilter(
    _DropTransportTraceback()
)


class ClickHouseWarehouse(ClickHouseBase):
    engine = "clickhouse"

    def __init__(
        self,
        url: WarehouseURL,
        database: str = "herald",
        *,
        connect_timeout: int = 10,
        send_receive_timeout: int = 300,
        read_only: bool = False,
    ):
        self.url = url
        self.database = database
        self.read_only = False
        self._client = self._connect(connect_timeout, send_receive_timeout)
        self.ensure_database()
        # From here on every request names Herald's database as the current one.
        self._client.database = database
        if read_only:
            # The server refuses writes itself; the check below gives a clearer message first.
            self._client.set_client_setting("readonly", "2")
            self.read_only = True

    def _connect(self, connect_timeout: int, send_receive_timeout: int) -> Client:
        # Connect to `default`: Herald's database may not exist yet.
        return self._call(
            lambda: clickhouse_connect.get_client(
                host=self.url.host,
                port=self.url.port,
                username=self.url.user,
                password=self.url.password,
                secure=self.url.secure,
                database="default",
                settings=dict(SESSION_SETTINGS),
                connect_timeout=connect_timeout,
                send_receive_timeout=send_receive_timeout,
                autogenerate_session_id=False,
                show_clickhouse_errors="scrub",
                client_name="herald",
            )
        )

    def ensure_database(self) -> None:
        # Checked first so a user without CREATE DATABASE can use an existing database.
        exists = self.query_arrow(
            f"select count() as n from system.databases where name = {_sql_string(self.database)}"
        )
        if not exists.num_rows or not exists.column(0)[0].as_py():
            super().ensure_database()

    # --- transport ----------------------------------------------------------------------
    def command(self, sql: str) -> None:
        if self.read_only:
            check_read_only(sql, self.dialect)
        self._call(lambda: self._client.command(sql))

    def query_arrow(self, sql: str) -> pa.Table:
        if self.read_only:
            check_read_only(sql, self.dialect)
        # The request client.query_arrow makes (`FORMAT Arrow`), read here so that a
        # statement without a result set (an empty body) gives an empty table, as on chdb.
        body = self._call(lambda: self._client.raw_query(sql, fmt="Arrow"))
        if not body:
            return pa.table({})
        return pa.ipc.open_file(pa.py_buffer(body)).read_all()

    def insert_arrow(self, table: str, data: pa.Table) -> int:
        """`INSERT INTO t (columns of data) FORMAT Arrow`: the server matches columns by name."""
        if data.num_rows == 0:
            return 0
        self._call(lambda: self._client.insert_arrow(self.qualify(table), data))
        return data.num_rows

    def close(self) -> None:
        client = getattr(self, "_client", None)
        if client is not None:
            client.close()
            self._client = None  # type: ignore[assignment]

    # --- errors -------------------------------------------------------------------------
    def _call(self, action: Callable[[], T]) -> T:
        """Run one client call, turning its failures into Herald's errors."""
        try:
            return action()
        except Error as exc:
            raise self._translate(exc) from None

    def _translate(self, exc: Error) -> Exception:
        where = f"{self.url.host}:{self.url.port}"
        reason = _transport_reason(exc)
        if reason is not None:
            return SettingsError(
                "HERALD_WAREHOUSE", f"cannot reach ClickHouse at {where}: {reason}"
            )
        message = _server_message(exc)
        if exc.code in _AUTH_CODES:
            return SettingsError(
                "HERALD_WAREHOUSE",
                f"ClickHouse at {where} refused user {self.url.user!r}: {message}",
            )
        return WarehouseError(message)


def _transport_reason(exc: Error) -> str | None:
    """A short reason when the request never got a ClickHouse answer, else None."""
    if not isinstance(exc, DatabaseError) or exc.code is not None:
        return None
    text = str(exc)
    if "Received ClickHouse exception" in text or "server response:" in text:
        return None
    cause: BaseException | None = exc
    seen: set[int] = set()
    os_error: OSError | None = None
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, OSError):
            os_error = cause
        reason = getattr(cause, "reason", None)  # urllib3 MaxRetryError / ProtocolError
        if isinstance(reason, BaseException):
            cause = reason
        else:
            cause = cause.__cause__ or cause.__context__
    if isinstance(os_error, socket.gaierror):
        return "unknown host"
    if isinstance(os_error, ssl.SSLError):
        detail = getattr(os_error, "verify_message", None) or str(os_error.reason or os_error)
        return f"TLS handshake failed ({detail.lower().replace('_', ' ')})"
    if isinstance(os_error, TimeoutError) or "timed out" in text.lower():
        return "timed out"
    if os_error is not None and os_error.strerror:
        return os_error.strerror.lower()
    if "HTTP driver received HTTP status" in text:
        # An HTTP answer without a ClickHouse exception code: a proxy or another server.
        status = text.split("HTTP status", 1)[1].split(",")[0].split("(")[0].strip()
        return f"got HTTP {status} from something that is not ClickHouse"
    if "Error executing HTTP request" in text or "executing HTTP request" in text:
        return "the connection failed"
    return None


def _server_message(exc: Error) -> str:
    """The first line of the server's error text, without the client's and server's trailers."""
    text = str(exc)
    match = _SERVER_RESPONSE.search(text)
    if match:
        text = match.group(1)
    lines = text.strip().splitlines()
    first = lines[0] if lines else "ClickHouse error"
    first = _URL_TRAILER.sub("", first)
    first = _VERSION_TRAILER.sub("", first)
    return first.split(". Stack trace")[0].strip()
