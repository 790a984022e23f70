"""When campaigns launch: a one-off's moment, a regular campaign's cron or RRULE.

    occurrences(definition, after, until)     # the launches of [after, until), UTC
    next_launch(definition, after)            # the first launch after `after`, or None

Times in a campaign file are wall-clock times in the campaign's `schedule.timezone` (UTC by
default): `cron: "0 9 * * MON"` with `timezone: Europe/Moscow` is 09:00 Moscow time every
Monday, daylight-saving changes included. A one-off's `at` with an offset is taken as given.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from herald.campaigns.definition import CampaignDefinition

MAX_OCCURRENCES = 500


def at_moment(definition: CampaignDefinition) -> datetime | None:
    """A one-off's `at` in UTC (a naive time is in the campaign's zone)."""
    at = definition.schedule.at
    if at is None:
        return None
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
    count = 0
    if schedule.cron:
        from croniter import croniter

        iterator = croniter(schedule.cron, after.astimezone(zone))
        while count < MAX_OCCURRENCES:
            moment = iterator.get_next(datetime).astimezone(UTC)
            if moment > until:
                return
            count += 1
            yield moment
    elif schedule.rrule:
        from dateutil.rrule import rrulestr

        start = (anchor or after).astimezone(zone).replace(second=0, microsecond=0, tzinfo=None)
        rule = rrulestr(schedule.rrule, dtstart=start)
        local_after = after.astimezone(zone).replace(tzinfo=None)
        local_until = until.astimezone(zone).replace(tzinfo=None)
        for local in rule.xafter(local_after, count=MAX_OCCURRENCES, inc=False):
            if local > local_until:
                return
            yield local.replace(tzinfo=zone).astimezone(UTC)


def next_launch(
    definition: CampaignDefinition, after: datetime, *, anchor: datetime | None = None
) -> datetime | None:
    if definition.kind == "one_off":
        moment = at_moment(definition)
        return moment if moment is not None and moment > after else None
    far = after.replace(year=after.year + 5)
    return next(occurrences(definition, after, far, anchor=anchor), None)
