"""`herald send`, `herald queue`, `herald suppression` and `herald dkim` against real RabbitMQ
and a real SMTP server (the commands run in-process through typer's runner)."""

from __future__ import annotations

import json

import dkim
import pytest
from typer.testing import CliRunner

from herald.cli import app
from tests.support.sending import sending

pytestmark = pytest.mark.slow

MESSAGE_FILE = """\
subject: "Welcome, {{ first_name | default('friend') }}"
html: "<html><body><p>Hello {{ first_name | default('friend') }}</p></body></html>"
from: hello@shop.test
from_name: Shop
topic: news
"""


def herald(home, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=home.env, catch_exceptions=False)
    return result.exit_code, result.output


def test_send_test_delivers_one_signed_message(tmp_path):
    with sending(tmp_path) as (sink, home):
        template = tmp_path / "welcome.yml"
        template.write_text(MESSAGE_FILE)

        code, output = herald(
            home, "send", "test", "--template", str(template), "--to", "me@ok.test",
            "--field", "first_name=Anna",
        )  # fmt: skip

        assert code == 0, output
        outcome = json.loads(output)
        assert outcome["state"] == "sent" and outcome["code"] == 250
        [mail] = sink.messages
        assert mail.message["Subject"] == "Welcome, Anna"
        assert dkim.verify(mail.data, dnsfunc=home.dkim_dns)


def test_send_test_says_why_a_suppressed_address_gets_nothing(tmp_path):
    with sending(tmp_path) as (sink, home):
        template = tmp_path / "welcome.yml"
        template.write_text(MESSAGE_FILE)
        assert herald(home, "suppression", "add", "Me@ok.test", "--reason", "asked")[0] == 0

        code, output = herald(
            home, "send", "test", "--template", str(template), "--to", "me@ok.test"
        )

        assert code == 1
        outcome = json.loads(output)
        assert outcome["state"] == "skipped" and "asked" in outcome["diagnostic"]
        assert sink.messages == []
        listed = json.loads(herald(home, "suppression", "list")[1])
        assert [item["address"] for item in listed] == ["me@ok.test"]


def test_a_bad_message_file_is_a_clear_error(tmp_path):
    with sending(tmp_path) as (_sink, home):
        template = tmp_path / "broken.yml"
        template.write_text('subject: "{{ first_name "\nfrom: a@shop.test\nhtml: x\n')

        code, output = herald(
            home, "send", "test", "--template", str(template), "--to", "me@ok.test"
        )

        assert code == 1
        assert output.startswith("error: ") and "does not compile" in output
        assert "Traceback" not in output


def test_pause_holds_a_run_and_resume_sends_it(tmp_path):
    with sending(tmp_path) as (sink, home):
        run = home.run_for([(f"p{i}", f"u{i}@ok.test", {}) for i in range(250)])
        home.launch(run.id)
        assert herald(home, "queue", "pause", run.id)[0] == 0
        home.work_until_idle(idle=1.0)
        assert sink.messages == []

        status = json.loads(herald(home, "queue", "status", run.id, "--json")[1])
        hold = f"{home.settings.sends_queue}.hold.{run.id}"
        assert status["runs"][0]["state"] == "paused"
        assert status["queues"][hold] == 3  # three chunks of at most 100

        code, output = herald(home, "queue", "resume", run.id)
        assert code == 0 and json.loads(output)["chunks_resumed"] == 3
        home.work_until_idle(idle=1.0)
        assert len(sink.by_recipient()) == 250
        status = json.loads(herald(home, "queue", "status", run.id, "--json")[1])
        assert status["runs"][0]["counts"] == {"sent": 250}
        assert status["runs"][0]["waiting"] == 0


def test_cancel_records_what_was_not_sent_as_skipped(tmp_path):
    with sending(tmp_path) as (sink, home):
        run = home.run_for([(f"p{i}", f"u{i}@ok.test", {}) for i in range(120)])
        home.launch(run.id)
        herald(home, "queue", "pause", run.id)
        home.work_until_idle(idle=1.0)

        code, output = herald(home, "queue", "cancel", run.id)
        home.work_until_idle(idle=1.0)

        assert code == 0, output
        assert sink.messages == []
        states = home.states(run.id)
        assert len(states) == 120 and set(states.values()) == {"skipped"}
        assert herald(home, "queue", "resume", run.id)[0] == 1  # a cancelled run stays so


def test_throttle_and_retry_answer_for_unknown_runs_clearly(tmp_path):
    with sending(tmp_path) as (_sink, home):
        code, output = herald(home, "queue", "throttle", "no-such-run", "--per-second", "5")
        assert code == 1 and "no send run 'no-such-run'" in output


def test_dkim_generate_prints_the_dns_record(tmp_path):
    with sending(tmp_path, dkim=False) as (_sink, home):
        code, output = herald(
            home, "dkim", "generate", "mail.shop.test", "s1", "--algorithm", "ed25519"
        )
        assert code == 0, output
        record = json.loads(output)
        assert record["dns_name"] == "s1._domainkey.mail.shop.test"
        assert record["dns_value"].startswith("v=DKIM1; k=ed25519; p=")


def test_send_launch_freezes_a_segment_and_every_member_receives_one_message(tmp_path):
    import pyarrow as pa

    from herald.warehouse.duckdb_engine import DuckDBWarehouse

    with sending(tmp_path) as (sink, home):
        schema = pa.schema([("profile_id", pa.string()), ("database", pa.string()),
                            ("email", pa.string()), ("first_name", pa.string())])  # fmt: skip
        members = pa.schema([("segment_id", pa.string()), ("profile_id", pa.string())])
        warehouse = DuckDBWarehouse(home.home / "warehouse.duckdb")
        for name, table_schema, rows in (
            ("profiles__customers", schema, [
                {"profile_id": f"p{i}", "database": "customers", "email": f"m{i}@ok.test",
                 "first_name": f"M{i}"} for i in range(5)]),
            ("segment_members", members, [{"segment_id": "vip", "profile_id": f"p{i}"}
                                          for i in (0, 2, 4)]),
        ):  # fmt: skip
            warehouse.create_table_from_arrow_schema(name, table_schema)
            warehouse.insert_arrow(name, pa.Table.from_pylist(rows, schema=table_schema))
        warehouse.close()
        template = tmp_path / "news.yml"
        template.write_text(MESSAGE_FILE)

        code, output = herald(
            home, "send", "launch", "--template", str(template), "--segment", "vip",
            "--db", "customers", "--name", "November news",
        )  # fmt: skip
        assert code == 0, output
        launched = json.loads(output)
        assert launched["launch"]["enqueued"] == 3
        home.work_until_idle(idle=1.0)

        assert sink.by_recipient() == {"m0@ok.test": 1, "m2@ok.test": 1, "m4@ok.test": 1}
        subjects = sorted(mail.message["Subject"] for mail in sink.messages)
        assert subjects == ["Welcome, M0", "Welcome, M2", "Welcome, M4"]
        assert launched["run"]["snapshot"].endswith(f"audiences/{launched['run']['id']}.parquet")
