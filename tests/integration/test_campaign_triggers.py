"""A triggered campaign under a limit: a segment refresh stamps all its entrants with one
moment, the limit lets only part of them through per hour, and the following hours go on
from where the last one stopped — each entrant once, never more than the limit per hour.

The warehouse tables a refresh leaves (`segment_membership_changes`, the profile view) are
written straight into the home's DuckDB file; the scheduler, RabbitMQ, a worker and the SMTP
server are real.
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
