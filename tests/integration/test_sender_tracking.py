"""The sender meets the tracker and the loader: a message's one-click unsubscribe works against
the running tracker (and the next run skips the profile), and the sender's events land in
`herald_message_events` through the loader."""

from __future__ import annotations

import re

import httpx
import pyarrow.parquet as pq
import pytest

from tests.support.sending import default_spec, sending
from tests.support.tracking import TrackingHome, stop

pytestmark = pytest.mark.slow


def test_one_click_unsubscribe_and_the_web_version_against_the_tracker(tmp_path):
    with sending(tmp_path) as (sink, home):
        # Links point at the public HTTPS name; the test reaches the same tracker over plain
        # HTTP, as a TLS-terminating proxy in front of it would.
        home.settings = home.settings.model_copy(update={"tracking_url": "https://t.shop.test"})
        run = home.run_for(
            [("p0", "anna@ok.test", {"first_name": "Anna", "language": "ru"}),
             ("p1", "boris@ok.test", {})],
            spec=default_spec(web_version=True),
        )  # fmt: skip
        home.launch(run.id)
        home.work_until_idle()
        anna = next(m for m in sink.messages if m.recipients == ["anna@ok.test"]).message
        assert anna["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        https_url = re.search(r"<(https://[^>]+)>", anna["List-Unsubscribe"]).group(1)
        html = anna.get_body(("html",)).get_content()
        assert "Открыть письмо в браузере" in html
        web_url = re.search(r'href="(https://t\.shop\.test/v/[^"]+)"', html).group(1)

        service = TrackingHome(home.home, home.settings.events_queue, home.settings.broker,
                               env=home.env)  # fmt: skip
        process, base = service.start_tracker()
        try:
            web = httpx.get(web_url.replace("https://t.shop.test", base))
            answer = httpx.post(
                https_url.replace("https://t.shop.test", base),
                content=b"List-Unsubscribe=One-Click",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        finally:
            stop(process)
        assert answer.status_code == 200
        assert web.status_code == 200 and "Hi Anna" in web.text
        assert "https://t.shop.test/c/" in web.text and "/o/" not in web.text

        second = home.run_for([("p0", "anna@ok.test", {}), ("p1", "boris@ok.test", {})])
        home.launch(second.id)
        home.work_until_idle()
        states = home.states(second.id)
        assert states == {"p0": "skipped", "p1": "sent"}
        assert sink.by_recipient() == {"anna@ok.test": 1, "boris@ok.test": 2}


def test_sender_events_land_in_herald_message_events(tmp_path):
    answers = {"bounce.test": "550 5.1.1 no such user"}
    with sending(tmp_path, answers=answers) as (_sink, home):
        run = home.run_for([("p0", "anna@ok.test", {}), ("p1", "x@bounce.test", {})])
        home.launch(run.id)
        home.work_until_idle()

        service = TrackingHome(home.home, home.settings.events_queue, home.settings.broker,
                               env=home.env)  # fmt: skip
        summary = service.load()

        files = service.landed("herald_message_events")
        rows = pq.read_table(files).to_pylist()
        assert summary["rejected"] == 0
        kinds = sorted((row["profile_id"], row["event_type"]) for row in rows)
        assert kinds == [("p0", "queued"), ("p0", "sent"), ("p1", "bounced"), ("p1", "queued")]
        bounced = next(row for row in rows if row["event_type"] == "bounced")
        assert (bounced["smtp_code"], bounced["smtp_status"], bounced["bounce_type"]) == (
            550,
            "5.1.1",
            "hard",
        )
        assert {row["campaign_run"] for row in rows} == {run.id}
        assert {row["database"] for row in rows} == {"customers"}
