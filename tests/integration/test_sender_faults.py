"""The sender under faults, as real processes: `herald serve sender --workers 2` against real
RabbitMQ and a real SMTP server; a worker killed with SIGKILL mid-run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from tests.support.sending import ROOT, sending

pytestmark = pytest.mark.slow

FINAL = {"sent", "bounced", "failed", "skipped"}


def serve_sender(env: dict[str, str], workers: int, log_path) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "herald.cli", "serve", "sender", "--workers", str(workers)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def worker_pids(supervisor: subprocess.Popen[bytes]) -> list[int]:
    return [child.pid for child in psutil.Process(supervisor.pid).children()]


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_a_worker_killed_mid_run_leaves_every_recipient_exactly_one_message(tmp_path):
    count = 800
    with sending(tmp_path, delay=0.004) as (sink, home):
        run = home.run_for(
            [(f"p{i}", f"user{i}@ok.test", {"first_name": f"N{i}"}) for i in range(count)]
        )
        home.launch(run.id)
        supervisor = serve_sender(home.env, 2, tmp_path / "sender.log")
        try:
            wait_for(lambda: len(worker_pids(supervisor)) == 2, 60, "two workers")
            wait_for(lambda: len(sink.messages) >= 150, 90, "the run to be under way")
            victim = worker_pids(supervisor)[0]
            os.kill(victim, signal.SIGKILL)
            killed_at = len(sink.messages)

            def done() -> bool:
                states = home.states(run.id)
                return len(states) == count and set(states.values()) <= FINAL

            wait_for(done, 150, "every recipient to have an outcome")
            assert victim not in worker_pids(supervisor)
        finally:
            stop(supervisor)

        assert killed_at < count, "the kill came after the run had finished"
        received = sink.by_recipient()
        assert len(received) == count
        assert set(received.values()) == {1}
        assert set(home.states(run.id).values()) == {"sent"}
        log = (tmp_path / "sender.log").read_text()
        assert "restarting" in log and "settled" in log
        # the messages the killed worker had in hand have their events too
        sent = {event["profile_id"] for event in home.events() if event["type"] == "sent"}
        assert sent == {f"p{i}" for i in range(count)}
