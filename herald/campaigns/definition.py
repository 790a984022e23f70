"""A campaign file: what to send, to whom, when, tested how, within which limits.

    definition = parse_campaign(yaml.safe_load(open("c.yml")))   # CampaignError names the key

    name: november-news
    kind: one_off                   # one_off | regular | triggered | transactional
    channel: email
    database: shop
    template: news                  # a saved template (its latest version at each launch)
    audience:
      segments: [vip, newsletter]   # their members, together...
      exclude: [churned]            # ...less these
    observers: {database: staff, segment: observers}   # each run's copies go to them too
    schedule:
      at: "2026-12-01T09:00:00"     # one_off; none: at `herald campaign launch`
      local_time: true              # `at` on each recipient's clock (field `timezone`)
      cron: "0 9 * * MON"           # regular (or rrule: "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9")
      timezone: Europe/Moscow       # the zone of `at`, cron and rrule (default UTC)
    trigger: {segment: new_customers}   # triggered: a profile entering it is sent to
    ab_test:
      variants:
        - {name: A, share: 50, subject: "Our November news"}
        - {name: B, share: 50, template: news-b}
      test_share: 20                # percent of the audience in the test
      wait: 4h                      # then the winner goes to the rest
      metric: opens                 # opens | clicks | conversions
    mvt:
      factors: {subject: ["Sale", "-30%"], hero: [red, blue]}   # every combination
    limits: {per_hour: 5000, per_day: 50000, warmup: {start: 1000, factor: 1.5, cap: 50000}}
    options: {topic: news, tracking: true, mail_from: bounces@shop.example}

Variant and factor values that name a template part (subject, preheader, from_name, ...)
replace that part; every factor's level is also `factors.<name>` in the template, and the
variant's name is `variant`.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from herald.errors import HeraldError

CAMPAIGN_CHANNELS = ("email", "telegram", "webhook", "sms", "push")
METRICS = ("opens", "clicks", "conversions")
SEND_OPTIONS = (
    "topic",
    "tracking",
    "unsubscribe_mailto",
    "mail_from",
    "feedback_id",
    "address_field",
    "webhook",
    "web_version",
)
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class CampaignError(HeraldError):
    """A campaign file that is not valid, or a campaign action its state does not allow."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Audience(_Model):
    segments: list[str] = Field(min_length=1)
    exclude: list[str] = []


class Observers(_Model):
    database: str
    segment: str


class Schedule(_Model):
    at: datetime | None = None
    local_time: bool = False
    cron: str | None = None
    rrule: str | None = None
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name: Europe/Moscow)") from None
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            from croniter import croniter

            if not croniter.is_valid(value):
                raise ValueError(f"{value!r} is not a cron expression (minute hour day month dow)")
        return value

    @field_validator("rrule")
    @classmethod
    def _rrule(cls, value: str | None) -> str | None:
        if value is not None:
            from herald.campaigns.schedule import rrule_of

            try:
                rrule_of(value, datetime(2000, 1, 1))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{value!r} is not an RFC 5545 RRULE: {exc}") from None
        return value


class Trigger(_Model):
    segment: str
    include_existing: bool = False  # also send to those already members when activated


class Variant(_Model):
    model_config = ConfigDict(extra="allow", frozen=True)  # part overrides: subject, html, ...
    name: str = Field(min_length=1, max_length=40)
    share: float = Field(default=1, gt=0)
    template: str | None = None

    def overrides(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class AbTest(_Model):
    variants: list[Variant] = Field(min_length=2)
    test_share: float = Field(default=100, gt=0, le=100)
    wait: str = "4h"
    metric: Literal["opens", "clicks", "conversions"] = "opens"

    @field_validator("wait")
    @classmethod
    def _wait(cls, value: str) -> str:
        parse_duration(value)
        return value

    @model_validator(mode="after")
    def _names(self) -> AbTest:
        names = [variant.name for variant in self.variants]
        if len(set(names)) != len(names):
            raise ValueError("variant names must differ")
        return self


class Mvt(_Model):
    factors: dict[str, list[Any]] = Field(min_length=1)

    @field_validator("factors")
    @classmethod
    def _levels(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for name, levels in value.items():
            if len(levels) < 2:
                raise ValueError(f"factor {name!r} needs at least two levels")
            if len({repr(level) for level in levels}) < len(levels):
                raise ValueError(f"factor {name!r} has the same level twice")
        combinations = 1
        for levels in value.values():
            combinations *= len(levels)
        if combinations > 64:
            raise ValueError(f"{combinations} combinations: at most 64")
        return value


class Warmup(_Model):
    start: int = Field(gt=0)
    factor: float = Field(gt=1, le=10)
    cap: int = Field(gt=0)


class Limits(_Model):
    per_hour: int | None = Field(default=None, gt=0)
    per_day: int | None = Field(default=None, gt=0)
    warmup: Warmup | None = None


class CampaignDefinition(_Model):
    name: str
    kind: Literal["one_off", "regular", "triggered", "transactional"] = "one_off"
    channel: Literal["email", "telegram", "webhook", "sms", "push"] = "email"
    database: str | None = None
    template: str | None = None  # a saved template's name
    content: dict[str, Any] | None = None  # or the parts inline
    audience: Audience | None = None
    observers: Observers | None = None
    schedule: Schedule = Schedule()
    trigger: Trigger | None = None
    ab_test: AbTest | None = None
    mvt: Mvt | None = None
    limits: Limits | None = None
    options: dict[str, Any] = {}
    title: str | None = None

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError("a campaign name is a slug: lowercase letters, digits, - and _")
        return value

    @field_validator("options")
    @classmethod
    def _options(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(SEND_OPTIONS))
        if unknown:
            raise ValueError(f"unknown options {unknown}; known: {', '.join(SEND_OPTIONS)}")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> CampaignDefinition:
        if (self.template is None) == (self.content is None):
            raise ValueError("give the content: either `template` (a saved one) or `content`")
        needs_audience = self.kind in ("one_off", "regular")
        if needs_audience and self.audience is None:
            raise ValueError(f"a {self.kind} campaign needs an `audience`")
        if self.kind != "transactional" and self.database is None:
            raise ValueError("name the profile database (`database`)")
        if self.kind == "triggered" and self.trigger is None:
            raise ValueError("a triggered campaign needs a `trigger`")
        if self.kind == "regular" and not (self.schedule.cron or self.schedule.rrule):
            raise ValueError("a regular campaign needs `schedule.cron` or `schedule.rrule`")
        if self.schedule.cron and self.schedule.rrule:
            raise ValueError("give `schedule.cron` or `schedule.rrule`, not both")
        if self.kind != "regular" and (self.schedule.cron or self.schedule.rrule):
            raise ValueError("cron and rrule schedules are for regular campaigns")
        if self.ab_test and self.mvt:
            raise ValueError("a campaign runs an A/B/n test or an MVT test, not both")
        if self.kind in ("triggered", "transactional") and (self.ab_test or self.mvt):
            raise ValueError("A/B/n and MVT tests are for one_off and regular campaigns")
        if self.schedule.local_time and (self.ab_test and self.ab_test.test_share < 100):
            raise ValueError(
                "local-time sending and an A/B/n test with a winner cannot be combined: "
                "the winner would go out at different times in each zone"
            )
        if self.schedule.local_time and self.schedule.at is None:
            raise ValueError("local-time sending needs `schedule.at` (the local time)")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.schedule.timezone)

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True, exclude_defaults=False)


def parse_campaign(document: Any) -> CampaignDefinition:
    if not isinstance(document, dict):
        raise CampaignError("a campaign file is a mapping (name, kind, template, audience, ...)")
    try:
        return CampaignDefinition.model_validate(document)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "campaign"
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{where}: {message}")
        raise CampaignError("the campaign file is not valid: " + "; ".join(problems)) from None


def parse_duration(value: str) -> timedelta:
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration (30m, 4h, 1d)")
    return timedelta(seconds=float(match[1]) * _UNITS[match[2]])
