"""Campaigns in the operational store: save a campaign file, change its state, list its
launches and their runs, and the calendar of scheduled and past launches.

    campaign = save_campaign(store, definition)         # new: a draft; saved again: updated
    set_campaign_state(store, "news", "paused")
    launches = campaign_launches(store, "news")
    entries = calendar(store, start, end)               # scheduled and past launches

Launching lives in the sender (senders/campaigns.py), which freezes audiences and enqueues
runs; here is what the CLI, the API and the scheduler share.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from herald.campaigns.definition import CampaignDefinition, CampaignError, parse_campaign
from herald.campaigns.schedule import occurrences
from herald.store import session_scope
from herald.store.models import Campaign, CampaignLaunch, SendRun, utc_now

TRANSITIONS = {
    "draft": ("scheduled", "active", "cancelled"),
    "scheduled": ("active", "paused", "cancelled", "finished", "scheduled"),
    "active": ("paused", "cancelled", "finished", "scheduled", "active"),
    "paused": ("scheduled", "active", "cancelled"),
    "finished": ("scheduled", "active"),  # launched again
    "cancelled": (),
}


class UnknownCampaign(CampaignError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no campaign {name!r}; `herald campaign list` shows them")


@dataclass(frozen=True)
class CampaignInfo:
    id: int
    name: str
    kind: str
    state: str
    definition: CampaignDefinition
    next_launch_at: datetime | None
    trigger_cursor: datetime | None
    launches: int
    created_at: datetime
    updated_at: datetime

    def public(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "state": self.state,
            "channel": self.definition.channel,
            "database": self.definition.database,
            "next_launch_at": self.next_launch_at.isoformat() if self.next_launch_at else None,
            "trigger_cursor": self.trigger_cursor.isoformat() if self.trigger_cursor else None,
            "launches": self.launches,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "definition": self.definition.public(),
        }


@dataclass(frozen=True)
class LaunchInfo:
    id: str
    campaign: str
    number: int
    state: str
    scheduled_for: datetime | None
    recipients: int
    plan: dict[str, Any]
    started_at: datetime
    finished_at: datetime | None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "campaign": self.campaign,
            "number": self.number,
            "state": self.state,
            "scheduled_for": self.scheduled_for.isoformat() if self.scheduled_for else None,
            "recipients": self.recipients,
            "plan": self.plan,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


def _info(row: Campaign) -> CampaignInfo:
    return CampaignInfo(
        id=row.id,
        name=row.name,
        kind=row.kind,
        state=row.state,
        definition=parse_campaign(row.definition),
        next_launch_at=row.next_launch_at,
        trigger_cursor=row.trigger_cursor,
        launches=row.launches,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def launch_info(row: CampaignLaunch, campaign: str) -> LaunchInfo:
    return LaunchInfo(
        id=row.id,
        campaign=campaign,
        number=row.number,
        state=row.state,
        scheduled_for=row.scheduled_for,
        recipients=row.recipients,
        plan=dict(row.plan or {}),
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def save_campaign(store: Engine, definition: CampaignDefinition) -> tuple[CampaignInfo, bool]:
    """Create a campaign (a draft) or update one; returns it and whether it is new. A kind
    cannot change (create another campaign), nor can a cancelled campaign."""
    with session_scope(store) as session:
        row = session.execute(
            select(Campaign).where(Campaign.name == definition.name)
        ).scalar_one_or_none()
        now = utc_now()
        created = row is None
        if row is None:
            row = Campaign(
                name=definition.name,
                kind=definition.kind,
                state="draft",
                launches=0,
                created_at=now,
            )
            session.add(row)
        elif row.kind != definition.kind:
            raise CampaignError(
                f"campaign {definition.name!r} is {row.kind}; its kind cannot become "
                f"{definition.kind} (create a campaign under another name)"
            )
        elif row.state == "cancelled":
            raise CampaignError(f"campaign {definition.name!r} is cancelled; it cannot change")
        row.definition = definition.public()
        row.updated_at = now
        session.flush()
        return _info(row), created


def get_campaign(store: Engine, name: str) -> CampaignInfo:
    with session_scope(store) as session:
        row = session.execute(select(Campaign).where(Campaign.name == name)).scalar_one_or_none()
        if row is None:
            raise UnknownCampaign(name)
        return _info(row)


def list_campaigns(store: Engine, states: tuple[str, ...] | None = None) -> list[CampaignInfo]:
    with session_scope(store) as session:
        query = select(Campaign).order_by(Campaign.name)
        if states:
            query = query.where(Campaign.state.in_(states))
        return [_info(row) for row in session.execute(query).scalars()]


def set_campaign_state(
    store: Engine,
    name: str,
    state: str,
    *,
    next_launch_at: datetime | object | None = ...,
    trigger_cursor: datetime | None = None,
) -> CampaignInfo:
    """Change a campaign's state; `next_launch_at` is kept unless given (None clears it)."""
    with session_scope(store) as session:
        row = session.execute(select(Campaign).where(Campaign.name == name)).scalar_one_or_none()
        if row is None:
            raise UnknownCampaign(name)
        if state != row.state and state not in TRANSITIONS[row.state]:
            raise CampaignError(f"campaign {name!r} is {row.state}: it cannot become {state}")
        row.state = state
        if isinstance(next_launch_at, datetime) or next_launch_at is None:
            row.next_launch_at = next_launch_at
        if trigger_cursor is not None:
            row.trigger_cursor = trigger_cursor
        row.updated_at = utc_now()
        session.flush()
        return _info(row)


def set_trigger_cursor(store: Engine, name: str, cursor: datetime) -> None:
    with session_scope(store) as session:
        row = session.execute(select(Campaign).where(Campaign.name == name)).scalar_one()
        row.trigger_cursor = cursor
        row.updated_at = utc_now()


def campaign_launches(store: Engine, name: str, limit: int = 50) -> list[LaunchInfo]:
    with session_scope(store) as session:
        campaign = session.execute(
            select(Campaign).where(Campaign.name == name)
        ).scalar_one_or_none()
        if campaign is None:
            raise UnknownCampaign(name)
        rows = session.execute(
            select(CampaignLaunch)
            .where(CampaignLaunch.campaign_id == campaign.id)
            .order_by(CampaignLaunch.number.desc())
            .limit(limit)
        ).scalars()
        return [launch_info(row, name) for row in rows]


def get_launch(store: Engine, campaign: str, launch_id: str) -> LaunchInfo:
    with session_scope(store) as session:
        row = session.get(CampaignLaunch, launch_id)
        if row is None:
            raise CampaignError(f"no launch {launch_id!r} of campaign {campaign!r}")
        return launch_info(row, campaign)


def open_launches(store: Engine) -> list[LaunchInfo]:
    """Launches still testing or sending (what the scheduler looks after)."""
    with session_scope(store) as session:
        rows = session.execute(
            select(CampaignLaunch, Campaign.name)
            .join(Campaign, Campaign.id == CampaignLaunch.campaign_id)
            .where(CampaignLaunch.state.in_(("testing", "sending")))
            .order_by(CampaignLaunch.started_at)
        ).all()
        return [launch_info(row, name) for row, name in rows]


def update_launch(
    store: Engine, launch_id: str, *, state: str | None = None, plan: dict[str, Any] | None = None
) -> None:
    with session_scope(store) as session:
        row = session.get(CampaignLaunch, launch_id)
        if row is None:
            raise CampaignError(f"no campaign launch {launch_id!r}")
        if state is not None:
            row.state = state
            if state in ("finished", "cancelled"):
                row.finished_at = utc_now()
        if plan is not None:
            row.plan = plan


def launch_runs(store: Engine, launch_ids: list[str]) -> list[SendRun]:
    """The send runs of launches (detached rows), oldest first."""
    with session_scope(store) as session:
        rows = list(
            session.execute(
                select(SendRun)
                .where(SendRun.launch_id.in_(launch_ids))
                .order_by(SendRun.created_at, SendRun.id)
            ).scalars()
        )
        session.expunge_all()
        return rows


def calendar(store: Engine, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Launches in [start, end): past ones (from the store) and scheduled ones (from each
    scheduled campaign's next launch and schedule), in time order."""
    entries: list[dict[str, Any]] = []
    with session_scope(store) as session:
        past = session.execute(
            select(CampaignLaunch, Campaign.name, Campaign.kind)
            .join(Campaign, Campaign.id == CampaignLaunch.campaign_id)
            .where(CampaignLaunch.started_at >= start, CampaignLaunch.started_at < end)
        ).all()
        for launch, name, kind in past:
            entries.append(
                {
                    "at": launch.started_at.isoformat(),
                    "campaign": name,
                    "kind": kind,
                    "status": launch.state,
                    "launch": launch.id,
                    "recipients": launch.recipients,
                }
            )
        scheduled = session.execute(
            select(Campaign).where(Campaign.state.in_(("scheduled", "paused")))
        ).scalars()
        for row in scheduled:
            if row.next_launch_at is None:
                continue
            definition = parse_campaign(row.definition)
            moments = []
            if start <= row.next_launch_at < end:
                moments.append(row.next_launch_at)
            if definition.kind == "regular":
                after = max(start, row.next_launch_at)
                moments += [
                    moment
                    for moment in occurrences(definition, after, end, anchor=row.created_at)
                    if moment < end
                ]
            for moment in moments:
                entries.append(
                    {
                        "at": moment.isoformat(),
                        "campaign": row.name,
                        "kind": row.kind,
                        "status": "paused" if row.state == "paused" else "scheduled",
                        "launch": None,
                        "recipients": None,
                    }
                )
    return sorted(entries, key=lambda entry: entry["at"])
