"""The e-mail provider: pooled, pipelined SMTP to a smart host or straight to the MX.

    provider = SmtpProvider(SmtpRoute(host="smtp.relay.example", port=587,
                                      tls="require_starttls", auth=("herald", "secret"),
                                      helo_name="mail.shop.example"))
    result = await provider.send(outbound)  # content: {"message": bytes, "mail_from": str}
    await provider.close()

    direct = SmtpProvider(SmtpRoute(helo_name="mail.shop.example", verify_tls=False),
                          resolve=resolve_mx)     # domain -> [(host, port), …] by preference

Connections are pooled per destination group and reused: the smart host is one group
(every destination shares its connections); direct to MX, each destination domain is one.
A group holds at most `max_connections`; a send that finds them all busy waits for one.
Each connection serves one send at a time and is retired (QUIT) after
`messages_per_connection` accepted messages, or once idle for `idle_timeout` seconds (checked
when sends come; `close()` ends the rest).

Outcomes:
- A server's reply is sorted by senders/bounces.py (`classify_smtp_reply`); the diagnostic
  names the host, the command answered and the reply ("mx1.example:25 rcpt: 550 5.1.1 …").
- No session (refused, name lookup, timeout, TLS, a refused greeting, EHLO or AUTH):
  the next MX host is tried; when none is left, `deferred` naming every host:port tried.
- The resolver's own failure defers ("dns"), unless the error says `permanent` (as
  senders/mx.py's MxPermanentError does for NXDOMAIN and null MX): then `bounced`, 5.4.4,
  bounce type "dns" (which does not suppress the address).
- A connection that times out, hangs up or answers garbage (not three digits) mid-send is
  dropped and the message is `deferred` (bounce type "network"): nothing says the message
  or the address is at fault, and a retry on a fresh connection is the usual cure. A reused
  connection that fails before the body was sent is retried once on a fresh one at once,
  since a server closing an idle connection says nothing about the message.
- A message the connection cannot carry (a non-ASCII address without SMTPUTF8, CR/LF in an
  address) or without bytes or sender is `failed` before anything is sent.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from senders.bounces import classify_smtp_reply
from senders.channel import DeliveryResult, OutboundMessage, one_line
from senders.smtp import (
    TLS_MODES,
    Reply,
    SmtpConnection,
    SmtpConnectionLost,
    SmtpError,
    SmtpMessageError,
    SmtpTimeout,
    TlsMode,
)

Resolver = Callable[[str], Awaitable[list[tuple[str, int]]]]
_QUEUED_AS = re.compile(r"queued as\s+<?([\w.@-]+)>?", re.IGNORECASE)


class SmtpRouteError(SmtpError):
    """An SMTP route is configured in a way that cannot work."""


@dataclass(frozen=True)
class SmtpRoute:
    """Where e-mail goes: a smart host (`host` set) or each domain's MX (`host` None).

    `tls`: "none", "starttls" (when offered), "require_starttls" or "implicit" (port 465).
    `ssl_context`, when given, is used as it is (load a private CA into it); otherwise
    `verify_tls` picks a verifying default context or one that checks nothing (usual for
    opportunistic TLS to MX hosts).
    """

    host: str | None = None
    port: int = 25
    tls: TlsMode = "starttls"
    verify_tls: bool = True
    auth: tuple[str, str] | None = None
    ssl_context: ssl.SSLContext | None = None
    helo_name: str = field(default_factory=socket.getfqdn)
    max_connections: int = 4
    messages_per_connection: int = 100
    idle_timeout: float = 30.0
    connect_timeout: float = 30.0
    command_timeout: float = 60.0
    data_timeout: float = 120.0

    def __post_init__(self) -> None:
        if self.tls not in TLS_MODES:
            raise SmtpRouteError(f"tls must be one of {', '.join(TLS_MODES)}, not {self.tls!r}")
        if self.max_connections < 1 or self.messages_per_connection < 1:
            raise SmtpRouteError("max_connections and messages_per_connection must be >= 1")
        if not self.helo_name:
            raise SmtpRouteError("helo_name is empty: give the sending host's name")


@dataclass(eq=False)
class _Pool:
    """One destination group: its idle connections, and one slot per connection allowed.

    A send holds a slot while it uses a connection, so idle + busy <= max_connections.
    """

    slots: asyncio.Semaphore
    idle: list[tuple[SmtpConnection, float]] = field(default_factory=list)  # (conn, since)


class _NoSession(Exception):
    """No host of a destination gave a session: the result to return instead."""

    def __init__(self, result: DeliveryResult) -> None:
        self.result = result
        super().__init__(result.diagnostic)


class SmtpProvider:
    """The "email" channel provider over SMTP (see the module docstring)."""

    channel = "email"

    def __init__(self, route: SmtpRoute, *, resolve: Resolver | None = None) -> None:
        if route.host is None and resolve is None:
            raise SmtpRouteError("a route without a smart host needs an MX resolver (resolve=)")
        self.route = route
        self.resolve = resolve
        self._pools: dict[str, _Pool] = {}
        self._retiring: set[asyncio.Task[None]] = set()
        self._closed = False
        self._last_sweep = 0.0

    async def send(self, message: OutboundMessage) -> DeliveryResult:
        body = message.content.get("message")
        mail_from = message.content.get("mail_from")
        if not isinstance(body, bytes | bytearray) or not isinstance(mail_from, str):
            return DeliveryResult(
                outcome="failed",
                diagnostic='content needs "message" (bytes) and "mail_from" (str)',
                bounce_type="content",
            )
        pool = self._pool(message.destination)
        self._retire_idle()
        for attempt in range(2):
            try:
                connection, reused = await self._acquire(pool, message.destination)
            except _NoSession as error:
                return error.result
            keep = False
            try:
                reply = await connection.send(
                    mail_from, message.recipient, bytes(body), message.attributes.get("on_handed")
                )
                keep = True
            except SmtpMessageError as error:
                keep = True
                return DeliveryResult(outcome="failed", diagnostic=one_line(str(error)))
            except (SmtpConnectionLost, SmtpTimeout) as error:
                if reused and attempt == 0 and error.stage in ("mail", "rcpt", "data"):
                    continue
                return _transport_result(error)
            except SmtpError as error:
                return _transport_result(error)
            finally:
                self._release(pool, connection, keep)
            return _reply_result(connection, reply)
        raise AssertionError("unreachable: the second attempt always returns")

    async def flush(self) -> None:
        """Nothing is buffered: every send finishes its own transaction."""

    async def close(self) -> None:
        """QUIT every idle connection (busy ones are retired when their send ends)."""
        self._closed = True
        idle = [connection for pool in self._pools.values() for connection, _ in pool.idle]
        for pool in self._pools.values():
            pool.idle.clear()
        await asyncio.gather(
            *(connection.quit() for connection in idle), *self._retiring, return_exceptions=True
        )

    def _pool(self, destination: str) -> _Pool:
        key = f"{self.route.host}:{self.route.port}" if self.route.host else destination.lower()
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = _Pool(asyncio.Semaphore(self.route.max_connections))
        return pool

    async def _acquire(self, pool: _Pool, destination: str) -> tuple[SmtpConnection, bool]:
        """An idle connection of the group (reused=True), or a new one; waits for a slot."""
        await pool.slots.acquire()
        try:
            while pool.idle:
                connection, _ = pool.idle.pop()
                if connection.usable:
                    return connection, True
                connection.abort()
            return await self._open(destination), False
        except BaseException:
            pool.slots.release()
            raise

    def _release(self, pool: _Pool, connection: SmtpConnection, keep: bool) -> None:
        """Back to the pool; or QUIT when retired; or closed at once when its state is unknown.

        `keep` is False when the send broke off (an error or a cancellation), possibly in
        the middle of a transaction: a QUIT then could land inside the message's content.
        """
        if not keep or not connection.usable:
            connection.abort()
        elif self._closed or connection.messages_sent >= self.route.messages_per_connection:
            self._quit(connection)
        else:
            pool.idle.append((connection, asyncio.get_running_loop().time()))
        pool.slots.release()

    def _quit(self, connection: SmtpConnection) -> None:
        task = asyncio.get_running_loop().create_task(connection.quit())
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    def _retire_idle(self) -> None:
        """QUIT connections idle longer than `idle_timeout` (looked at once a second at most).

        Direct to MX there is a group per domain: without this a campaign over many domains
        would keep a connection open to every one of them.
        """
        now = asyncio.get_running_loop().time()
        if now - self._last_sweep < 1.0:
            return
        self._last_sweep = now
        oldest_kept = now - self.route.idle_timeout
        for pool in self._pools.values():
            if pool.idle and pool.idle[0][1] < oldest_kept:  # oldest first: a LIFO stack
                for connection, since in pool.idle:
                    if since < oldest_kept:
                        self._quit(connection)
                pool.idle = [entry for entry in pool.idle if entry[1] >= oldest_kept]

    async def _open(self, destination: str) -> SmtpConnection:
        route = self.route
        if route.host is not None:
            hosts = [(route.host, route.port)]
        else:
            assert self.resolve is not None
            try:
                hosts = await self.resolve(destination)
            except Exception as error:  # the resolver is another module's: any failure defers
                raise _NoSession(_resolve_failure(destination, error)) from error
            if not hosts:
                raise _NoSession(_deferred(f"no MX hosts for {destination}", "dns"))
        failures: list[str] = []
        for host, port in hosts:
            try:
                return await SmtpConnection.open(
                    host,
                    port,
                    helo_name=route.helo_name,
                    tls=route.tls,
                    verify_tls=route.verify_tls,
                    ssl_context=route.ssl_context,
                    auth=route.auth,
                    connect_timeout=route.connect_timeout,
                    command_timeout=route.command_timeout,
                    data_timeout=route.data_timeout,
                )
            except SmtpError as error:
                failures.append(str(error))
        raise _NoSession(_deferred("; ".join(failures), "network"))


def _deferred(diagnostic: str, bounce_type: str) -> DeliveryResult:
    return DeliveryResult(
        outcome="deferred", diagnostic=one_line(diagnostic), bounce_type=bounce_type
    )


def _resolve_failure(destination: str, error: Exception) -> DeliveryResult:
    """A resolver's error as a result: bounced (5.4.4) when it says `permanent`, else deferred.

    senders/mx.py's MxPermanentError (NXDOMAIN, null MX) is permanent; any resolver works.
    """
    diagnostic = f"no MX hosts for {destination}: {error}"
    if getattr(error, "permanent", False):
        return DeliveryResult(
            outcome="bounced", status="5.4.4", diagnostic=one_line(diagnostic), bounce_type="dns"
        )
    return _deferred(diagnostic, "dns")


def _transport_result(error: SmtpError) -> DeliveryResult:
    return _deferred(str(error), "network")


def _reply_result(connection: SmtpConnection, reply: Reply) -> DeliveryResult:
    result = classify_smtp_reply(reply.code, reply.text, enhanced=reply.enhanced)
    diagnostic = one_line(f"{connection.host}:{connection.port} {reply.stage}: {reply}")
    queued = _QUEUED_AS.search(reply.text) if reply.ok else None
    return replace(
        result,
        diagnostic=diagnostic,
        provider_id=result.provider_id or (queued.group(1) if queued else None),
    )
