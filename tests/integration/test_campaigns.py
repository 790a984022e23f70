"""Campaigns end to end, as a marketer runs them: templates and fragments saved with
`herald template|fragment create`, campaigns from files with `herald campaign create`,
launched with `herald campaign launch`, the scheduler's ticks in-process (with the clock
moved where a schedule needs it), a real worker delivering to a real SMTP server (aiosmtpd),
on the real RabbitMQ.

The shop (30 clients imported and unified, segments computed) is set up once per module;
each test owns its campaigns and segments.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from herald.campaigns.catalog import campaign_launches, get_campaign, launch_runs
from herald.campaigns.control import campaign_status
from herald.campaigns.quotas import used
from herald.warehouse import open_warehouse
from senders.campaigns import activate_campaign, tick
from tests.support.campaigns import CampaignShop, profile, shared_folder
from tests.support.sending import MailSink

NEWS = {
    "channel": "email",
    "subject": "News for {{ given_name }}",
    "html": (
        "<html><body><p>Hello {{ given_name }} from {{ city }}</p>"
        '<p><a href="https://shop.test/sale">Sale</a></p>'
        '{% include "footer" %}</body></html>'
    ),
    "from": "news@shop.test",
    "from_name": "Shop",
}
FOOTER = "<p>Shop Ltd, {{ city }} branch</p>"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, sink: MailSink) -> Iterator[CampaignShop]:
    made = CampaignShop.create(
        tmp_path_factory.mktemp("campaigns"),
        sink,
        clients=30,
        shared=shared_folder(tmp_path_factory),
    )
    made.write("footer.html", FOOTER)
    made.ok("fragment", "create", "footer", "--file", str(made.folder / "footer.html"))
    made.template("news", NEWS)
    made.segments(
        {
            "gold": "{field: level, op: equals, value: gold}",
            "city1": "{field: city, op: equals, value: City1}",
            "silver": "{field: level, op: equals, value: silver}",
            "regulars": "{field: bonus_points, op: at_least, value: 280}",
            "big-spenders": "{field: bonus_points, op: at_least, value: 5000}",
        }
    )
    yield made
    made.close()


def received(sink: MailSink, run_ids: list[str]) -> list[Any]:
    return [mail for mail in sink.messages if mail.message["X-Herald-Run"] in run_ids]


def runs_of(shop: CampaignShop, name: str) -> list[Any]:
    launches = campaign_launches(shop.store, name)
    return launch_runs(shop.store, [launched.id for launched in launches])


# clients_csv: level = LEVELS[n % 3] with LEVELS = [gold, silver, bronze]
GOLD = [n for n in range(1, 31) if n % 3 == 0]
SILVER = [n for n in range(1, 31) if n % 3 == 1]
CITY1 = [n for n in range(1, 31) if n % 4 == 1]


def addresses(numbers: list[int]) -> set[str]:
    return {f"user{n}@example.com" for n in numbers}


# --- one-off -----------------------------------------------------------------------------------


def test_a_one_off_campaign_sends_once_to_its_segments_less_the_exclusions(
    shop: CampaignShop, sink: MailSink
) -> None:
    shop.campaign(
        {
            "name": "gold-news",
            "template": "news",
            "audience": {"segments": ["gold"], "exclude": ["city1"]},
            "options": {"topic": "news", "mail_from": "bounces@shop.test"},
        },
        cli=True,
    )

    launched = shop.ok("campaign", "launch", "gold-news")
    shop.work_until_idle()

    runs = runs_of(shop, "gold-news")
    mails = received(sink, [run.id for run in runs])
    expected = addresses([n for n in GOLD if n not in CITY1])
    assert launched["state"] == "active"
    assert sorted(mail.recipients[0] for mail in mails) == sorted(expected)
    sample = next(mail for mail in mails if mail.recipients[0] == "user3@example.com")
    body = sample.message.get_body(("html",)).get_content()
    assert sample.message["Subject"] == "News for Name3"
    assert "Shop Ltd, City3 branch" in body


def test_observers_receive_a_copy_of_each_variant(shop: CampaignShop, sink: MailSink) -> None:
    shop.campaign(
        {
            "name": "silver-ab-observed",
            "template": "news",
            "audience": {"segments": ["silver"]},
            "observers": {"database": "shop", "segment": "city1"},
            "ab_test": {
                "variants": [
                    {"name": "A", "share": 1, "subject": "A for {{ given_name }}"},
                    {"name": "B", "share": 1, "subject": "B for {{ given_name }}"},
                ],
                "test_share": 100,
            },
        }
    )

    activate_campaign(shop.settings, shop.store, "silver-ab-observed")
    shop.work_until_idle()

    runs = runs_of(shop, "silver-ab-observed")
    observer_runs = [run.id for run in runs if run.spec.get("observer")]
    copies = received(sink, observer_runs)
    subjects = {(m.recipients[0], m.message["Subject"].split()[0]) for m in copies}
    assert len(observer_runs) == 2
    assert subjects == {(a, v) for a in addresses(CITY1) for v in ("A", "B")}
    tested = received(sink, [run.id for run in runs if not run.spec.get("observer")])
    assert sorted(m.recipients[0] for m in tested) == sorted(addresses(SILVER))


def test_a_one_off_campaign_at_a_time_waits_for_it(shop: CampaignShop, sink: MailSink) -> None:
    at = datetime.now(UTC) + timedelta(hours=3)
    shop.campaign(
        {
            "name": "later",
            "template": "news",
            "audience": {"segments": ["gold"]},
            "schedule": {"at": at.isoformat()},
        }
    )

    activated = shop.ok("campaign", "launch", "later")
    early = tick(shop.settings, shop.store, now=at - timedelta(minutes=1))
    due = tick(shop.settings, shop.store, now=at + timedelta(seconds=5))
    shop.work_until_idle()

    assert activated["state"] == "scheduled"
    assert early.launched == []
    assert len(due.launched) == 1
    assert len(received(sink, [run.id for run in runs_of(shop, "later")])) == len(GOLD)


# --- local time ----------------------------------------------------------------------------


def test_local_time_sending_makes_one_run_per_time_zone_at_its_moment(shop: CampaignShop) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    shop.campaign(
        {
            "name": "local-nine",
            "template": "news",
            "audience": {"segments": ["gold"]},
            "schedule": {"at": f"{tomorrow}T09:00:00", "local_time": True},
        }
    )

    result = activate_campaign(shop.settings, shop.store, "local-nine", launch_now=True)

    runs = {run.not_before: run for run in runs_of(shop, "local-nine")}
    expected = {
        datetime(tomorrow.year, tomorrow.month, tomorrow.day, 9, tzinfo=UTC) - offset
        for offset in (timedelta(hours=3), timedelta(hours=10), timedelta(hours=0))
    }
    assert set(runs) == expected
    assert result["enqueued"] == {}  # every zone's moment is still ahead
    assert sum(run.recipients for run in runs.values()) == len(GOLD)


# --- A/B/n with a winner ----------------------------------------------------------------------


def simulate_results(shop: CampaignShop, rows: dict[str, dict[str, int]]) -> None:
    """The communications mart as a build would leave it after these events per run."""
    columns = ["sent", "delivered", "opened_unique", "clicked_unique", "unsubscribed",
               "complaints", "soft_bounces", "hard_bounces", "failed", "attributed_orders",
               "attributed_revenue"]  # fmt: skip
    table = pa.table(
        {
            "report_date": [datetime.now(UTC).date()] * len(rows),
            "channel": ["email"] * len(rows),
            "campaign_id": list(rows),
            **{c: [int(r.get(c, 0)) for r in rows.values()] for c in columns},
        }
    )
    warehouse = open_warehouse(shop.settings)
    try:
        name = "report_communications_daily"
        warehouse.drop(name)
        warehouse.create_table_from_arrow_schema(name, table.schema)
        warehouse.insert_arrow(name, table)
    finally:
        warehouse.close()


def test_the_ab_winner_by_clicks_goes_to_the_rest(shop: CampaignShop, sink: MailSink) -> None:
    shop.campaign(
        {
            "name": "ab-clicks",
            "template": "news",
            "audience": {"segments": ["gold", "silver"]},
            "ab_test": {
                "variants": [
                    {"name": "control", "share": 1, "subject": "Control"},
                    {"name": "bold", "share": 1, "subject": "Bold"},
                ],
                "test_share": 40,
                "wait": "2h",
                "metric": "clicks",
            },
        }
    )
    activate_campaign(shop.settings, shop.store, "ab-clicks")
    shop.work_until_idle()
    tested = {run.variant: run for run in runs_of(shop, "ab-clicks")}
    simulate_results(
        shop,
        {
            tested["control"].id: {
                "sent": 4,
                "delivered": 4,
                "opened_unique": 4,
                "clicked_unique": 1,
            },
            tested["bold"].id: {"sent": 4, "delivered": 4, "opened_unique": 2, "clicked_unique": 3},
        },
    )

    before = tick(shop.settings, shop.store, now=datetime.now(UTC) + timedelta(hours=1))
    after = tick(shop.settings, shop.store, now=datetime.now(UTC) + timedelta(hours=2, minutes=1))
    shop.work_until_idle()

    all_runs = runs_of(shop, "ab-clicks")
    winner_runs = [run for run in all_runs if run.spec.get("winner")]
    rest = received(sink, [run.id for run in winner_runs])
    everyone = received(sink, [run.id for run in all_runs])
    audience = addresses(GOLD + SILVER)
    assert before.winners == []
    assert after.winners[0]["variant"] == "bold"
    assert after.winners[0]["rates"] == {"control": 0.25, "bold": 0.75}
    assert {mail.message["Subject"] for mail in rest} == {"Bold"}
    assert sorted(mail.recipients[0] for mail in everyone) == sorted(audience)  # each once
    assert len(rest) == len(audience) - tested["control"].recipients - tested["bold"].recipients
    status = campaign_status(shop.settings, shop.store, "ab-clicks")["launches"][0]
    assert status["plan"]["winner"]["variant"] == "bold"
    assert (status["variants"]["bold"]["clicked"], status["variants"]["control"]["clicked"]) == (
        3,
        1,
    )


# --- MVT ---------------------------------------------------------------------------------------


def test_mvt_sends_every_combination_with_results_per_combination(
    shop: CampaignShop, sink: MailSink
) -> None:
    shop.campaign(
        {
            "name": "mvt",
            "content": {**NEWS, "html": "<p>{{ factors.hero }} hero for {{ given_name }}</p>"},
            "audience": {"segments": ["gold", "silver"]},
            "mvt": {"factors": {"subject": ["Sale", "Last days"], "hero": ["red", "blue"]}},
        }
    )

    shop.ok("campaign", "launch", "mvt")
    shop.work_until_idle()

    runs = runs_of(shop, "mvt")
    mails = received(sink, [run.id for run in runs])
    seen = set()
    for mail in mails:
        html = mail.message.get_body(("html",)).get_content()
        seen.add((mail.message["Subject"], "red" if "red hero" in html else "blue"))
    status = shop.ok("campaign", "status", "mvt", "--json")
    variants = [run["variant"] for run in status["launches"][0]["runs"]]
    assert seen == {(s, h) for s in ("Sale", "Last days") for h in ("red", "blue")}
    assert len(mails) == len(GOLD + SILVER)
    assert sorted(variants) == sorted(
        f"subject={s} × hero={h}" for s in ("Sale", "Last days") for h in ("red", "blue")
    )
    assert all(
        sum(run["send_log"].values()) == run["recipients"] for run in status["launches"][0]["runs"]
    )


# --- limits and warm-up -----------------------------------------------------------------------


def test_the_warmup_ramp_never_exceeds_its_daily_cap_across_restarts(
    shop: CampaignShop, sink: MailSink
) -> None:
    shop.ok(
        "campaign", "limits", "set", "domain:warm.test", "--warmup-start", "3",
        "--warmup-factor", "2", "--warmup-cap", "5",
    )  # fmt: skip
    shop.campaign(
        {
            "name": "warm",
            "content": {**NEWS, "from": "news@warm.test"},
            "audience": {"segments": ["gold", "silver"]},
        }
    )
    day0 = datetime.now(UTC)

    first = activate_campaign(shop.settings, shop.store, "warm", now=day0)
    again = tick(shop.settings, shop.store, now=day0 + timedelta(minutes=1))
    restarted = shop.ok("campaign", "tick")  # another process, same day
    day1 = tick(shop.settings, shop.store, now=day0 + timedelta(days=1))
    day1_again = tick(shop.settings, shop.store, now=day0 + timedelta(days=1, hours=1))
    day2 = tick(shop.settings, shop.store, now=day0 + timedelta(days=2))
    shop.work_until_idle()

    run = runs_of(shop, "warm")[0]
    assert first["enqueued"] == {run.id: 3}  # day 0: start
    assert run.id not in again.enqueued
    assert run.id not in restarted["enqueued"]
    assert day1.enqueued[run.id] == 5  # 3 × 2 = 6, capped at 5
    assert run.id not in day1_again.enqueued
    assert day2.enqueued[run.id] == 5
    assert used(shop.store, "domain:warm.test", day0)["day"] == 3
    assert len(received(sink, [run.id])) == 13
    assert run.recipients == len(GOLD + SILVER)


def test_a_campaign_limit_per_hour_meters_the_run(shop: CampaignShop) -> None:
    shop.campaign(
        {
            "name": "hourly",
            "template": "news",
            "audience": {"segments": ["gold"]},
            "limits": {"per_hour": 4},
        }
    )
    start = datetime.now(UTC).replace(minute=10)

    first = activate_campaign(shop.settings, shop.store, "hourly", now=start)
    same_hour = tick(shop.settings, shop.store, now=start + timedelta(minutes=20))
    next_hour = tick(shop.settings, shop.store, now=start + timedelta(hours=1))

    run = runs_of(shop, "hourly")[0]
    assert first["enqueued"] == {run.id: 4}
    assert run.id not in same_hour.enqueued
    assert next_hour.enqueued[run.id] == 4


# --- regular and triggered ----------------------------------------------------------------


@pytest.fixture(scope="module")
def newcomers(shop: CampaignShop) -> dict[str, Any]:
    """A regular campaign launched once and a triggered one activated; then two clients
    arrive (one import, one unification, one refresh of both segments)."""
    shop.campaign(
        {
            "name": "weekly",
            "template": "news",
            "kind": "regular",
            "audience": {"segments": ["regulars"]},
            "schedule": {"cron": "0 9 * * *"},
        }
    )
    shop.campaign(
        {
            "name": "welcome-big",
            "kind": "triggered",
            "template": "news",
            "trigger": {"segment": "big-spenders"},
        }
    )
    activated = shop.ok("campaign", "launch", "weekly")
    first_at = datetime.fromisoformat(activated["next_launch_at"])
    tick(shop.settings, shop.store, now=first_at + timedelta(seconds=5))
    activate_campaign(shop.settings, shop.store, "welcome-big")
    shop.write(
        "more.csv",
        "id,email,given_name,level,bonus_points\n"
        "c99,user99@example.com,New,gold,999\n"
        "c77,user77@example.com,Big,gold,9000\n",
    )
    shop.ok("import", str(shop.folder / "more.csv"), "--db", "shop", "--key", "id")
    shop.ok("unify", "--db", "shop")
    shop.ok("segment", "refresh", "regulars", "big-spenders", "--inputs")
    return {"first_at": first_at}


def test_a_trigger_sends_once_to_each_profile_entering_its_segment(
    shop: CampaignShop, sink: MailSink, newcomers: dict[str, Any]
) -> None:
    first = tick(shop.settings, shop.store, now=datetime.now(UTC) + timedelta(seconds=1))
    second = tick(shop.settings, shop.store, now=datetime.now(UTC) + timedelta(seconds=2))
    shop.work_until_idle()

    run = runs_of(shop, "welcome-big")[0]
    mails = received(sink, [run.id])
    assert first.triggered == {"welcome-big": 1}
    assert second.triggered == {"welcome-big": 0}
    assert [m.recipients[0] for m in mails] == ["user77@example.com"]


def test_a_regular_campaign_launches_on_schedule_with_a_fresh_snapshot(
    shop: CampaignShop, sink: MailSink, newcomers: dict[str, Any]
) -> None:
    first_at = newcomers["first_at"]

    second = tick(shop.settings, shop.store, now=first_at + timedelta(days=1, seconds=5))
    shop.work_until_idle()

    launches = sorted(campaign_launches(shop.store, "weekly"), key=lambda item: item.number)
    first_runs = launch_runs(shop.store, [launches[0].id])
    second_runs = launch_runs(shop.store, [launches[1].id])
    first_to = {m.recipients[0] for m in received(sink, [r.id for r in first_runs])}
    second_to = {m.recipients[0] for m in received(sink, [r.id for r in second_runs])}
    assert second.launched == [launches[1].id]
    assert first_to == addresses([28, 29, 30])
    assert second_to == addresses([28, 29, 30, 77, 99])
    assert get_campaign(shop.store, "weekly").next_launch_at == first_at + timedelta(days=2)


# --- pause, resume, cancel, status, calendar ---------------------------------------------------


def test_cancel_records_what_was_not_sent_as_skipped(shop: CampaignShop) -> None:
    shop.campaign(
        {
            "name": "cancelled",
            "template": "news",
            "audience": {"segments": ["gold"]},
            "limits": {"per_day": 2},
        }
    )
    activate_campaign(shop.settings, shop.store, "cancelled")

    result = shop.ok("campaign", "cancel", "cancelled")
    shop.work_until_idle()

    status = campaign_status(shop.settings, shop.store, "cancelled", results=False)
    counts = status["launches"][0]["runs"][0]["send_log"]
    assert result["state"] == "cancelled"
    assert counts == {"skipped": len(GOLD)} or (
        counts.get("skipped", 0) + counts.get("sent", 0) == len(GOLD) and counts.get("sent", 0) <= 2
    )


def test_cancel_during_an_ab_test_records_the_rest_as_skipped(shop: CampaignShop) -> None:
    shop.campaign(
        {
            "name": "ab-cancelled",
            "template": "news",
            "audience": {"segments": ["gold"]},
            "ab_test": {
                "variants": [{"name": "A", "subject": "A"}, {"name": "B", "subject": "B"}],
                "test_share": 50,
                "wait": "1h",
            },
        }
    )
    activate_campaign(shop.settings, shop.store, "ab-cancelled")

    shop.ok("campaign", "cancel", "ab-cancelled")
    shop.work_until_idle()

    runs = runs_of(shop, "ab-cancelled")
    outcomes = [row["state"] for run in runs for row in shop.sending.log_rows(run.id)]
    rest = [run for run in runs if run.variant == "rest"]
    assert len(rest) == 1 and rest[0].state == "cancelled"
    assert len(outcomes) == len(GOLD)  # every recipient of the launch has an outcome
    assert set(outcomes) <= {"sent", "skipped"}
    assert all(row["state"] == "skipped" for row in shop.sending.log_rows(rest[0].id))


def test_the_calendar_lists_past_and_scheduled_launches(shop: CampaignShop) -> None:
    shop.campaign(
        {
            "name": "daily-cal",
            "template": "news",
            "kind": "regular",
            "audience": {"segments": ["gold"]},
            "schedule": {"cron": "30 10 * * *", "timezone": "Europe/Moscow"},
        }
    )
    activate_campaign(shop.settings, shop.store, "daily-cal")
    start = datetime.now(UTC)

    entries = shop.ok(
        "campaign", "calendar", "--json", "--from", start.date().isoformat(),
        "--to", (start + timedelta(days=4)).date().isoformat(),
    )  # fmt: skip

    scheduled = [e["at"] for e in entries if e["campaign"] == "daily-cal"]
    past = [e for e in entries if e["campaign"] == "gold-news"]
    assert 3 <= len(scheduled) <= 4
    assert all(e.endswith("07:30:00+00:00") for e in scheduled)
    assert past and past[0]["status"] in ("sending", "finished")


def test_pause_holds_a_campaign_and_resume_goes_on(shop: CampaignShop, sink: MailSink) -> None:
    shop.campaign({"name": "paused", "template": "news", "audience": {"segments": ["gold"]}})
    activate_campaign(shop.settings, shop.store, "paused")

    paused = shop.ok("campaign", "pause", "paused")
    shop.work_until_idle()
    held = len(received(sink, [run.id for run in runs_of(shop, "paused")]))
    resumed = shop.ok("campaign", "resume", "paused")
    shop.work_until_idle()

    assert paused["state"] == "paused" and resumed["runs_resumed"]
    assert held == 0
    assert len(received(sink, [run.id for run in runs_of(shop, "paused")])) == len(GOLD)


def test_a_campaign_file_with_mistakes_is_refused_with_its_reasons(shop: CampaignShop) -> None:
    audience = {"segments": ["gold"]}
    path = shop.write(
        "bad.yml",
        {
            "name": "bad",
            "kind": "regular",
            "database": "shop",
            "template": "news",
            "audience": audience,
        },
    )
    missing = shop.write(
        "missing.yml",
        {"name": "missing", "database": "shop", "template": "nope", "audience": audience},
    )

    bad = shop.herald("campaign", "create", "--file", path)
    unknown = shop.herald("campaign", "create", "--file", missing)

    assert bad.returncode == 1
    assert "a regular campaign needs `schedule.cron` or `schedule.rrule`" in bad.stderr
    assert unknown.returncode == 1 and "no template 'nope'" in unknown.stderr
    assert profile("c1") == "p_shop:clients.csv:c1"
