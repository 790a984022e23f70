"""The sender's retries and limits end to end: 4xx deferrals retried by the delivery rules'
schedule until accepted or given up, a server answering garbage, retrying failed messages,
and a run's throttle, against real RabbitMQ and aiosmtpd."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest

from herald.sending.admin import retry_failed
from herald.sending.runs import set_throttle
from tests.support.sending import MailSink, recipients, sending

pytestmark = pytest.mark.slow


def test_a_4xx_domain_is_deferred_and_retried_until_it_accepts(tmp_path):
    with sending(tmp_path, answers={"defer.test": "451 4.7.1 Try again later"}) as (sink, home):
        run = home.run_for(recipients(3, "defer.test") + recipients(2, "ok.test", start=3))
        home.launch(run.id)

        def accept_later() -> None:
            time.sleep(2.5)
            sink.handler.answers.clear()

        threading.Thread(target=accept_later, daemon=True).start()
        home.work_until_idle(idle=2.0)

        rows = {row["recipient"]: row for row in home.log_rows(run.id)}
        assert sink.by_recipient() == {f"user{i}@{d}": 1 for i, d in
                                       [(0, "defer.test"), (1, "defer.test"), (2, "defer.test"),
                                        (3, "ok.test"), (4, "ok.test")]}  # fmt: skip
        assert all(rows[f"user{i}@defer.test"]["attempts"] >= 2 for i in range(3))
        assert all(rows[f"user{i}@defer.test"]["state"] == "sent" for i in range(3))
        assert len(sink.handler.refused) >= 3


def test_a_4xx_domain_fails_after_the_max_age(tmp_path):
    answers = {"defer.test": "451 4.7.1 Try again later"}
    with sending(tmp_path, answers=answers, max_age="5s") as (sink, home):
        run = home.run_for(recipients(2, "defer.test"))
        home.launch(run.id)
        home.work_until_idle(idle=2.0)

        rows = home.log_rows(run.id)
        assert [row["state"] for row in rows] == ["failed", "failed"]
        assert all("gave up after" in row["diagnostic"] for row in rows)
        # tries at 0, 1 and 3 s (+1, +2), then one at the max age of 5 s (+4 cut to +2); a
        # late try just short of 5 s leaves a last one after (delay queues hold whole seconds)
        assert {row["attempts"] for row in rows} <= {4, 5}
        for row in rows:
            assert (row["updated_at"] - row["first_attempt_at"]).total_seconds() >= 4.5
        assert sink.messages == []


def garbage_server() -> socket.socket:
    """A TCP server that answers every connection with a line that is not SMTP."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)

    def serve() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            with contextlib.suppress(OSError):
                connection.sendall(b"HTTP/1.1 400 what is this\r\n")
                connection.close()

    threading.Thread(target=serve, daemon=True).start()
    return server


def test_a_server_answering_garbage_defers_then_fails_and_the_run_goes_on(tmp_path):
    garbage = garbage_server()
    try:
        with sending(tmp_path, domains=("ok.test", "garbage.test"), max_age="4s") as (sink, home):
            home.route("garbage.test", f"127.0.0.1:{garbage.getsockname()[1]}")
            run = home.run_for([("p0", "a@garbage.test", {}), ("p1", "b@ok.test", {})])
            home.launch(run.id)
            home.work_until_idle(idle=1.5)
            rows = {row["profile_id"]: row for row in home.log_rows(run.id)}
    finally:
        garbage.close()

    assert rows["p1"]["state"] == "sent"
    assert rows["p0"]["state"] == "failed"
    assert "gave up after" in rows["p0"]["diagnostic"] and rows["p0"]["attempts"] >= 2
    assert sink.by_recipient() == {"b@ok.test": 1}


def test_a_run_throttle_spreads_the_sends(tmp_path):
    with sending(tmp_path) as (sink, home):
        run = home.run_for(recipients(30))
        set_throttle(home.store, run.id, 10)
        home.launch(run.id)
        home.work_until_idle(idle=1.5)

        times = sorted(mail.received_at for mail in sink.messages)
        assert len(times) == 30
        # a burst of 10, then 10 per second: the last one at least ~2 s after the first
        assert times[-1] - times[0] >= 1.8


def test_retry_failed_sends_what_failed_once_the_route_works(tmp_path):
    with sending(tmp_path, domains=("ok.test", "closed.test"), max_age="4s") as (sink, home):
        home.route("closed.test", "127.0.0.1:9")
        run = home.run_for([("p0", "a@closed.test", {}), ("p1", "b@ok.test", {})])
        home.launch(run.id)
        home.work_until_idle(idle=1.5)
        assert home.states(run.id) == {"p0": "failed", "p1": "sent"}

        home.route("closed.test", f"127.0.0.1:{sink.port}")
        assert retry_failed(home.settings, home.store, run.id) == {"run": run.id, "requeued": 1}
        home.work_until_idle(idle=1.0)

        assert home.states(run.id) == {"p0": "sent", "p1": "sent"}
        assert sink.by_recipient() == {"a@closed.test": 1, "b@ok.test": 1}


def test_changed_delivery_rules_take_effect_without_a_restart(tmp_path):
    with sending(tmp_path) as (sink, home):
        other = MailSink.start()
        try:
            first = home.run_for(recipients(2))
            home.launch(first.id)
            worker = home.worker()

            def reroute_then_send() -> None:
                time.sleep(2.0)  # the worker sends the first run through the first server
                home.route("ok.test", f"127.0.0.1:{other.port}")
                time.sleep(6.0)  # a heartbeat (every 5 s) notices the file changed
                second = home.run_for(recipients(2, start=2))
                home.launch(second.id)

            threading.Thread(target=reroute_then_send, daemon=True).start()
            home.work_until_idle(worker=worker, idle=9.0, timeout=30)
        finally:
            other.stop()

        assert sink.by_recipient() == {"user0@ok.test": 1, "user1@ok.test": 1}
        assert other.by_recipient() == {"user2@ok.test": 1, "user3@ok.test": 1}
