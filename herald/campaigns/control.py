"""Pausing, resuming and cancelling campaigns, and their status.

    pause_campaign(settings, store, "news")     # no launch starts; its runs' chunks are held
    resume_campaign(settings, store, "news")    # held chunks go back; schedule goes on
    cancel_campaign(settings, store, "news")    # what is not sent is recorded as skipped
    campaign_status(settings, store, "news")    # launches, runs, counts, results per variant

A campaign's runs are send runs (herald/sending/runs.py); these act on every run of its
launches still sending, through the same queue operations as `herald queue pause|resume|
cancel`. Cancelling a run not yet wholly enqueued (metered by limits, or waiting for a time
zone) enqueues the rest, which workers record as skipped, so every recipient of a launch
keeps an outcome.
"""

from __future__ import annotations

import importlib
from typing import Any

from sqlalchemy import Engine

from herald.campaigns.catalog import (
    campaign_launches,
    get_campaign,
    launch_runs,
    set_campaign_state,
    update_launch,
)
from herald.campaigns.definition import CampaignError
from herald.campaigns.results import run_results, variant_results, with_rates
from herald.errors import HeraldError
from herald.sending.admin import cancel_run, pause_run, resume_run
from herald.sending.runs import create_run, state_counts
from herald.settings import Settings
from herald.store import session_scope
from herald.store.models import SendRun

OPEN_LAUNCH_STATES = ("testing", "sending", "paused")


def _open_runs(store: Engine, name: str) -> tuple[list[str], list[Any]]:
    launches = [
        launched.id
        for launched in campaign_launches(store, name)
        if launched.state in OPEN_LAUNCH_STATES
    ]
    return launches, launch_runs(store, launches) if launches else []


def pause_campaign(settings: Settings, store: Engine, name: str) -> dict[str, Any]:
    campaign = get_campaign(store, name)
    set_campaign_state(store, name, "paused")
    _, runs = _open_runs(store, name)
    paused = [pause_run(settings, store, run.id)["run"] for run in runs if run.state == "running"]
    return {"campaign": campaign.name, "state": "paused", "runs_paused": paused}


def resume_campaign(settings: Settings, store: Engine, name: str) -> dict[str, Any]:
    campaign = get_campaign(store, name)
    if campaign.state != "paused":
        raise CampaignError(f"campaign {name!r} is {campaign.state}, not paused")
    scheduled = campaign.kind in ("one_off", "regular") and campaign.next_launch_at is not None
    state = "scheduled" if scheduled else "active"
    set_campaign_state(store, name, state)
    _, runs = _open_runs(store, name)
    resumed = [resume_run(settings, store, run.id)["run"] for run in runs if run.state == "paused"]
    return {"campaign": name, "state": state, "runs_resumed": resumed}


def cancel_campaign(settings: Settings, store: Engine, name: str) -> dict[str, Any]:
    get_campaign(store, name)
    set_campaign_state(store, name, "cancelled", next_launch_at=None)
    launches, runs = _open_runs(store, name)
    cancelled = []
    for run in runs:
        if run.state in ("running", "paused"):
            cancel_run(settings, store, run.id)
            cancelled.append(run.id)
            if run.snapshot and run.enqueue_finished_at is None and run.enqueued < run.recipients:
                launcher = importlib.import_module("senders.launcher")
                launcher.launch(settings, store, run.id, queued_events=False)
    for launched in campaign_launches(store, name):
        if launched.id in launches and launched.state == "testing" and "rest" in launched.plan:
            cancelled.append(_cancel_rest(settings, store, launched.id, launched.plan, runs))
    for launch_id in launches:
        update_launch(store, launch_id, state="cancelled")
    return {"campaign": name, "state": "cancelled", "runs_cancelled": cancelled}


def _cancel_rest(
    settings: Settings, store: Engine, launch_id: str, plan: dict[str, Any], runs: list[Any]
) -> str:
    """The rest of an A/B test that was waiting for its winner: a cancelled run over it,
    enqueued so that workers record each of its recipients as skipped."""
    model = next(run for run in runs if not run.spec.get("observer"))
    run = create_run(
        store,
        name=f"{model.name} · rest (cancelled)",
        kind="campaign",
        channel=model.channel,
        spec=dict(model.spec),
        database=model.database,
        snapshot=str(plan["rest"]["snapshot"]),
        recipients=int(plan["rest"]["recipients"]),
    )
    with session_scope(store) as session:
        row = session.get(SendRun, run.id)
        assert row is not None
        row.campaign, row.launch_id, row.variant = model.campaign, launch_id, "rest"
        row.state = "cancelled"
    importlib.import_module("senders.launcher").launch(settings, store, run.id, queued_events=False)
    return run.id


def campaign_status(
    settings: Settings, store: Engine, name: str, *, results: bool = True, launches: int = 10
) -> dict[str, Any]:
    """The campaign, its latest launches with their runs (send-log counts, live) and results
    per variant (from the communications mart, as of its last build)."""
    campaign = get_campaign(store, name)
    status = campaign.public()
    recent = campaign_launches(store, name, limit=launches)
    runs = launch_runs(store, [launched.id for launched in recent]) if recent else []
    per_run: dict[str, dict[str, Any]] = {}
    results_error = None
    if results and runs:
        try:
            from herald.warehouse import open_warehouse

            warehouse = open_warehouse(settings, read_only=True)
            try:
                per_run = run_results(warehouse, [run.id for run in runs])
            finally:
                warehouse.close()
        except (HeraldError, OSError) as exc:
            results_error = str(exc)
    status["launches"] = []
    for launched in recent:
        own = [run for run in runs if run.launch_id == launched.id]
        entry = launched.public()
        entry["runs"] = [
            {
                "id": run.id,
                "variant": run.variant,
                "observer": bool(run.spec.get("observer")),
                "winner": bool(run.spec.get("winner")),
                "state": run.state,
                "not_before": run.not_before.isoformat() if run.not_before else None,
                "recipients": run.recipients,
                "enqueued": run.enqueued,
                "send_log": state_counts(store, run.id),
                "results": with_rates(per_run[run.id]) if run.id in per_run else None,
            }
            for run in own
        ]
        entry["variants"] = {
            variant: with_rates(total)
            for variant, total in variant_results(
                [
                    {"id": r.id, "variant": r.variant, "observer": r.spec.get("observer")}
                    for r in own
                ],
                per_run,
            ).items()
        }
        status["launches"].append(entry)
    if results_error:
        status["results_error"] = results_error
    return status
