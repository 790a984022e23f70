"""MX look-ups (RFC 5321 §5.1, RFC 7505): where a domain's mail goes, and whether a failure
is permanent (bounce) or temporary (defer).

A tiny DNS server on 127.0.0.1 answers from a dictionary, so the look-ups are real DNS
queries over UDP; nothing here needs the internet.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from senders.mx import MxPermanentError, MxResolver, MxTemporaryError
from tests.support.sending import in_thread

Zone = dict[tuple[str, str], list[str]]

ZONE: Zone = {
    ("shop.example.", "MX"): ["20 backup.shop.example.", "10 mx1.shop.example."],
    ("workspace.example.", "MX"): ["1 aspmx.l.google.com."],
    ("nomail.example.", "MX"): ["0 ."],
    ("bare.example.", "A"): ["192.0.2.7"],
    ("empty.example.", "TXT"): ['"v=spf1 -all"'],
    ("xn--80a1acny.xn--p1ai.", "MX"): ["10 mx.xn--80a1acny.xn--p1ai."],
}
"""`empty.example` exists (it has a TXT record) but has no MX and no address."""

SERVFAIL_DOMAIN = "broken.example."


class FakeDns(asyncio.DatagramProtocol):
    """Answers queries from a zone dictionary; counts them; SERVFAIL for one domain."""

    def __init__(self, zone: Zone) -> None:
        self.zone = zone
        self.queries: list[tuple[str, str]] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        question = query.question[0]
        name, kind = question.name.to_text().lower(), dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, kind))
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if name == SERVFAIL_DOMAIN:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif (name, kind) in self.zone:
            rrset = dns.rrset.from_text_list(name, 300, "IN", kind, self.zone[(name, kind)])
            response.answer.append(rrset)
        elif not any(known == name for known, _ in self.zone):
            response.set_rcode(dns.rcode.NXDOMAIN)
        assert self.transport is not None
        self.transport.sendto(response.to_wire(), addr)


def with_dns(test: Callable[[MxResolver, FakeDns], Awaitable[Any]], **options: Any) -> Any:
    """Run `test` with a resolver pointed at a fake DNS server on a free local port."""

    async def run() -> Any:
        loop = asyncio.get_running_loop()
        transport, server = await loop.create_datagram_endpoint(
            lambda: FakeDns(ZONE), local_addr=("127.0.0.1", 0)
        )
        port = transport.get_extra_info("sockname")[1]
        resolver = MxResolver(nameservers=["127.0.0.1"], port=port, timeout=1, **options)
        try:
            return await test(resolver, server)
        finally:
            transport.close()

    return in_thread(run)


def test_mx_hosts_come_in_preference_order_on_port_25():
    hosts = with_dns(lambda resolver, _: resolver.resolve("shop.example"))

    assert hosts == [("mx1.shop.example", 25), ("backup.shop.example", 25)]


def test_mx_host_names_serve_the_provider_rollup():
    names = with_dns(lambda resolver, _: resolver.mx_hosts("Workspace.Example."))

    assert names == ["aspmx.l.google.com"]


def test_a_domain_without_mx_is_its_own_mail_host():
    hosts = with_dns(lambda resolver, _: resolver.resolve("bare.example"))

    assert hosts == [("bare.example", 25)]


def test_a_null_mx_means_the_domain_accepts_no_mail():
    with pytest.raises(MxPermanentError, match="accepts no mail"):
        with_dns(lambda resolver, _: resolver.resolve("nomail.example"))


def test_a_domain_that_does_not_exist_is_permanent():
    with pytest.raises(MxPermanentError, match="NXDOMAIN"):
        with_dns(lambda resolver, _: resolver.resolve("nowhere.example"))


def test_a_domain_with_neither_mx_nor_address_is_permanent():
    with pytest.raises(MxPermanentError, match="no MX and no address"):
        with_dns(lambda resolver, _: resolver.resolve("empty.example"))


def test_servfail_is_temporary():
    with pytest.raises(MxTemporaryError):
        with_dns(lambda resolver, _: resolver.resolve("broken.example"))


def test_an_idn_domain_is_looked_up_in_its_idna_form():
    hosts = with_dns(lambda resolver, _: resolver.mx_hosts("почта.рф"))

    assert hosts == ["mx.xn--80a1acny.xn--p1ai"]


def test_answers_are_cached():
    async def twice(resolver: MxResolver, server: FakeDns) -> int:
        await resolver.resolve("shop.example")
        await resolver.resolve("SHOP.example")
        return len(server.queries)

    assert with_dns(twice) == 1


def test_concurrent_look_ups_of_a_domain_share_one_query():
    async def many(resolver: MxResolver, server: FakeDns) -> int:
        await asyncio.gather(*(resolver.resolve("shop.example") for _ in range(50)))
        return len(server.queries)

    assert with_dns(many) == 1


def test_permanent_failures_are_cached_too():
    async def twice(resolver: MxResolver, server: FakeDns) -> int:
        for _ in range(2):
            with pytest.raises(MxPermanentError):
                await resolver.resolve("nowhere.example")
        return len(server.queries)

    assert with_dns(twice) == 1


def test_a_cached_answer_expires_with_its_ttl():
    clock = [0.0]

    async def later(resolver: MxResolver, server: FakeDns) -> int:
        await resolver.resolve("shop.example")
        clock[0] += 301
        await resolver.resolve("shop.example")
        return len(server.queries)

    assert with_dns(later, clock=lambda: clock[0]) == 2


def test_overrides_skip_dns():
    resolver = MxResolver({"Example.TEST": "127.0.0.1:2525"}, nameservers=[], timeout=0.2)

    hosts = in_thread(lambda: resolver.resolve("example.test"))

    assert hosts == [("127.0.0.1", 2525)]


def test_a_dns_server_that_does_not_answer_is_temporary():
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    resolver = MxResolver(nameservers=["127.0.0.1"], port=silent.getsockname()[1], timeout=0.3)
    try:
        with pytest.raises(MxTemporaryError, match="timed out"):
            in_thread(lambda: resolver.resolve("shop.example"))
    finally:
        silent.close()


def test_a_closed_dns_port_is_temporary():
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    resolver = MxResolver(nameservers=["127.0.0.1"], port=port, timeout=0.3)

    with pytest.raises(MxTemporaryError):
        in_thread(lambda: resolver.resolve("shop.example"))
