"""The campaign scheduler: launches campaigns, meters their runs, picks winners, follows
triggers.

    activate_campaign(settings, store, "news")       # `herald campaign launch news`
    report = tick(settings, store)                   # one pass; `herald serve scheduler` loops

A launch (one per one-off campaign, one per occurrence of a regular one) freezes the
audience — the members of the campaign's segments less those of its exclusion segments,
read from the published warehouse tables — and the content: the template's current version,
with the fragments it includes, goes into each run's spec, so a later edit never changes a
launch. The audience is split among the variants (A/B/n shares, or every MVT combination);
with a test share under 100% the rest is kept as a snapshot of its own until the test ends.
Each variant is one send run (one per time zone with local-time sending) and, with
observers, one more run of copies to the observers' profiles.

Every tick:
1. launches the scheduled campaigns whose moment came (a regular campaign's next moment is
   computed from its cron or RRULE; a one-off campaign launches once);
2. decides the A/B/n tests whose wait is over: the variant with the best rate of opens,
   clicks or conversions (from the communications mart) is sent to the rest;
3. enqueues what each run may send now: its `not_before` passed, and within the campaign's
   and the sending domain's limits (herald/campaigns/quotas.py: counted before publishing,
   so no restart goes past a limit);
4. sends triggered campaigns to the profiles that entered their segment since the last tick
   (`segment_membership_changes`), each entry once (its moment is the key's step);
5. marks launches finished once every run is enqueued.

Triggered and transactional campaigns have one long-lived run per activation: its content is
frozen when the campaign is launched (launch it again after editing the template).
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, update

from herald.campaigns.audience import (
    ENTERED_AT,
    campaign_audience,
    segment_entrants,
    split_by_local_time,
)
from herald.campaigns.catalog import (
    TRANSITIONS,
    CampaignInfo,
    LaunchInfo,
    campaign_launches,
    get_campaign,
    get_launch,
    launch_runs,
    list_campaigns,
    open_launches,
    set_campaign_state,
    set_trigger_cursor,
    update_launch,
)
from herald.campaigns.content import get_content, resolve_fragments, template_document
from herald.campaigns.definition import CampaignDefinition, CampaignError, parse_duration
from herald.campaigns.quotas import release, reserve
from herald.campaigns.results import run_results, variant_results
from herald.campaigns.schedule import at_moment, next_launch
from herald.campaigns.variants import VariantPlan, choose_winner, split_audience, variant_plans
from herald.errors import HeraldError
from herald.sending.audience import snapshot_path, write_snapshot
from herald.sending.runs import get_run, new_run_id, run_status
from herald.settings import Settings
from herald.store import session_scope
from herald.store.models import Campaign, CampaignLaunch, SendRun, utc_now
from herald.templates import MessageTemplate
from senders.launcher import enqueue_recipients, launch

log = logging.getLogger("herald.campaigns")

TICK_SECONDS = 15.0
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class TickReport:
    launched: list[str] = field(default_factory=list)
    winners: list[dict[str, Any]] = field(default_factory=list)
    enqueued: dict[str, int] = field(default_factory=dict)
    triggered: dict[str, int] = field(default_factory=dict)
    finished: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        return {
            "launched": self.launched,
            "winners": self.winners,
            "enqueued": self.enqueued,
            "triggered": self.triggered,
            "finished": self.finished,
            "errors": self.errors,
        }


# ---------------------------------------------------------------------------------------------
# Content


def run_spec(store: Engine, definition: CampaignDefinition, plan: VariantPlan) -> dict[str, Any]:
    """What one variant's runs send: the template's current version with the variant's
    overrides, its fragments and data sources, frozen; the campaign's send options."""
    name = plan.template or definition.template
    if name is not None:
        document = get_content(store, "template", name).document
    else:
        document = template_document(definition.content or {})
    channel = document.get("channel", "email")
    if channel != definition.channel:
        raise CampaignError(
            f"template {name or '(inline)'} is for {channel}; campaign {definition.name!r} "
            f"sends {definition.channel}"
        )
    parts = {**document.get("parts", {}), **plan.overrides}
    fragments = resolve_fragments(store, parts)
    MessageTemplate.from_spec(parts, fragments=fragments)  # says what does not compile
    spec: dict[str, Any] = {
        **definition.options,
        "template": parts,
        "fragments": fragments,
        "campaign": definition.name,
        "variant": plan.name,
        "factors": plan.factors,
        "feedback_id": definition.options.get("feedback_id") or definition.name,
    }
    if document.get("data"):
        spec["data"] = document["data"]
    if document.get("locale"):
        spec["locale"] = document["locale"]
    return spec


def sending_domain(spec: dict[str, Any]) -> str | None:
    sender = str(spec.get("template", {}).get("from") or "")
    if "@" in sender and "{" not in sender:
        return sender.rsplit("@", 1)[1].strip().strip(">").lower()
    return None


def quota_scopes(campaign: str, spec: dict[str, Any]) -> list[str]:
    scopes = [f"campaign:{campaign}"]
    domain = sending_domain(spec)
    if domain:
        scopes.append(f"domain:{domain}")
    return scopes


# ---------------------------------------------------------------------------------------------
# Launching


def activate_campaign(
    settings: Settings,
    store: Engine,
    name: str,
    *,
    now: datetime | None = None,
    launch_now: bool = False,
) -> dict[str, Any]:
    """Start a campaign: a one-off at its moment (now when it has none or it passed), a
    regular one on its schedule, a triggered or transactional one from now on."""
    now = now or utc_now()
    campaign = get_campaign(store, name)
    definition = campaign.definition
    _sync_limits(store, definition)
    if definition.kind == "one_off" and campaign.state in ("active", "scheduled", "paused"):
        raise CampaignError(
            f"campaign {name!r} is {campaign.state}: a one-off is launched once "
            "(resume a paused one; cancel it to stop it)"
        )
    if definition.kind == "regular" and campaign.state == "paused":
        raise CampaignError(f"campaign {name!r} is paused: resume it")
    if definition.kind == "regular" and campaign.state == "scheduled" and not launch_now:
        raise CampaignError(
            f"campaign {name!r} is already scheduled; `--now` launches it once more now"
        )
    if definition.kind == "one_off":
        at = at_moment(definition)
        if at is None or at <= now or launch_now:
            launched = create_launch(
                settings, store, campaign, now=now, becomes="active", next_launch_at=None
            )
            report = TickReport(launched=[launched.id])
            _pump(settings, store, now, report, only=[launched.id])
            return {
                "campaign": name,
                "state": "active",
                "launch": launched.public(),
                **_sent(report),
            }
        set_campaign_state(store, name, "scheduled", next_launch_at=at)
        return {"campaign": name, "state": "scheduled", "next_launch_at": at.isoformat()}
    if definition.kind == "regular":
        upcoming = next_launch(definition, now, anchor=campaign.created_at)
        result: dict[str, Any] = {"campaign": name}
        if launch_now:
            launched = create_launch(
                settings, store, campaign, now=now, becomes="scheduled", next_launch_at=upcoming
            )
            report = TickReport(launched=[launched.id])
            _pump(settings, store, now, report, only=[launched.id])
            result.update(launch=launched.public(), **_sent(report))
        else:
            set_campaign_state(store, name, "scheduled", next_launch_at=upcoming)
        result.update(state="scheduled", next_launch_at=upcoming.isoformat() if upcoming else None)
        return result
    # triggered or transactional: one long-lived run, content frozen now
    cursor = None
    if definition.kind == "triggered":
        assert definition.trigger is not None
        # launched again (a new template, after a pause): entries since the last one sent
        # are still to come; the first time, from now (or all members with include_existing)
        first = EPOCH if definition.trigger.include_existing else now
        cursor = campaign.trigger_cursor or first
    launched = create_launch(
        settings, store, campaign, now=now, long_lived=True, becomes="active",
        next_launch_at=None, trigger_cursor=cursor,
    )  # fmt: skip
    return {"campaign": name, "state": "active", "launch": launched.public()}


def _sent(report: TickReport) -> dict[str, Any]:
    return {"enqueued": report.enqueued, "errors": report.errors}


def _sync_limits(store: Engine, definition: CampaignDefinition) -> None:
    from herald.campaigns.quotas import get_limit, remove_limit, set_limit

    scope = f"campaign:{definition.name}"
    limits = definition.limits
    if limits is None:
        remove_limit(store, scope)
        return
    warmup = limits.warmup
    existing = get_limit(store, scope)
    set_limit(
        store,
        scope,
        per_hour=limits.per_hour,
        per_day=limits.per_day,
        warmup_start=warmup.start if warmup else None,
        warmup_factor=warmup.factor if warmup else None,
        warmup_cap=warmup.cap if warmup else None,
        warmup_from=existing.warmup_from if existing and warmup else None,
    )


def create_launch(
    settings: Settings,
    store: Engine,
    campaign: CampaignInfo,
    *,
    now: datetime,
    becomes: str,
    next_launch_at: datetime | None,
    long_lived: bool = False,
    trigger_cursor: datetime | None = None,
) -> LaunchInfo:
    """Freeze a launch: its audience (split among variants, time zones, the rest), its
    content, its runs. The launch, its runs and the campaign's new state (`becomes`, its
    next launch) are written in one transaction, on condition that the campaign is still as
    it was read: launched by another scheduler, paused or cancelled meanwhile, and nothing
    is written (CampaignError)."""
    if becomes != campaign.state and becomes not in TRANSITIONS[campaign.state]:
        raise CampaignError(
            f"campaign {campaign.name!r} is {campaign.state}: it cannot be launched"
        )
    definition = campaign.definition
    number = campaign.launches + 1
    launch_id = f"{definition.name[:50]}-{number}"
    parts = _base_parts(store, definition)
    plans = variant_plans(definition, parts=list(parts))
    runs: list[SendRun] = []
    plan: dict[str, Any] = {"variants": [p.public() for p in plans]}
    recipients = 0
    kind = "transactional" if definition.kind == "transactional" else "campaign"
    if long_lived:
        spec = run_spec(store, definition, plans[0])
        runs.append(_new_run(definition, launch_id, plans[0].name, spec, kind=kind, now=now))
        plan["long_lived"] = True
    else:
        audience = _audience(settings, definition)
        recipients = audience.num_rows
        test_share = definition.ab_test.test_share if definition.ab_test else 100.0
        groups, rest = split_audience(audience, plans, test_share=test_share, seed=launch_id)
        observers = _observers(settings, definition)
        for variant in plans:
            spec = run_spec(store, definition, variant)
            table = groups[variant.name]
            if definition.schedule.local_time and definition.schedule.at is not None:
                waves = split_by_local_time(table, definition.schedule.at, definition.zone)
            else:
                waves = {None: table}  # type: ignore[dict-item]
            for moment, wave in waves.items():
                runs.append(
                    _new_run(
                        definition,
                        launch_id,
                        variant.name,
                        spec,
                        table=wave,
                        home=settings.home,
                        not_before=moment,
                        now=now,
                    )
                )
            if observers is not None:
                runs.append(
                    _new_run(
                        definition,
                        launch_id,
                        variant.name,
                        {**spec, "observer": True},
                        table=observers,
                        home=settings.home,
                        now=now,
                        database=definition.observers.database if definition.observers else None,
                    )
                )
        if rest is not None and definition.ab_test is not None:
            path = settings.home / "audiences" / f"{launch_id}-rest.parquet"
            write_snapshot(rest, path)
            wait = parse_duration(definition.ab_test.wait)
            plan["rest"] = {"snapshot": str(path), "recipients": rest.num_rows}
            plan["test_ends_at"] = (now + wait).isoformat()
            plan["metric"] = definition.ab_test.metric
    state = "testing" if "rest" in plan else "sending"
    with session_scope(store) as session:
        seen_next = (
            Campaign.next_launch_at.is_(None)
            if campaign.next_launch_at is None
            else Campaign.next_launch_at == campaign.next_launch_at
        )
        values: dict[str, Any] = {
            "launches": number,
            "state": becomes,
            "next_launch_at": next_launch_at,
            "updated_at": now,
        }
        if trigger_cursor is not None:
            values["trigger_cursor"] = trigger_cursor
        taken = session.execute(
            update(Campaign)
            .where(
                Campaign.id == campaign.id,
                Campaign.launches == campaign.launches,
                Campaign.state == campaign.state,
                seen_next,
            )
            .values(**values)
        ).rowcount
        if not taken:
            raise CampaignError(
                f"campaign {definition.name!r} changed while it was being launched "
                "(launched, paused or cancelled meanwhile): nothing was launched"
            )
        session.add(
            CampaignLaunch(
                id=launch_id,
                campaign_id=campaign.id,
                number=number,
                state=state,
                scheduled_for=campaign.next_launch_at,
                recipients=recipients,
                plan=plan,
                started_at=now,
            )
        )
        session.flush()
        for run in runs:
            session.add(run)
    if long_lived:
        for earlier in campaign_launches(store, definition.name, limit=5):
            if earlier.id != launch_id and earlier.state in ("sending", "testing"):
                update_launch(store, earlier.id, state="finished")
    log.info("campaign %s launched as %s: %d recipients", definition.name, launch_id, recipients)
    return get_launch(store, definition.name, launch_id)


def _base_parts(store: Engine, definition: CampaignDefinition) -> dict[str, Any]:
    if definition.template is not None:
        return dict(get_content(store, "template", definition.template).document.get("parts", {}))
    return dict(template_document(definition.content or {}).get("parts", {}))


def _audience(settings: Settings, definition: CampaignDefinition) -> Any:
    from herald.warehouse import open_warehouse

    assert definition.audience is not None and definition.database is not None
    warehouse = open_warehouse(settings, read_only=True)
    try:
        return campaign_audience(
            warehouse,
            definition.database,
            definition.audience.segments,
            definition.audience.exclude,
        )
    finally:
        warehouse.close()


def _observers(settings: Settings, definition: CampaignDefinition) -> Any:
    if definition.observers is None:
        return None
    from herald.warehouse import open_warehouse

    warehouse = open_warehouse(settings, read_only=True)
    try:
        return campaign_audience(
            warehouse, definition.observers.database, [definition.observers.segment]
        )
    finally:
        warehouse.close()


def _new_run(
    definition: CampaignDefinition,
    launch_id: str,
    variant: str,
    spec: dict[str, Any],
    *,
    now: datetime,
    kind: str = "campaign",
    table: Any = None,
    home: Path | None = None,
    not_before: datetime | None = None,
    database: str | None = None,
) -> SendRun:
    run_id = new_run_id(kind)
    path = None
    rows = 0
    if table is not None and home is not None:
        path = snapshot_path(home, run_id)
        rows = write_snapshot(table, path)
    title = definition.title or definition.name
    return SendRun(
        id=run_id,
        name=f"{title} · {variant}"[:200],
        kind=kind,
        channel=definition.channel,
        database=database or definition.database,
        spec=spec,
        state="running",
        snapshot=str(path) if path else None,
        recipients=rows,
        enqueued=0,
        campaign=definition.name,
        launch_id=launch_id,
        variant=variant,
        not_before=not_before,
        created_at=now,
        updated_at=now,
    )


# ---------------------------------------------------------------------------------------------
# The tick


def tick(settings: Settings, store: Engine, *, now: datetime | None = None) -> TickReport:
    """One pass of the scheduler (see the module docstring); errors of one campaign are
    reported and do not stop the others."""
    now = now or utc_now()
    report = TickReport()
    for campaign in list_campaigns(store, states=("scheduled",)):
        if campaign.next_launch_at is None or campaign.next_launch_at > now:
            continue
        try:
            if campaign.kind == "regular":
                upcoming = next_launch(campaign.definition, now, anchor=campaign.created_at)
                launched = create_launch(
                    settings, store, campaign, now=now, becomes="scheduled",
                    next_launch_at=upcoming,
                )  # fmt: skip
            else:
                launched = create_launch(
                    settings, store, campaign, now=now, becomes="active", next_launch_at=None
                )
            report.launched.append(launched.id)
        except Exception as exc:  # one campaign's failure must not stop the others
            _failed(report, campaign.name, exc)
    _decide_tests(settings, store, now, report)
    _pump(settings, store, now, report)
    _follow_triggers(settings, store, now, report)
    return report


def _failed(report: TickReport, what: str, exc: Exception) -> None:
    if isinstance(exc, HeraldError | OSError):
        log.error("%s: %s", what, exc)
    else:
        log.exception("%s failed", what)
    report.errors.append(f"{what}: {exc}")


def _pump(
    settings: Settings,
    store: Engine,
    now: datetime,
    report: TickReport,
    only: list[str] | None = None,
) -> None:
    launches = [launched for launched in open_launches(store) if not only or launched.id in only]
    for launched in launches:
        if launched.plan.get("long_lived"):
            continue
        runs = launch_runs(store, [launched.id])
        for run in runs:
            if run.state != "running" or run.enqueue_finished_at is not None or not run.snapshot:
                continue
            if run.not_before is not None and run.not_before > now:
                continue
            remaining = run.recipients - run.enqueued
            scopes = [] if run.spec.get("observer") else quota_scopes(launched.campaign, run.spec)
            granted = reserve(store, scopes, remaining, now=now) if scopes else remaining
            if granted <= 0 and remaining > 0:
                continue
            try:
                result = launch(settings, store, run.id, max_recipients=granted)
            except Exception as exc:  # the broker away, a snapshot unreadable: count back
                done = get_run(store, run.id).enqueued - run.enqueued
                if scopes and granted > done:
                    release(store, scopes, granted - done, now=now)
                _failed(report, run.id, exc)
                continue
            report.enqueued[run.id] = result.enqueued - result.resumed_from
        _finish_if_done(store, launched, report)


def _finish_if_done(store: Engine, launched: LaunchInfo, report: TickReport) -> None:
    if launched.state != "sending":
        return
    runs = launch_runs(store, [launched.id])
    if all(_run_done(store, run) for run in runs):
        update_launch(store, launched.id, state="finished")
        report.finished.append(launched.id)
        campaign = get_campaign(store, launched.campaign)
        if campaign.kind == "one_off" and campaign.state == "active":
            set_campaign_state(store, campaign.name, "finished")


def _run_done(store: Engine, run: SendRun) -> bool:
    """Every recipient enqueued and with an outcome (sent, bounced, failed, skipped)."""
    if run.state == "cancelled":
        return True
    if run.enqueue_finished_at is None:
        return False
    return int(run_status(store, run.id)["waiting"]) == 0


def _decide_tests(settings: Settings, store: Engine, now: datetime, report: TickReport) -> None:
    for launched in open_launches(store):
        ends = launched.plan.get("test_ends_at")
        if launched.state != "testing" or not ends or datetime.fromisoformat(ends) > now:
            continue
        if get_campaign(store, launched.campaign).state in ("paused", "cancelled"):
            continue  # a paused campaign's test waits; its winner is decided when resumed
        try:
            decision = decide_winner(settings, store, launched, now=now)
        except Exception as exc:
            _failed(report, launched.id, exc)
            continue
        if decision is not None:
            report.winners.append(decision)


def decide_winner(
    settings: Settings, store: Engine, launched: LaunchInfo, *, now: datetime
) -> dict[str, Any] | None:
    """Pick the test's winner by its metric and create the run that sends it to the rest.

    While the communications mart has no results of the test's runs yet (it is rebuilt on
    its own schedule), the decision waits — as long again as the test's wait; after that
    the first variant is sent, and the decision says it had no evidence."""
    from herald.warehouse import open_warehouse

    runs = launch_runs(store, [launched.id])
    tested = [run for run in runs if not run.spec.get("winner")]
    warehouse = open_warehouse(settings, read_only=True)
    try:
        per_run = run_results(warehouse, [run.id for run in tested])
    finally:
        warehouse.close()
    per_variant = variant_results(
        [{"id": r.id, "variant": r.variant, "observer": r.spec.get("observer")} for r in tested],
        per_run,
    )
    names = [str(variant["name"]) for variant in launched.plan["variants"]]
    metric = str(launched.plan.get("metric") or "opens")
    evidence = any(result.get("sent") for result in per_variant.values())
    started = launched.started_at
    ends = datetime.fromisoformat(str(launched.plan["test_ends_at"]))
    if not evidence and now < ends + (ends - started):
        return None
    winner, rates = choose_winner(per_variant, metric, names)
    source = next(r for r in tested if r.variant == winner and not r.spec.get("observer"))
    rest = launched.plan["rest"]
    campaign = get_campaign(store, launched.campaign)
    spec = {**source.spec, "winner": True}
    run = _new_run(campaign.definition, launched.id, winner, spec, now=now)
    run.snapshot = rest["snapshot"]
    run.recipients = int(rest["recipients"])
    decision = {
        "variant": winner,
        "metric": metric,
        "rates": rates,
        "results": per_variant,
        "decided_at": now.isoformat(),
        "run": run.id,
        "evidence": "events" if evidence else "none",
    }
    with session_scope(store) as session:
        taken = session.execute(  # one scheduler decides: the others find it decided
            update(CampaignLaunch)
            .where(CampaignLaunch.id == launched.id, CampaignLaunch.state == "testing")
            .values(state="sending", plan={**launched.plan, "winner": decision})
        ).rowcount
        if not taken:
            return None
        session.add(run)
    log.info("launch %s: variant %s wins on %s %s", launched.id, winner, metric, rates)
    return {"launch": launched.id, **decision}


def _follow_triggers(settings: Settings, store: Engine, now: datetime, report: TickReport) -> None:
    triggered = [c for c in list_campaigns(store, states=("active",)) if c.kind == "triggered"]
    if not triggered:
        return
    from herald.warehouse import open_warehouse

    warehouse = open_warehouse(settings, read_only=True)
    try:
        for campaign in triggered:
            try:
                report.triggered[campaign.name] = _send_entrants(
                    settings, store, warehouse, campaign, now
                )
            except Exception as exc:
                _failed(report, campaign.name, exc)
    finally:
        warehouse.close()


def _send_entrants(
    settings: Settings, store: Engine, warehouse: Any, campaign: CampaignInfo, now: datetime
) -> int:
    definition = campaign.definition
    assert definition.trigger is not None and definition.database is not None
    launched = next((item for item in campaign_launches(store, campaign.name, limit=1)), None)
    if launched is None or not launched.plan.get("long_lived"):
        return 0
    run = launch_runs(store, [launched.id])[0]
    info = get_run(store, run.id)
    cursor = campaign.trigger_cursor or now
    entrants = segment_entrants(
        warehouse, definition.database, definition.trigger.segment, after=cursor, until=now
    )
    if entrants.num_rows == 0:
        return 0
    rows = entrants.to_pylist()
    groups: dict[datetime, list[dict[str, Any]]] = {}
    for row in rows:
        entered = row.pop(ENTERED_AT)
        if entered.tzinfo is None:
            entered = entered.replace(tzinfo=UTC)
        groups.setdefault(entered, []).append(row)
    # A limit may let only part of one moment's entrants through (a refresh stamps all its
    # entrants alike): how many of that moment were sent is kept in the launch's plan, so
    # the next window goes on from there rather than counting the same ones again.
    partial = dict(launched.plan.get("trigger_partial") or {})
    sent = 0
    scopes = quota_scopes(campaign.name, info.spec)
    for entered, group in sorted(groups.items()):
        done = int(partial.get("sent", 0)) if partial.get("entered") == entered.isoformat() else 0
        todo = group[done:]
        granted = reserve(store, scopes, len(todo), now=now) if todo else 0
        if granted > 0:
            try:
                enqueue_recipients(
                    settings, info, todo[:granted], step=f"entry:{entered.isoformat()}"
                )
            except Exception:
                release(store, scopes, granted, now=now)
                raise
            sent += granted
            _count_enqueued(store, run.id, granted)
        if granted < len(todo):  # the rest of this moment's entrants wait for the limit
            partial = {"entered": entered.isoformat(), "sent": done + granted}
            update_launch(store, launched.id, plan={**launched.plan, "trigger_partial": partial})
            break
        set_trigger_cursor(store, campaign.name, entered)
    return sent


def _count_enqueued(store: Engine, run_id: str, count: int) -> None:
    if count:
        with store.begin() as connection:
            connection.execute(
                update(SendRun)
                .where(SendRun.id == run_id)
                .values(
                    enqueued=SendRun.enqueued + count,
                    recipients=SendRun.recipients + count,
                    updated_at=func.now(),
                )
            )


# ---------------------------------------------------------------------------------------------
# The service


def serve_scheduler(settings: Settings, *, interval: float = TICK_SECONDS) -> None:
    """`herald serve scheduler`: a tick every `interval` seconds until SIGTERM or SIGINT."""
    from herald.store import create_store_engine, migrate

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    migrate(settings.database_url)  # a new home's store has no tables yet
    store = create_store_engine(settings.database_url)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    log.info("campaign scheduler: a tick every %.0f s", interval)
    while not stopping.is_set():
        try:
            report = tick(settings, store)
            if any(report.public().values()):
                log.info("tick: %s", report.public())
        except Exception:  # one failed tick must not end the scheduler
            log.exception("campaign scheduler tick failed")
        stopping.wait(interval)
