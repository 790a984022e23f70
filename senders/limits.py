"""Rate and connection limits per destination group (a provider, or one unknown domain).

    rate = RateLimiter(per_second=50, per_hour=100_000).scaled(1 / workers)
    await rate.acquire()                       # waits until a message may go
    wait = rate.try_acquire()                  # 0.0: go now; else seconds until one may

    limits = ConnectionLimits(share=1 / workers)
    group = limits.for_rule(rules.provider_for("gmail.com"))
    async with group.connections:              # at most max_connections * share open
        for message in batch[: group.messages_per_connection]:
            await group.rate.acquire()
            ...

Every worker enforces its share of a provider's limits (the pipeline divides them among the
live workers), so limits hold across processes and hosts without talking to each other.

`per_second` is a token bucket holding one second's messages (at least 1): a burst never
goes over the rate. `per_hour` is a token bucket filled at per_hour/3600 a second that holds
one minute's share (at least 1): no hour sees more than per_hour plus one minute's share,
and the hour's volume is spread over it rather than sent in the first minutes. `acquire()`
takes its place in line at once (the buckets may go below zero) and sleeps the debt, so
waiters are served in order; a cancelled wait keeps its token spent, erring on the slow side.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from herald.delivery_rules import ProviderRule

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
MAX_GROUPS = 10_000


class _Bucket:
    """A token bucket: `rate` tokens a second, at most `capacity`, starting full."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.stamp = now

    def refill(self, now: float) -> float:
        tokens = self.tokens + (now - self.stamp) * self.rate
        self.tokens = tokens if tokens < self.capacity else self.capacity
        self.stamp = now
        return self.tokens


class RateLimiter:
    """Messages per second and per hour; None is unlimited."""

    __slots__ = ("_buckets", "_clock", "_sleep", "per_hour", "per_second")

    def __init__(
        self,
        per_second: float | None = None,
        per_hour: float | None = None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        for name, value in (("per_second", per_second), ("per_hour", per_hour)):
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be above zero or None, not {value}")
        self.per_second = per_second
        self.per_hour = per_hour
        self._clock = clock
        self._sleep = sleep
        now = clock()
        buckets = []
        if per_second is not None:
            buckets.append(_Bucket(per_second, max(per_second, 1.0), now))
        if per_hour is not None:
            buckets.append(_Bucket(per_hour / 3600, max(per_hour / 60, 1.0), now))
        self._buckets = tuple(buckets)

    @property
    def unlimited(self) -> bool:
        return not self._buckets

    def try_acquire(self) -> float:
        """Take a token and return 0.0, or take nothing and return the seconds to wait."""
        if not self._buckets:
            return 0.0
        now = self._clock()
        wait = 0.0
        for bucket in self._buckets:
            tokens = bucket.refill(now)
            if tokens < 1.0:
                needed = (1.0 - tokens) / bucket.rate
                if needed > wait:
                    wait = needed
        if wait > 0.0:
            return wait
        for bucket in self._buckets:
            bucket.tokens -= 1.0
        return 0.0

    def reserve(self, max_wait: float) -> float | None:
        """Take a token now, in line with earlier takers, and return how long to wait before
        using it; None (nothing taken) when that wait would exceed `max_wait`."""
        if not self._buckets:
            return 0.0
        now = self._clock()
        wait = 0.0
        for bucket in self._buckets:
            tokens = bucket.refill(now) - 1.0
            if tokens < 0.0:
                wait = max(wait, -tokens / bucket.rate)
        if wait > max_wait:
            return None
        for bucket in self._buckets:
            bucket.tokens -= 1.0
        return wait

    async def acquire(self) -> None:
        """Wait until a message may go (in line with other waiters)."""
        if not self._buckets:
            return
        now = self._clock()
        wait = 0.0
        for bucket in self._buckets:
            tokens = bucket.refill(now) - 1.0
            bucket.tokens = tokens
            if tokens < 0.0:
                needed = -tokens / bucket.rate
                if needed > wait:
                    wait = needed
        if wait > 0.0:
            await self._sleep(wait)

    def scaled(self, share: float) -> RateLimiter:
        """A new limiter with both limits times `share` (0 < share <= 1), same clock."""
        if not 0 < share <= 1:
            raise ValueError(f"a share is above 0 and at most 1, not {share}")
        return RateLimiter(
            None if self.per_second is None else self.per_second * share,
            None if self.per_hour is None else self.per_hour * share,
            clock=self._clock,
            sleep=self._sleep,
        )


def scaled_connections(max_connections: int, share: float) -> int:
    """A worker's share of a group's connections: rounded down, at least one."""
    return max(1, int(max_connections * share + 1e-9))


@dataclass(frozen=True)
class GroupLimits:
    """What one destination group allows this worker: connections, their length, the rate."""

    group: str
    max_connections: int
    messages_per_connection: int
    connections: asyncio.Semaphore
    rate: RateLimiter

    @property
    def busy(self) -> bool:
        return self.connections.locked() or self.connections._value < self.max_connections


class ConnectionLimits:
    """This worker's limits per destination group, made on first use from the group's rule.

    `share` is this worker's part of every provider's limits (1 / live workers). Groups of
    unknown domains come and go: past `max_groups`, the least recently used idle ones are
    forgotten (and made afresh, full, when their domain comes back).
    """

    def __init__(
        self,
        share: float = 1.0,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        max_groups: int = MAX_GROUPS,
    ) -> None:
        if not 0 < share <= 1:
            raise ValueError(f"a share is above 0 and at most 1, not {share}")
        self.share = share
        self._clock = clock
        self._sleep = sleep
        self._max_groups = max_groups
        self._groups: OrderedDict[str, GroupLimits] = OrderedDict()

    def for_rule(self, rule: ProviderRule) -> GroupLimits:
        found = self._groups.get(rule.group)
        if found is not None:
            self._groups.move_to_end(rule.group)
            return found
        if len(self._groups) >= self._max_groups:
            self._forget_idle()
        connections = scaled_connections(rule.max_connections, self.share)
        rate = RateLimiter(rule.per_second, rule.per_hour, clock=self._clock, sleep=self._sleep)
        made = GroupLimits(
            group=rule.group,
            max_connections=connections,
            messages_per_connection=rule.messages_per_connection,
            connections=asyncio.Semaphore(connections),
            rate=rate if self.share == 1 else rate.scaled(self.share),
        )
        self._groups[rule.group] = made
        return made

    def __len__(self) -> int:
        return len(self._groups)

    def _forget_idle(self) -> None:
        excess = len(self._groups) - self._max_groups + 1
        for name in [name for name, limits in self._groups.items() if not limits.busy][:excess]:
            del self._groups[name]
