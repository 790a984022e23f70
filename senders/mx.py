"""Where a recipient domain's mail goes: its MX hosts in preference order (RFC 5321 §5.1).

    resolver = MxResolver(rules.mx_overrides, timeout=5)
    hosts = await resolver.resolve("example.com")     # [("mx1.example.com", 25), ...]
    names = await resolver.mx_hosts("example.com")    # ["mx1.example.com", ...] for the rollup
    rule = rules.provider_for("example.com", names)

- MX records sorted by preference; hosts of equal preference are shuffled (RFC 5321 §5.1
  asks a sender to spread its load among them).
- No MX records: the domain's own address is its implicit MX, if it has an A or AAAA record.
- A null MX (RFC 7505, `0 .`): the domain accepts no mail. This, a domain that does not
  exist (NXDOMAIN), and a domain with neither MX nor address raise `MxPermanentError`: the
  pipeline bounces the message.
- A timeout, SERVFAIL or unreachable servers raise `MxTemporaryError`: the pipeline defers.
- `overrides` (`{"example.test": "127.0.0.1:2525"}`, from the delivery rules) skip DNS.

Answers are cached for their TTL (at most `max_cache_ttl`), permanent failures for
`negative_ttl`, temporary ones for `failure_ttl`, and concurrent look-ups of one domain share
one query. IDN domains are looked up in their IDNA form.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.name
import dns.resolver

from herald.delivery_rules import normalize_domain, split_host_port
from herald.errors import HeraldError

SMTP_PORT = 25
MAX_CACHED_DOMAINS = 100_000

MxHosts = list[tuple[str, int]]
Tiers = list[list[tuple[str, int]]]


class MxError(HeraldError):
    """A domain's mail servers cannot be found; `permanent` says whether to bounce or defer."""

    permanent = False

    def __init__(self, domain: str, problem: str) -> None:
        self.domain = domain
        self.problem = problem
        super().__init__(f"{domain}: {problem}")


class MxPermanentError(MxError):
    """The domain accepts no mail: null MX, no such domain, no MX and no address."""

    permanent = True


class MxTemporaryError(MxError):
    """DNS did not answer now (timeout, SERVFAIL): try again later."""


class MxResolver:
    """MX look-ups with overrides, a TTL cache and shared in-flight queries."""

    def __init__(
        self,
        overrides: Mapping[str, str] | None = None,
        *,
        timeout: float = 5.0,
        max_cache_ttl: float = 3600.0,
        negative_ttl: float = 300.0,
        failure_ttl: float = 30.0,
        nameservers: list[str] | None = None,
        port: int = 53,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout = timeout
        self.max_cache_ttl = max_cache_ttl
        self.negative_ttl = negative_ttl
        self.failure_ttl = failure_ttl
        self._clock = clock
        self._overrides = {
            normalize_domain(domain): [split_host_port(target)]
            for domain, target in (overrides or {}).items()
        }
        self._resolver = _make_resolver(nameservers, port)
        self._cache: dict[str, tuple[float, Tiers | MxError]] = {}
        self._pending: dict[str, asyncio.Future[Tiers]] = {}

    async def resolve(self, domain: str) -> MxHosts:
        """The domain's mail hosts as (host, port), most preferred first."""
        name = normalize_domain(domain)
        override = self._overrides.get(name)
        if override is not None:
            return list(override)
        cached = self._cache.get(name)
        if cached is not None and cached[0] > self._clock():
            return _answer(cached[1])
        pending = self._pending.get(name)
        if pending is None:
            pending = asyncio.ensure_future(self._look_up(name))
            self._pending[name] = pending
            pending.add_done_callback(lambda done: self._settled(name, done))
        return _flattened(await asyncio.shield(pending))

    def _settled(self, name: str, done: asyncio.Future[Tiers]) -> None:
        self._pending.pop(name, None)
        if not done.cancelled():
            done.exception()  # retrieved: no warning when every waiter was cancelled

    async def mx_hosts(self, domain: str) -> list[str]:
        """The names of the domain's mail hosts, for matching providers by MX."""
        return [host for host, _ in await self.resolve(domain)]

    def forget(self, domain: str | None = None) -> None:
        """Drop the cached answer of a domain (of every domain with None)."""
        if domain is None:
            self._cache.clear()
        else:
            self._cache.pop(normalize_domain(domain), None)

    async def _look_up(self, name: str) -> Tiers:
        try:
            tiers, ttl = await self._query(name)
        except MxError as exc:
            self._remember(name, exc, self.negative_ttl if exc.permanent else self.failure_ttl)
            raise
        self._remember(name, tiers, min(ttl, self.max_cache_ttl))
        return tiers

    async def _query(self, name: str) -> tuple[Tiers, float]:
        try:
            answer = await self._resolver.resolve(name, "MX", lifetime=self.timeout)
        except dns.resolver.NoAnswer:
            return await self._implicit_mx(name)
        except Exception as exc:
            raise _classified(name, exc) from None
        tiers = _tiers(list(answer))
        if not tiers:
            raise MxPermanentError(name, "the domain accepts no mail (null MX, RFC 7505)")
        ttl = answer.rrset.ttl if answer.rrset is not None else self.max_cache_ttl
        return tiers, float(ttl)

    async def _implicit_mx(self, name: str) -> tuple[Tiers, float]:
        for kind in ("A", "AAAA"):
            try:
                answer = await self._resolver.resolve(name, kind, lifetime=self.timeout)
            except dns.resolver.NoAnswer:
                continue
            except Exception as exc:
                raise _classified(name, exc) from None
            ttl = answer.rrset.ttl if answer.rrset is not None else self.max_cache_ttl
            return [[(name, SMTP_PORT)]], float(ttl)
        raise MxPermanentError(name, "the domain has no MX and no address: it accepts no mail")

    def _remember(self, name: str, value: Tiers | MxError, ttl: float) -> None:
        if len(self._cache) >= MAX_CACHED_DOMAINS:
            now = self._clock()
            self._cache = {key: entry for key, entry in self._cache.items() if entry[0] > now}
            if len(self._cache) >= MAX_CACHED_DOMAINS:
                self._cache.clear()
        self._cache[name] = (self._clock() + ttl, value)


def _make_resolver(nameservers: list[str] | None, port: int) -> dns.asyncresolver.Resolver:
    if nameservers is None:
        try:
            return dns.asyncresolver.Resolver()
        except (dns.resolver.NoResolverConfiguration, OSError):
            nameservers = []
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = list(nameservers)
    resolver.port = port
    return resolver


def _classified(name: str, exc: Exception) -> MxError:
    if isinstance(exc, dns.resolver.NXDOMAIN):
        return MxPermanentError(name, "no such domain (NXDOMAIN)")
    if isinstance(exc, dns.resolver.YXDOMAIN | dns.name.NameTooLong | dns.name.EmptyLabel):
        return MxPermanentError(name, f"not a valid domain name ({type(exc).__name__})")
    if isinstance(exc, dns.exception.Timeout):
        return MxTemporaryError(name, "DNS timed out; will try again")
    if isinstance(exc, dns.resolver.NoNameservers):
        return MxTemporaryError(name, "no DNS server answered (SERVFAIL or unreachable)")
    return MxTemporaryError(name, f"DNS look-up failed ({type(exc).__name__}: {exc})")


def _tiers(records: list[Any]) -> Tiers:
    """MX records as tiers of equal preference, most preferred first; null MX left out."""
    tiers: dict[int, list[tuple[str, int]]] = {}
    for record in records:
        if record.exchange != dns.name.root:
            host = record.exchange.to_text(omit_final_dot=True).lower()
            tiers.setdefault(record.preference, []).append((host, SMTP_PORT))
    return [tiers[preference] for preference in sorted(tiers)]


def _flattened(tiers: Tiers) -> MxHosts:
    hosts: MxHosts = []
    for tier in tiers:
        if len(tier) > 1:
            tier = random.sample(tier, len(tier))
        hosts.extend(tier)
    return hosts


def _answer(value: Tiers | MxError) -> MxHosts:
    if isinstance(value, MxError):
        raise value
    return _flattened(value)
