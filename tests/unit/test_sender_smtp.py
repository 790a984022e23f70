"""The SMTP client and the e-mail provider against a real SMTP server (aiosmtpd in a thread).

The test server (`MailServer`) records what it received, every chunk it read (to see
pipelining), and how many sessions it had at once; its handler (`Mailbox`) can be told to
refuse recipients of a domain, to answer garbage, or to hang up after a message's content.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from senders.channel import DeliveryResult, OutboundMessage
from senders.mx import MxPermanentError
from senders.providers import PROVIDERS
from senders.providers.smtp import SmtpProvider, SmtpRoute
from senders.smtp import (
    SmtpConnection,
    SmtpProtocolError,
    dot_stuff,
    parse_reply,
)

T = TypeVar("T")

MESSAGE = (
    b"From: Shop <news@shop.example>\r\n"
    b"To: ann@example.com\r\n"
    b"Subject: Sale\r\n"
    b"\r\n"
    b"Hello Ann,\r\n"
    b".a line that starts with a dot\r\n"
    b"..two dots\r\n"
    b".\r\n"
    b"the end\r\n"
)


# --- the test server ---------------------------------------------------------------------


@dataclass
class Mailbox:
    """An aiosmtpd handler that keeps envelopes and misbehaves on request."""

    pipelining: bool = True
    refuse: dict[str, str] = field(default_factory=dict)  # recipient domain -> reply line
    hang_up_after_data: int = 0  # hang up instead of answering this many messages
    data_delay: float = 0.0
    received: list[Envelope] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    sessions: int = 0
    open_sessions: int = 0
    peak_sessions: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list
    ) -> list[str]:
        session.host_name = hostname
        if self.pipelining:
            return [*responses[:-1], "250-PIPELINING", responses[-1]]
        return responses

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        answer = self.refuse.get(address.rsplit("@", 1)[-1])
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if self.hang_up_after_data:
            self.hang_up_after_data -= 1
            assert server.transport is not None
            server.transport.close()
            return "250 never seen"
        self.received.append(envelope)
        return f"250 2.0.0 Ok: queued as Q{len(self.received)}"

    def session_started(self) -> None:
        with self.lock:
            self.sessions += 1
            self.open_sessions += 1
            self.peak_sessions = max(self.peak_sessions, self.open_sessions)

    def session_ended(self) -> None:
        with self.lock:
            self.open_sessions -= 1

    def pipelined_chunks(self) -> list[bytes]:
        return [c for c in self.chunks if b"MAIL FROM" in c and b"RCPT TO" in c and b"DATA" in c]


class RecordingSMTP(SMTP):
    """aiosmtpd's server, telling the mailbox what it read and when sessions begin and end."""

    counted = False

    def data_received(self, data: bytes) -> None:
        mailbox: Mailbox = self.event_handler
        if not self.counted:
            self.counted = True  # the controller's own start-up probe never sends anything
            mailbox.session_started()
        mailbox.chunks.append(data)
        super().data_received(data)

    def connection_lost(self, error: Exception | None) -> None:
        if self.counted:
            self.event_handler.session_ended()
        super().connection_lost(error)


class MailServer(Controller):
    def factory(self) -> SMTP:
        return RecordingSMTP(self.handler, **self.SMTP_kwargs)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def start_server() -> Iterator[Callable[..., tuple[Mailbox, int]]]:
    servers: list[MailServer] = []

    def start(mailbox: Mailbox | None = None, **smtp_options: Any) -> tuple[Mailbox, int]:
        mailbox = mailbox or Mailbox()
        server = MailServer(mailbox, hostname="127.0.0.1", port=free_port(), **smtp_options)
        server.start()
        servers.append(server)
        return mailbox, server.port

    yield start
    for server in servers:
        server.stop()


@dataclass(frozen=True)
class Certificate:
    cert_file: Path
    key_file: Path
    pem: bytes

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost (its own CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Herald test SMTP")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (folder / "cert.pem").write_bytes(pem)
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(folder / "cert.pem", folder / "key.pem", pem)


# --- helpers -----------------------------------------------------------------------------


def run(scenario: Awaitable[T]) -> T:
    return asyncio.run(scenario)  # type: ignore[arg-type]


def route(port: int, **options: Any) -> SmtpRoute:
    defaults: dict[str, Any] = {"host": "127.0.0.1", "port": port, "tls": "none"}
    return SmtpRoute(helo_name="sender.test", **(defaults | options))


def outbound(recipient: str = "ann@example.com", message: bytes = MESSAGE) -> OutboundMessage:
    return OutboundMessage(
        key=f"run-1:{recipient}",
        channel="email",
        recipient=recipient,
        destination=recipient.rsplit("@", 1)[-1],
        content={"message": message, "mail_from": "bounces@shop.example"},
    )


async def send_all(
    provider: SmtpProvider, messages: list[OutboundMessage], *, concurrently: bool = False
) -> list[DeliveryResult]:
    try:
        if concurrently:
            return list(await asyncio.gather(*(provider.send(m) for m in messages)))
        return [await provider.send(m) for m in messages]
    finally:
        await provider.close()


def send_one(smtp_route: SmtpRoute, message: OutboundMessage | None = None) -> DeliveryResult:
    return run(send_all(SmtpProvider(smtp_route), [message or outbound()]))[0]


# --- the wire format ---------------------------------------------------------------------


def test_dot_stuffing_doubles_leading_dots_and_terminates_the_data() -> None:
    assert dot_stuff(b".top\r\nmid\r\n.dot\r\n") == b"..top\r\nmid\r\n..dot\r\n.\r\n"


def test_dot_stuffing_turns_bare_line_feeds_into_crlf() -> None:
    assert dot_stuff(b"a\nb\r\n.c") == b"a\r\nb\r\n..c\r\n.\r\n"


def test_a_multiline_reply_keeps_every_line_and_the_enhanced_status() -> None:
    reply = parse_reply([b"550-5.1.1 No such user\r\n", b"550 5.1.1 see the FAQ\r\n"], "rcpt")
    assert (reply.code, reply.enhanced, reply.text) == (550, "5.1.1", "No such user\nsee the FAQ")


def test_a_reply_without_a_three_digit_code_is_a_protocol_error() -> None:
    with pytest.raises(SmtpProtocolError, match="not an SMTP reply"):
        parse_reply([b"hello there\r\n"], "mail")


# --- delivery ----------------------------------------------------------------------------


def test_a_message_arrives_byte_for_byte(start_server) -> None:
    mailbox, port = start_server()
    send_one(route(port))
    assert mailbox.received[0].original_content == MESSAGE


def test_the_envelope_carries_sender_recipient_and_size(start_server) -> None:
    mailbox, port = start_server()
    send_one(route(port))
    envelope = mailbox.received[0]
    assert (envelope.mail_from, envelope.rcpt_tos, envelope.mail_options) == (
        "bounces@shop.example",
        ["ann@example.com"],
        [f"SIZE={len(MESSAGE)}", "BODY=8BITMIME"],
    )


def test_a_message_starting_with_a_dot_arrives_intact(start_server) -> None:
    mailbox, port = start_server()
    message = b".Odd: header-less first line\r\n\r\nbody\r\n"
    send_one(route(port), outbound(message=message))
    assert mailbox.received[0].original_content == message


def test_an_accepted_message_is_sent_with_the_server_queue_id(start_server) -> None:
    _, port = start_server()
    result = send_one(route(port))
    assert (result.outcome, result.code, result.provider_id) == ("sent", 250, "Q1")


def test_mail_rcpt_and_data_go_out_in_one_write_when_pipelining_is_offered(start_server) -> None:
    mailbox, port = start_server()
    run(send_all(SmtpProvider(route(port)), [outbound(), outbound("bob@example.com")]))
    assert len(mailbox.pipelined_chunks()) == 2


def test_without_pipelining_commands_go_one_at_a_time(start_server) -> None:
    mailbox, port = start_server(Mailbox(pipelining=False))
    results = run(send_all(SmtpProvider(route(port)), [outbound(), outbound("bob@example.com")]))
    assert ([r.outcome for r in results], mailbox.pipelined_chunks()) == (["sent", "sent"], [])


def test_many_messages_share_one_connection(start_server) -> None:
    mailbox, port = start_server()
    messages = [outbound(f"user{n}@example.com") for n in range(5)]
    run(send_all(SmtpProvider(route(port)), messages))
    assert (len(mailbox.received), mailbox.sessions) == (5, 1)


def test_a_connection_is_replaced_after_messages_per_connection(start_server) -> None:
    mailbox, port = start_server()
    messages = [outbound(f"user{n}@example.com") for n in range(7)]
    run(send_all(SmtpProvider(route(port, messages_per_connection=3)), messages))
    assert (len(mailbox.received), mailbox.sessions) == (7, 3)


def test_concurrent_sends_never_open_more_than_max_connections(start_server) -> None:
    mailbox, port = start_server(Mailbox(data_delay=0.05))
    messages = [outbound(f"user{n}@example.com") for n in range(10)]
    provider = SmtpProvider(route(port, max_connections=2))
    run(send_all(provider, messages, concurrently=True))
    assert (len(mailbox.received), mailbox.peak_sessions) == (10, 2)


def test_a_connection_the_server_closed_while_idle_is_replaced(start_server) -> None:
    _, port = start_server(timeout=0.2)  # aiosmtpd hangs up on idle clients

    async def scenario() -> list[DeliveryResult]:
        provider = SmtpProvider(route(port))
        first = await provider.send(outbound())
        await asyncio.sleep(0.5)
        return [first, await provider.send(outbound("bob@example.com"))]

    assert [r.outcome for r in run(scenario())] == ["sent", "sent"]


def test_a_connection_idle_longer_than_idle_timeout_is_closed(start_server) -> None:
    mailbox, port = start_server()

    async def scenario() -> None:
        provider = SmtpProvider(route(port, idle_timeout=0.1))
        await provider.send(outbound())
        await asyncio.sleep(1.1)  # idle connections are looked at once a second at most
        await provider.send(outbound("bob@example.com"))
        await provider.close()

    run(scenario())
    assert mailbox.sessions == 2


# --- refusals and failures ---------------------------------------------------------------


def test_a_temporary_refusal_is_deferred(start_server) -> None:
    _, port = start_server(Mailbox(refuse={"example.com": "451 4.3.0 Local problem"}))
    result = send_one(route(port))
    assert (result.outcome, result.code, result.status) == ("deferred", 451, "4.3.0")


def test_an_unknown_user_is_a_hard_bounce(start_server) -> None:
    refusal = "550 5.1.1 <ann@example.com>: Recipient address rejected: User unknown"
    _, port = start_server(Mailbox(refuse={"example.com": refusal}))
    result = send_one(route(port))
    assert (result.outcome, result.status, result.bounce_type) == ("bounced", "5.1.1", "hard")


def test_the_diagnostic_names_host_command_and_reply(start_server) -> None:
    _, port = start_server(Mailbox(refuse={"example.com": "550 5.1.1 User unknown"}))
    result = send_one(route(port))
    assert result.diagnostic == f"127.0.0.1:{port} rcpt: 550 5.1.1 User unknown"


def test_a_refused_recipient_leaves_the_connection_usable(start_server) -> None:
    mailbox, port = start_server(Mailbox(refuse={"gone.example": "550 5.1.1 User unknown"}))
    messages = [outbound("x@gone.example"), outbound("ann@example.com")]
    results = run(send_all(SmtpProvider(route(port)), messages))
    assert ([r.outcome for r in results], mailbox.sessions) == (["bounced", "sent"], 1)


def test_without_pipelining_a_refused_recipient_leaves_the_connection_usable(
    start_server,
) -> None:
    refusals = {"gone.example": "550 5.1.1 User unknown"}
    mailbox, port = start_server(Mailbox(pipelining=False, refuse=refusals))
    messages = [outbound("x@gone.example"), outbound("ann@example.com")]
    results = run(send_all(SmtpProvider(route(port)), messages))
    assert ([r.outcome for r in results], mailbox.sessions) == (["bounced", "sent"], 1)


def test_a_hang_up_after_the_content_defers_and_the_next_send_reconnects(start_server) -> None:
    mailbox, port = start_server(Mailbox(hang_up_after_data=1))
    messages = [outbound(), outbound("bob@example.com")]
    results = run(send_all(SmtpProvider(route(port)), messages))
    assert ([r.outcome for r in results], mailbox.sessions) == (["deferred", "sent"], 2)


def test_a_garbage_reply_defers_with_a_clear_diagnostic(start_server) -> None:
    _, port = start_server(Mailbox(refuse={"example.com": "hello there"}))
    result = send_one(route(port))
    assert (result.outcome, "not an SMTP reply to rcpt" in result.diagnostic) == (
        "deferred",
        True,
    )


def test_an_unreachable_port_defers_naming_host_and_port() -> None:
    port = free_port()
    result = send_one(route(port, connect_timeout=2))
    assert (result.outcome, f"127.0.0.1:{port}" in result.diagnostic) == ("deferred", True)


def test_a_non_ascii_address_fails_when_the_server_lacks_smtputf8(start_server) -> None:
    _, port = start_server(enable_SMTPUTF8=False)
    result = send_one(route(port), outbound("анна@example.com"))
    assert (result.outcome, "SMTPUTF8" in result.diagnostic) == ("failed", True)


def test_a_non_ascii_address_goes_out_with_smtputf8(start_server) -> None:
    mailbox, port = start_server()
    send_one(route(port), outbound("анна@example.com"))
    assert ("SMTPUTF8" in mailbox.received[0].mail_options, mailbox.received[0].rcpt_tos) == (
        True,
        ["анна@example.com"],
    )


# --- TLS and AUTH ------------------------------------------------------------------------


def test_starttls_without_verification_encrypts_the_session(start_server, certificate) -> None:
    _, port = start_server(tls_context=certificate.server_context(), require_starttls=True)

    async def scenario() -> bool:
        connection = await SmtpConnection.open(
            "127.0.0.1", port, helo_name="sender.test", tls="starttls", verify_tls=False
        )
        reply = await connection.send("bounces@shop.example", "ann@example.com", MESSAGE)
        await connection.quit()
        return connection.tls_active and reply.ok

    assert run(scenario()) is True


def test_starttls_verifies_against_the_given_ca(start_server, certificate) -> None:
    mailbox, port = start_server(tls_context=certificate.server_context(), require_starttls=True)
    trusted = ssl.create_default_context(cadata=certificate.pem.decode())
    result = send_one(route(port, tls="require_starttls", verify_tls=True, ssl_context=trusted))
    assert (result.outcome, len(mailbox.received)) == ("sent", 1)


def test_an_untrusted_certificate_defers_when_verifying(start_server, certificate) -> None:
    _, port = start_server(tls_context=certificate.server_context(), require_starttls=True)
    result = send_one(route(port, tls="require_starttls", verify_tls=True))
    assert (result.outcome, "TLS handshake failed" in result.diagnostic) == ("deferred", True)


def test_require_starttls_defers_when_the_server_offers_none(start_server) -> None:
    _, port = start_server()
    result = send_one(route(port, tls="require_starttls"))
    assert (result.outcome, "does not offer STARTTLS" in result.diagnostic) == ("deferred", True)


def _accept_herald(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    good = isinstance(auth_data, LoginPassword) and auth_data.login == b"herald"
    return AuthResult(success=good and auth_data.password == b"s3cret", handled=False)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_auth_plain_logs_in_before_sending(start_server) -> None:
    mailbox, port = start_server(
        authenticator=_accept_herald, auth_required=True, auth_require_tls=False
    )
    result = send_one(route(port, auth=("herald", "s3cret")))
    assert (result.outcome, len(mailbox.received)) == ("sent", 1)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_wrong_credentials_defer_with_the_servers_refusal(start_server) -> None:
    _, port = start_server(authenticator=_accept_herald, auth_required=True, auth_require_tls=False)
    result = send_one(route(port, auth=("herald", "wrong")))
    assert (result.outcome, "refused AUTH" in result.diagnostic) == ("deferred", True)


# --- direct to MX ------------------------------------------------------------------------


def test_direct_delivery_tries_the_next_mx_when_the_first_is_down(start_server) -> None:
    mailbox, port = start_server()
    dead_port = free_port()

    async def resolve(domain: str) -> list[tuple[str, int]]:
        return [("127.0.0.1", dead_port), ("127.0.0.1", port)]

    provider = SmtpProvider(SmtpRoute(helo_name="sender.test", tls="none"), resolve=resolve)
    result = run(send_all(provider, [outbound()]))[0]
    assert (result.outcome, len(mailbox.received)) == ("sent", 1)


def test_direct_delivery_defers_naming_every_mx_tried() -> None:
    ports = [free_port(), free_port()]

    async def resolve(domain: str) -> list[tuple[str, int]]:
        return [("127.0.0.1", port) for port in ports]

    provider = SmtpProvider(SmtpRoute(helo_name="sender.test", tls="none"), resolve=resolve)
    result = run(send_all(provider, [outbound()]))[0]
    assert [f"127.0.0.1:{p}" in result.diagnostic for p in ports] == [True, True]


def test_a_domain_that_accepts_no_mail_bounces_without_suppressing() -> None:
    async def resolve(domain: str) -> list[tuple[str, int]]:
        raise MxPermanentError(domain, "the domain accepts no mail (null MX, RFC 7505)")

    provider = SmtpProvider(SmtpRoute(helo_name="sender.test", tls="none"), resolve=resolve)
    result = run(send_all(provider, [outbound()]))[0]
    assert (result.outcome, result.bounce_type) == ("bounced", "dns")


def test_a_resolver_that_cannot_answer_now_defers() -> None:
    async def resolve(domain: str) -> list[tuple[str, int]]:
        raise TimeoutError("DNS timed out")

    provider = SmtpProvider(SmtpRoute(helo_name="sender.test", tls="none"), resolve=resolve)
    result = run(send_all(provider, [outbound()]))[0]
    assert (result.outcome, result.bounce_type) == ("deferred", "dns")


def test_the_registry_names_the_smtp_provider_for_email() -> None:
    assert PROVIDERS["email"] is SmtpProvider
