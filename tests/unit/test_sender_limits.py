"""Rate and connection limits per destination group.

A limiter lets through at most its per-second rate (after a burst of one second's messages)
and at most its hourly volume (plus one minute's share); a worker's limiter holds its share of
a provider's limits. Time is a fake clock here, except for one short real-time check.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from herald.delivery_rules import builtin_rules, parse_rules
from senders.limits import ConnectionLimits, RateLimiter, scaled_connections


class FakeClock:
    """A monotonic clock the test moves; `sleep` moves it as if the time had passed."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def _sent_within(limiter: RateLimiter, clock: FakeClock, seconds: float, step: float) -> int:
    """How many messages `try_acquire` lets through in `seconds`, asking every `step`."""
    sent = 0
    end = clock.now + seconds
    while clock.now < end:
        while limiter.try_acquire() == 0.0:
            sent += 1
        clock.now += step
    return sent


def test_the_per_second_rate_holds_after_a_one_second_burst():
    clock = FakeClock()
    limiter = RateLimiter(per_second=50, clock=clock)

    sent = _sent_within(limiter, clock, seconds=10, step=0.001)

    assert 50 + 500 - 2 <= sent <= 50 + 500


def test_a_refused_message_is_told_how_long_to_wait():
    clock = FakeClock()
    limiter = RateLimiter(per_second=5, clock=clock)
    for _ in range(5):
        limiter.try_acquire()

    assert limiter.try_acquire() == pytest.approx(0.2)


def test_a_refusal_takes_nothing():
    clock = FakeClock()
    limiter = RateLimiter(per_second=1, clock=clock)
    limiter.try_acquire()
    limiter.try_acquire()
    clock.now += 1.0

    assert limiter.try_acquire() == 0.0


def test_the_hourly_limit_holds_over_an_hour():
    clock = FakeClock()
    limiter = RateLimiter(per_second=100, per_hour=3600, clock=clock)

    sent = _sent_within(limiter, clock, seconds=3600, step=0.5)

    assert 3600 <= sent <= 3600 + 60


def test_the_hourly_limit_spreads_the_volume_over_the_hour():
    clock = FakeClock()
    limiter = RateLimiter(per_second=100, per_hour=3600, clock=clock)

    sent = _sent_within(limiter, clock, seconds=60, step=0.5)

    assert sent <= 60 + 60


def test_acquire_waits_in_line_at_the_rate():
    clock = FakeClock()
    limiter = RateLimiter(per_second=20, clock=clock, sleep=clock.sleep)
    start = clock.now

    async def send_all() -> None:
        await asyncio.gather(*(limiter.acquire() for _ in range(120)))

    asyncio.run(send_all())

    assert clock.now - start == pytest.approx((120 - 20) / 20)


def test_acquire_keeps_the_rate_in_real_time():
    limiter = RateLimiter(per_second=40)

    async def send_all() -> float:
        start = time.monotonic()
        for _ in range(60):
            await limiter.acquire()
        return time.monotonic() - start

    elapsed = asyncio.run(send_all())

    assert 0.45 <= elapsed <= 0.8


def test_an_unlimited_limiter_never_waits():
    limiter = RateLimiter(None, None)

    assert {limiter.try_acquire() for _ in range(10_000)} == {0.0}


def test_a_rate_below_one_a_second_still_lets_one_message_through():
    clock = FakeClock()
    limiter = RateLimiter(per_second=0.5, clock=clock)

    assert (limiter.try_acquire(), limiter.try_acquire()) == (0.0, pytest.approx(2.0))


def test_a_scaled_limiter_holds_its_share_of_the_rate():
    clock = FakeClock()
    limiter = RateLimiter(per_second=40, per_hour=None, clock=clock).scaled(0.25)

    sent = _sent_within(limiter, clock, seconds=10, step=0.001)

    assert (limiter.per_second, 10 + 100 - 2 <= sent <= 10 + 100) == (10, True)


def test_a_share_must_be_a_fraction():
    with pytest.raises(ValueError, match="share"):
        RateLimiter(10).scaled(1.5)


def test_try_acquire_is_cheap():
    limiter = RateLimiter(per_second=1e9, per_hour=1e12)
    start = time.perf_counter()
    for _ in range(100_000):
        limiter.try_acquire()

    per_call = (time.perf_counter() - start) / 100_000

    assert per_call < 2e-6


# ---------------------------------------------------------------------------------------------
# Connections


@pytest.mark.parametrize(
    ("max_connections", "share", "expected"), [(10, 1.0, 10), (10, 1 / 3, 3), (5, 0.1, 1)]
)
def test_a_worker_gets_its_share_of_connections_and_at_least_one(
    max_connections: int, share: float, expected: int
):
    assert scaled_connections(max_connections, share) == expected


def test_a_group_allows_its_max_connections_at_once():
    rules = parse_rules("defaults: {max_connections: 2}\n")
    limits = ConnectionLimits()
    group = limits.for_rule(rules.provider_for("shop.example"))
    opened: list[int] = []

    async def connect_three() -> None:
        await group.connections.acquire()
        await group.connections.acquire()
        opened.append(2)
        try:
            await asyncio.wait_for(group.connections.acquire(), timeout=0.05)
            opened.append(3)
        except TimeoutError:
            pass

    asyncio.run(connect_three())

    assert opened == [2]


def test_domains_of_one_provider_share_its_group_limits():
    rules = builtin_rules()
    limits = ConnectionLimits(share=0.5)

    gmail = limits.for_rule(rules.provider_for("gmail.com"))
    googlemail = limits.for_rule(rules.provider_for("googlemail.com"))

    assert gmail is googlemail and (gmail.max_connections, gmail.rate.per_second) == (2, 25)


def test_unknown_domains_get_separate_groups():
    rules = builtin_rules()
    limits = ConnectionLimits()

    first = limits.for_rule(rules.provider_for("a.example"))
    second = limits.for_rule(rules.provider_for("b.example"))

    assert first is not second and first.messages_per_connection == 100


def test_idle_groups_are_forgotten_past_the_limit_busy_ones_are_kept():
    rules = builtin_rules()
    limits = ConnectionLimits(max_groups=3)

    async def fill() -> None:
        busy = limits.for_rule(rules.provider_for("busy.example"))
        await busy.connections.acquire()
        for index in range(5):
            limits.for_rule(rules.provider_for(f"idle{index}.example"))

    asyncio.run(fill())

    assert len(limits) <= 3 and limits.for_rule(rules.provider_for("busy.example")).busy


def test_reserved_tokens_queue_up_and_a_long_wait_is_refused():
    clock = FakeClock()
    limiter = RateLimiter(per_second=10, clock=clock)
    waits = [limiter.reserve(max_wait=1.0) for _ in range(25)]
    # a burst of 10, then one every 0.1 s in line, until the wait would pass 1 s
    assert waits[:10] == [0.0] * 10
    assert waits[10:20] == pytest.approx([0.1 * n for n in range(1, 11)])
    assert waits[20:] == [None] * 5
    clock.now += 2.0  # the queued tokens are used by then, and refilled once more
    assert limiter.reserve(max_wait=0.0) == 0.0
