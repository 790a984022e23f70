"""Sending limits per campaign and per sending domain, with an automatic warm-up ramp.

    set_limit(store, "domain:shop.example", per_day=50_000,
              warmup=Warmup(start=1_000, factor=1.5, cap=50_000), warmup_from=today)
    granted = reserve(store, ["campaign:news", "domain:shop.example"], wanted=10_000, now=now)

A limit caps messages per hour and per UTC day; a warm-up ramp caps the day further: day 0
allows `start`, each day after `factor` times more, never more than `cap` (new domains and
IPs earn their reputation slowly; mailbox providers throttle a sudden volume).

Messages are counted when they are enqueued, in `sending_quota_use`, *before* the launcher
publishes them: the count and the check are one conditional UPDATE per scope and window in
one transaction, so two schedulers, a crash or a restart can never go past a limit (a crash
between counting and publishing leaves the count a little high, never low). What a window
does not allow waits for the next one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from herald.store import session_scope
from herald.store.models import SendingLimit, SendingQuotaUse, utc_now


@dataclass(frozen=True)
class LimitRule:
    scope: str
    per_hour: int | None = None
    per_day: int | None = None
    warmup_start: int | None = None
    warmup_factor: float | None = None
    warmup_cap: int | None = None
    warmup_from: datetime | None = None

    def daily_cap(self, now: datetime) -> int | None:
        """The day's limit: `per_day` and the warm-up ramp's value for today, the lower."""
        caps = [self.per_day] if self.per_day else []
        if self.warmup_start and self.warmup_factor and self.warmup_cap:
            day0 = (self.warmup_from or now).astimezone(UTC).date()
            days = max(0, (now.astimezone(UTC).date() - day0).days)
            caps.append(
                warmup_allowance(self.warmup_start, self.warmup_factor, self.warmup_cap, days)
            )
        return min(caps) if caps else None

    def public(self, now: datetime | None = None) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "per_hour": self.per_hour,
            "per_day": self.per_day,
            "warmup": (
                {
                    "start": self.warmup_start,
                    "factor": self.warmup_factor,
                    "cap": self.warmup_cap,
                    "from": self.warmup_from.date().isoformat() if self.warmup_from else None,
                }
                if self.warmup_start
                else None
            ),
            "today": self.daily_cap(now or utc_now()),
        }


def warmup_allowance(start: int, factor: float, cap: int, day: int) -> int:
    """Messages allowed on day `day` (0 = the first) of a ramp: start × factor^day, at most cap."""
    if day > 200:  # factor^day overflows long after any cap is reached
        return cap
    return int(min(cap, math.floor(start * factor**day)))


def set_limit(
    store: Engine,
    scope: str,
    *,
    per_hour: int | None = None,
    per_day: int | None = None,
    warmup_start: int | None = None,
    warmup_factor: float | None = None,
    warmup_cap: int | None = None,
    warmup_from: datetime | None = None,
) -> LimitRule:
    """Set (or replace) a scope's limits; a ramp starts today unless `warmup_from` says."""
    now = utc_now()
    scope = scope_name(scope)
    with session_scope(store) as session:
        row = session.get(SendingLimit, scope) or SendingLimit(scope=scope)
        # the same ramp set again (say, to change the hourly limit) keeps its day 0
        keep_ramp = (
            row.warmup_from is not None and row.warmup_start == warmup_start and warmup_from is None
        )
        if warmup_start and warmup_from is None and not keep_ramp:
            warmup_from = datetime.combine(now.date(), datetime.min.time(), UTC)
        row.per_hour = per_hour
        row.per_day = per_day
        row.warmup_start = warmup_start
        row.warmup_factor = warmup_factor
        row.warmup_cap = warmup_cap
        row.warmup_from = row.warmup_from if keep_ramp else warmup_from
        row.updated_at = now
        session.merge(row)
    return get_limit(store, scope) or LimitRule(scope)


def scope_name(scope: str) -> str:
    """Scopes compare without case: `domain:Shop.Example` is `domain:shop.example`."""
    kind, _, name = scope.partition(":")
    return f"{kind.lower()}:{name.lower()}" if kind.lower() == "domain" else scope


def remove_limit(store: Engine, scope: str) -> bool:
    scope = scope_name(scope)
    with session_scope(store) as session:
        row = session.get(SendingLimit, scope)
        if row is not None:
            session.delete(row)
        return row is not None


def get_limit(store: Engine, scope: str) -> LimitRule | None:
    scope = scope_name(scope)
    with session_scope(store) as session:
        row = session.get(SendingLimit, scope)
        return _rule(row) if row is not None else None


def list_limits(store: Engine) -> list[LimitRule]:
    with session_scope(store) as session:
        rows = session.execute(select(SendingLimit).order_by(SendingLimit.scope)).scalars()
        return [_rule(row) for row in rows]


def _rule(row: SendingLimit) -> LimitRule:
    return LimitRule(
        scope=row.scope,
        per_hour=row.per_hour,
        per_day=row.per_day,
        warmup_start=row.warmup_start,
        warmup_factor=row.warmup_factor,
        warmup_cap=row.warmup_cap,
        warmup_from=row.warmup_from,
    )


def windows(now: datetime) -> dict[str, datetime]:
    now = now.astimezone(UTC)
    return {
        "hour": now.replace(minute=0, second=0, microsecond=0),
        "day": now.replace(hour=0, minute=0, second=0, microsecond=0),
    }


def used(store: Engine, scope: str, now: datetime | None = None) -> dict[str, int]:
    """Messages counted in the current hour and day of a scope."""
    found: dict[str, int] = {}
    with store.connect() as connection:
        for period, start in windows(now or utc_now()).items():
            count = connection.execute(
                select(SendingQuotaUse.used).where(
                    SendingQuotaUse.scope == scope_name(scope),
                    SendingQuotaUse.period == period,
                    SendingQuotaUse.period_start == start,
                )
            ).scalar_one_or_none()
            found[period] = int(count or 0)
    return found


def reserve(
    store: Engine,
    scopes: Iterable[str],
    wanted: int,
    *,
    now: datetime | None = None,
    rules: dict[str, LimitRule] | None = None,
) -> int:
    """Count up to `wanted` messages against every scope's hour and day; returns how many
    were granted (0 when a window is full). Scopes without a limit do not restrict."""
    if wanted <= 0:
        return 0
    now = now or utc_now()
    chosen = rules if rules is not None else {}
    if rules is None:
        for scope in scopes:
            rule = get_limit(store, scope)
            if rule is not None:
                chosen[scope_name(scope)] = rule
    caps: list[tuple[str, str, datetime, int]] = []
    starts = windows(now)
    for scope, rule in chosen.items():
        if rule.per_hour:
            caps.append((scope, "hour", starts["hour"], rule.per_hour))
        daily = rule.daily_cap(now)
        if daily is not None:
            caps.append((scope, "day", starts["day"], daily))
    if not caps:
        return wanted
    for _ in range(5):  # another scheduler took part of a window meanwhile: look again
        granted = wanted
        with store.connect() as connection:
            for scope, period, start, cap in caps:
                current = connection.execute(
                    select(SendingQuotaUse.used).where(
                        SendingQuotaUse.scope == scope,
                        SendingQuotaUse.period == period,
                        SendingQuotaUse.period_start == start,
                    )
                ).scalar_one_or_none()
                granted = min(granted, max(0, cap - int(current or 0)))
        if granted == 0:
            return 0
        if _take(store, caps, granted):
            return granted
    return 0


def release(store: Engine, scopes: Iterable[str], count: int, *, now: datetime) -> None:
    """Give back `count` counted in the current windows (what could not be enqueued)."""
    with store.begin() as connection:
        for scope in scopes:
            for period, start in windows(now).items():
                connection.execute(
                    update(SendingQuotaUse)
                    .where(
                        SendingQuotaUse.scope == scope_name(scope),
                        SendingQuotaUse.period == period,
                        SendingQuotaUse.period_start == start,
                        SendingQuotaUse.used >= count,
                    )
                    .values(used=SendingQuotaUse.used - count)
                )


def _take(store: Engine, caps: list[tuple[str, str, datetime, int]], count: int) -> bool:
    """Add `count` to every window if none goes over its cap; all or nothing."""
    try:
        with store.begin() as connection:
            for scope, period, start, cap in caps:
                key = and_(
                    SendingQuotaUse.scope == scope,
                    SendingQuotaUse.period == period,
                    SendingQuotaUse.period_start == start,
                )
                changed = connection.execute(
                    update(SendingQuotaUse)
                    .where(key, SendingQuotaUse.used + count <= cap)
                    .values(used=SendingQuotaUse.used + count)
                ).rowcount
                if changed:
                    continue
                exists = connection.execute(select(SendingQuotaUse.used).where(key)).first()
                if exists is not None or count > cap:
                    raise _Full
                connection.execute(
                    insert(SendingQuotaUse).values(
                        scope=scope, period=period, period_start=start, used=count
                    )
                )
    except (_Full, IntegrityError):
        return False
    return True


class _Full(Exception):
    pass


def next_window(now: datetime) -> datetime:
    """When the next hour starts (the earliest a full window may allow more)."""
    return windows(now)["hour"] + timedelta(hours=1)
