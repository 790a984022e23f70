"""Campaign files, schedules, variants and winners: the parts of a campaign that need no
services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from herald.campaigns.definition import CampaignDefinition, CampaignError, parse_campaign
from herald.campaigns.schedule import next_launch, occurrences
from herald.campaigns.variants import choose_winner, split_audience, variant_plans

BASE = {"name": "news", "database": "shop", "template": "news", "audience": {"segments": ["vip"]}}


def campaign(**changes: object) -> CampaignDefinition:
    return parse_campaign({**BASE, **changes})


# --- the campaign file ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "News!"}, "name: a campaign name is a slug"),
        ({"kind": "regular"}, "a regular campaign needs `schedule.cron` or `schedule.rrule`"),
        ({"kind": "triggered"}, "a triggered campaign needs a `trigger`"),
        ({"audience": None}, "a one_off campaign needs an `audience`"),
        ({"content": {"subject": "x"}}, "either `template` (a saved one) or `content`"),
        ({"schedule": {"cron": "every day"}, "kind": "regular"}, "is not a cron expression"),
        ({"schedule": {"timezone": "Mars/Olympus"}}, "unknown time zone 'Mars/Olympus'"),
        ({"options": {"colour": "red"}}, "unknown options ['colour']"),
        ({"mvt": {"factors": {"subject": ["only one"]}}}, "needs at least two levels"),
        (
            {"ab_test": {"variants": [{"name": "A"}, {"name": "A"}]}},
            "variant names must differ",
        ),
        (
            {"ab_test": {"variants": [{"name": "A"}, {"name": "B"}], "wait": "soon"}},
            "not a duration",
        ),
        (
            {
                "schedule": {"at": "2026-12-01T09:00", "local_time": True},
                "ab_test": {"variants": [{"name": "A"}, {"name": "B"}], "test_share": 20},
            },
            "local-time sending and an A/B/n test with a winner cannot be combined",
        ),
    ],
)
def test_a_campaign_file_with_a_mistake_names_it(changes: dict, message: str) -> None:
    with pytest.raises(CampaignError, match="the campaign file is not valid") as error:
        parse_campaign({**BASE, **changes})

    assert message in str(error.value)


def test_a_valid_campaign_file_keeps_its_variants_overrides() -> None:
    definition = campaign(
        ab_test={"variants": [{"name": "A", "subject": "Hi"}, {"name": "B", "template": "b"}]}
    )

    plans = variant_plans(definition)

    assert [(p.name, p.template, p.overrides) for p in plans] == [
        ("A", None, {"subject": "Hi"}),
        ("B", "b", {}),
    ]


# --- schedules ----------------------------------------------------------------------------------


def test_a_cron_schedule_is_in_the_campaigns_time_zone() -> None:
    definition = campaign(
        kind="regular", schedule={"cron": "0 9 * * *", "timezone": "Europe/Moscow"}
    )
    start = datetime(2026, 11, 26, 12, tzinfo=UTC)

    moments = list(occurrences(definition, start, start + timedelta(days=2)))

    assert moments == [datetime(2026, 11, 27, 6, tzinfo=UTC), datetime(2026, 11, 28, 6, tzinfo=UTC)]


def test_an_rrule_schedule_counts_from_its_start_and_follows_daylight_saving() -> None:
    definition = campaign(
        kind="regular",
        schedule={
            "rrule": "FREQ=WEEKLY;BYDAY=SU;BYHOUR=10;BYMINUTE=0",
            "timezone": "Europe/Berlin",
        },
    )
    anchor = datetime(2026, 10, 1, tzinfo=UTC)

    moments = list(
        occurrences(
            definition,
            datetime(2026, 10, 20, tzinfo=UTC),
            datetime(2026, 11, 3, tzinfo=UTC),
            anchor=anchor,
        )
    )

    # 25 Oct: summer time (UTC+2); 1 Nov: winter time (UTC+1)
    assert moments == [datetime(2026, 10, 25, 9, tzinfo=UTC), datetime(2026, 11, 1, 9, tzinfo=UTC)]


def test_a_one_off_launches_once_at_its_moment() -> None:
    definition = campaign(schedule={"at": "2026-12-01T09:00:00", "timezone": "Europe/Moscow"})

    before = next_launch(definition, datetime(2026, 11, 30, tzinfo=UTC))
    after = next_launch(definition, datetime(2026, 12, 2, tzinfo=UTC))

    assert before == datetime(2026, 12, 1, 6, tzinfo=UTC)
    assert after is None


# --- variants and winners --------------------------------------------------------------------


def audience(count: int) -> pa.Table:
    return pa.table({"profile_id": [f"p{n}" for n in range(count)], "email": ["x"] * count})


def test_the_split_follows_the_shares_and_keeps_the_rest_for_the_winner() -> None:
    definition = campaign(
        ab_test={
            "variants": [{"name": "A", "share": 3}, {"name": "B", "share": 1}],
            "test_share": 40,
        }
    )

    groups, rest = split_audience(
        audience(1000),
        variant_plans(definition),
        test_share=40,
        seed="news-1",
    )

    assert (groups["A"].num_rows, groups["B"].num_rows) == (300, 100)
    assert rest is not None and rest.num_rows == 600
    everyone = [
        *groups["A"]["profile_id"].to_pylist(),
        *groups["B"]["profile_id"].to_pylist(),
        *rest["profile_id"].to_pylist(),
    ]
    assert sorted(everyone) == sorted(f"p{n}" for n in range(1000))


def test_the_split_is_the_same_whatever_the_order_of_the_rows() -> None:
    plans = variant_plans(campaign(ab_test={"variants": [{"name": "A"}, {"name": "B"}]}))
    table = audience(200)

    first, _ = split_audience(table, plans, test_share=100, seed="news-1")
    again, _ = split_audience(
        table.take(list(range(199, -1, -1))), plans, test_share=100, seed="news-1"
    )
    other, _ = split_audience(table, plans, test_share=100, seed="news-2")

    assert set(first["A"]["profile_id"].to_pylist()) == set(again["A"]["profile_id"].to_pylist())
    assert set(first["A"]["profile_id"].to_pylist()) != set(other["A"]["profile_id"].to_pylist())


def test_mvt_makes_every_combination_and_factors_named_like_parts_replace_them() -> None:
    definition = campaign(
        mvt={"factors": {"subject": ["Sale", "-30%"], "hero": ["red", "blue", "green"]}}
    )

    plans = variant_plans(definition, parts=["subject", "html"])

    assert len(plans) == 6
    assert plans[0].overrides == {"subject": "Sale"}
    assert plans[0].factors == {"subject": "Sale", "hero": "red"}
    assert plans[0].name == "subject=Sale × hero=red"


@pytest.mark.parametrize(
    ("metric", "winner"), [("opens", "A"), ("clicks", "B"), ("conversions", "C")]
)
def test_the_winner_has_the_best_rate_of_its_metric(metric: str, winner: str) -> None:
    results = {
        "A": {"sent": 100, "opened": 50, "clicked": 5, "conversions": 1},
        "B": {"sent": 100, "opened": 30, "clicked": 9, "conversions": 1},
        "C": {"sent": 50, "opened": 10, "clicked": 2, "conversions": 2},
    }

    chosen, rates = choose_winner(results, metric, ["A", "B", "C"])

    assert chosen == winner
    assert rates[chosen] == max(rates.values())


def test_a_tie_or_no_events_goes_to_the_first_variant() -> None:
    chosen, rates = choose_winner({}, "clicks", ["control", "challenger"])

    assert (chosen, rates) == ("control", {"control": 0.0, "challenger": 0.0})


def test_mvt_levels_alike_in_their_first_characters_get_distinct_variants() -> None:
    long = "Our big November sale starts today"
    definition = campaign(
        mvt={
            "factors": {
                "subject": [f"{long}: 30% off", f"{long}: free delivery"],
                "hero": ["a", "b"],
            }
        }
    )

    plans = variant_plans(definition)
    groups, _ = split_audience(audience(40), plans, test_share=100, seed="n-1")

    assert len({plan.name for plan in plans}) == 4
    assert sum(table.num_rows for table in groups.values()) == 40


def test_many_small_shares_never_overlap_the_rest() -> None:
    plans = variant_plans(campaign(ab_test={"variants": [{"name": c} for c in "ABCDEFGH"]}))

    groups, rest = split_audience(audience(100), plans, test_share=12, seed="n-1")

    tested = [p for table in groups.values() for p in table["profile_id"].to_pylist()]
    assert rest is not None
    assert len(tested) == 12
    assert not set(tested) & set(rest["profile_id"].to_pylist())


def test_a_cron_launches_once_when_the_clocks_go_back() -> None:
    definition = campaign(
        kind="regular", schedule={"cron": "30 2 * * *", "timezone": "Europe/Berlin"}
    )

    moments = list(
        occurrences(
            definition,
            datetime(2026, 10, 24, 12, tzinfo=UTC),
            datetime(2026, 10, 26, 12, tzinfo=UTC),
        )
    )

    assert moments == [
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 26, 1, 30, tzinfo=UTC),
    ]


def test_an_rrule_without_minutes_fires_on_the_hour_and_takes_a_utc_until() -> None:
    definition = campaign(
        kind="regular",
        schedule={
            "rrule": "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;UNTIL=20261208T000000Z",
            "timezone": "Europe/Moscow",
        },
    )
    created = datetime(2026, 11, 26, 14, 37, tzinfo=UTC)

    moments = list(occurrences(definition, created, created + timedelta(days=30), anchor=created))

    assert moments == [datetime(2026, 11, 30, 6, tzinfo=UTC), datetime(2026, 12, 7, 6, tzinfo=UTC)]


def test_the_next_launch_is_found_from_the_29th_of_february() -> None:
    definition = campaign(kind="regular", schedule={"cron": "0 9 1 * *"})

    assert next_launch(definition, datetime(2028, 2, 29, tzinfo=UTC)) == datetime(
        2028, 3, 1, 9, tzinfo=UTC
    )


def test_a_local_time_one_off_launches_when_the_first_zone_reaches_its_moment() -> None:
    definition = campaign(schedule={"at": "2026-12-01T09:00:00", "local_time": True})

    assert next_launch(definition, datetime(2026, 11, 30, tzinfo=UTC)) == datetime(
        2026, 11, 30, 19, tzinfo=UTC
    )
