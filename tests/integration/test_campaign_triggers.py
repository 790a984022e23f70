"""The scheduler under limits and faults: a triggered campaign whose limit lets only part of
one moment's entrants through per hour goes on, the following hours, from where it stopped —
each entrant once, never more than the limit per hour; and what a RabbitMQ outage kept from
being enqueued is given back to the limit, not lost for the day.

The warehouse tables a refresh leaves (`segment_membership_changes`, `segment_members`, the
profile view) are written straight into the home's DuckDB file; the scheduler, RabbitMQ, a
worker and the SMTP server are real.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from herald.campaigns.catalog import campaign_launches, launch_runs, save_campaign
from herald.campaigns.content import save_content, template_document
from herald.campaigns.definition import parse_campaign
from herald.campaigns.quotas import used
from herald.warehouse import open_warehouse
from senders.campaigns import activate_campaign, tick
from tests.support.sending import SendingHome, sending

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def write_entrants(home: SendingHome, count: int, entered_at: datetime) -> None:
    naive = entered_at.replace(tzinfo=None)
    ids = [f"p{n}" for n in range(count)]
    tables = {
        "segment_membership_changes": pa.table(
            {
                "segment_id": ["newcomers"] * count,
                "profile_id": ids,
                "entered_at": pa.array([naive] * count, pa.timestamp("us")),
                "left_at": pa.array([None] * count, pa.timestamp("us")),
            }
        ),
        "profiles__shop": pa.table(
            {"profile_id": ids, "email": [f"user{n}@ok.test" for n in range(count)]}
        ),
    }
    warehouse = open_warehouse(home.settings)
    try:
        for name, table in tables.items():
            warehouse.drop(name)
            warehouse.create_table_from_arrow_schema(name, table.schema)
            warehouse.insert_arrow(name, table)
    finally:
        warehouse.close()


def test_a_limited_trigger_goes_on_from_where_the_limit_stopped_it(tmp_path: Path) -> None:
    with sending(tmp_path) as (sink, home):
        document = template_document(
            {"subject": "Welcome", "html": "<p>Welcome</p>", "from": "news@shop.test"}
        )
        save_content(home.store, "template", "welcome", document)
        definition = parse_campaign(
            {
                "name": "welcome",
                "kind": "triggered",
                "database": "shop",
                "template": "welcome",
                "trigger": {"segment": "newcomers"},
                "limits": {"per_hour": 2},
            }
        )
        save_campaign(home.store, definition)
        activate_campaign(home.settings, home.store, "welcome", now=T0)
        write_entrants(home, 5, T0 + timedelta(minutes=1))

        hours: list[Any] = []
        for moment in (
            T0 + timedelta(minutes=2),
            T0 + timedelta(minutes=30),
            T0 + timedelta(hours=1, minutes=2),
            T0 + timedelta(hours=2, minutes=2),
            T0 + timedelta(hours=3, minutes=2),
        ):
            hours.append(tick(home.settings, home.store, now=moment).triggered["welcome"])
        home.work_until_idle()

        run = launch_runs(home.store, [campaign_launches(home.store, "welcome")[0].id])[0]
        delivered = [mail for mail in sink.messages if mail.message["X-Herald-Run"] == run.id]
        assert hours == [2, 0, 2, 1, 0]
        assert sorted(m.recipients[0] for m in delivered) == [f"user{n}@ok.test" for n in range(5)]
        assert used(home.store, "campaign:welcome", T0 + timedelta(minutes=2))["hour"] == 2


def test_what_a_broker_outage_kept_from_being_enqueued_is_not_counted(tmp_path: Path) -> None:
    with sending(tmp_path) as (_sink, home):
        write_entrants(home, 6, T0)  # the profile view
        members = pa.table(
            {"segment_id": ["everyone"] * 6, "profile_id": [f"p{n}" for n in range(6)]}
        )
        warehouse = open_warehouse(home.settings)
        try:
            warehouse.drop("segment_members")
            warehouse.create_table_from_arrow_schema("segment_members", members.schema)
            warehouse.insert_arrow("segment_members", members)
        finally:
            warehouse.close()
        document = template_document(
            {"subject": "Hi", "html": "<p>Hi</p>", "from": "news@shop.test"}
        )
        save_content(home.store, "template", "hi", document)
        save_campaign(
            home.store,
            parse_campaign(
                {"name": "hi", "database": "shop", "template": "hi",
                 "audience": {"segments": ["everyone"]}, "limits": {"per_day": 4}}
            ),
        )  # fmt: skip
        away = home.settings.model_copy(update={"broker": "amqp://guest:guest@127.0.0.1:1/"})

        outage = activate_campaign(away, home.store, "hi", now=T0)
        back = tick(home.settings, home.store, now=T0 + timedelta(minutes=1))

        run = launch_runs(home.store, [campaign_launches(home.store, "hi")[0].id])[0]
        assert outage["enqueued"] == {} and "not reachable" in outage["errors"][0]
        assert back.enqueued == {run.id: 4}  # the day's 4, none lost to the outage
        assert used(home.store, "campaign:hi", T0)["day"] == 4
