"""When campaigns launch: a one-off's moment, a regular campaign's cron or RRULE.

    occurrences(definition, after, until)     # the launches of [after, until), UTC
    next_launch(definition, after)            # the first launch after `after`, or None

Times in a campaign file are wall-clock times in the campaign's `schedule.timezone` (UTC by
default): `cron: "0 9 * * MON"` with `timezone: Europe/Moscow` is 09:00 Moscow time every
Monday, daylight-saving changes included. A one-off's `at` with an offset is taken as given.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from herald.campaigns.definition import CampaignDefinition

MAX_OCCURRENCES = 500


EARLIEST_OFFSET = timedelta(hours=14)  # the zone furthest ahead (UTC+14, Kiribati)


def at_moment(definition: CampaignDefinition) -> datetime | None:
    """When a one-off launches, in UTC: its `at` (a naive time is in the campaign's zone);
    with local-time sending, the moment it is `at` in the zone furthest ahead, so that each
    zone's run can wait for its own moment rather than start late."""
    at = definition.schedule.at
    if at is None:
        return None
    if definition.schedule.local_time:
        return at.replace(tzinfo=UTC) - EARLIEST_OFFSET
    if at.tzinfo is None:
        at = at.replace(tzinfo=definition.zone)
    return at.astimezone(UTC)


def occurrences(
    definition: CampaignDefinition,
    after: datetime,
    until: datetime,
    *,
    anchor: datetime | None = None,
) -> Iterator[datetime]:
    """Launch moments in (after, until], in UTC; `anchor` is the RRULE's DTSTART (the
    campaign's creation), since an RRULE counts from its start."""
    schedule = definition.schedule
    zone = definition.zone
    if definition.kind == "one_off":
        moment = at_moment(definition)
        if moment is not None and after < moment <= until:
            yield moment
        return
    if definition.kind != "regular":
        return
    # Both on wall-clock time in the zone: a daylight-saving change neither repeats nor
    # skips a launch (an hour that happens twice launches once, at its first occurrence).
    local_after = after.astimezone(zone).replace(tzinfo=None)
    local_until = until.astimezone(zone).replace(tzinfo=None)
    if schedule.cron:
        from croniter import croniter

        iterator = croniter(schedule.cron, local_after)
        walls: Iterator[datetime] = (iterator.get_next(datetime) for _ in range(MAX_OCCURRENCES))
    elif schedule.rrule:
        start = (anchor or after).astimezone(zone).replace(tzinfo=None)
        walls = rrule_of(schedule.rrule, start).xafter(local_after, count=MAX_OCCURRENCES)
    else:
        return
    for wall in walls:
        if wall <= local_after:
            continue
        if wall > local_until:
            return
        moment = wall.replace(tzinfo=zone).astimezone(UTC)
        if moment > after:
            yield moment


def rrule_of(text: str, start: datetime) -> Any:
    """An RRULE from a naive wall-clock start; without BYMINUTE (BYSECOND) it fires on the
    hour (minute), not at the start's minute. UNTIL may be UTC (`...Z`) or local."""
    from dateutil.rrule import rrulestr

    upper = text.upper()
    start = start.replace(microsecond=0)
    if "BYSECOND" not in upper:
        start = start.replace(second=0)
    if "BYMINUTE" not in upper:
        start = start.replace(minute=0)
    # A UTC UNTIL is compared with naive wall-clock times: dateutil needs it naive too.
    text = re.sub(r"(UNTIL=\d{8}T\d{6})Z", r"\1", text, flags=re.IGNORECASE)
    return rrulestr(text, dtstart=start)


def next_launch(
    definition: CampaignDefinition, after: datetime, *, anchor: datetime | None = None
) -> datetime | None:
    if definition.kind == "one_off":
        moment = at_moment(definition)
        return moment if moment is not None and moment > after else None
    far = after + timedelta(days=5 * 366)
    return next(occurrences(definition, after, far, anchor=anchor), None)
