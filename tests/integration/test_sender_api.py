"""Queue management and suppression through the HTTP API (ui/sending_api.py), with a real
RabbitMQ and SMTP server behind it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.support.sending import sending
from ui.api import create_app

pytestmark = pytest.mark.slow


def test_pause_status_and_resume_through_the_api(tmp_path):
    with sending(tmp_path) as (sink, home):
        client = TestClient(create_app(home.settings))
        run = home.run_for([(f"p{i}", f"u{i}@ok.test", {}) for i in range(150)])
        home.launch(run.id)

        assert client.post(f"/api/v1/send-runs/{run.id}/pause").json()["state"] == "paused"
        home.work_until_idle(idle=1.0)
        queues = client.get("/api/v1/sending/queues", params={"run": run.id}).json()
        assert queues["queues"][f"{home.settings.sends_queue}.hold.{run.id}"] == 2
        assert sink.messages == []

        assert client.post(f"/api/v1/send-runs/{run.id}/resume").json()["chunks_resumed"] == 2
        home.work_until_idle(idle=1.0)
        status = client.get(f"/api/v1/send-runs/{run.id}").json()
        assert status["counts"] == {"sent": 150}
        assert [r["id"] for r in client.get("/api/v1/send-runs").json()] == [run.id]


def test_api_errors_are_clear_statuses(tmp_path):
    with sending(tmp_path) as (_sink, home):
        client = TestClient(create_app(home.settings))
        run = home.run_for([("p0", "u0@ok.test", {})])

        assert client.post("/api/v1/send-runs/nope/pause").status_code == 404
        assert client.post(f"/api/v1/send-runs/{run.id}/cancel").status_code == 200
        answer = client.post(f"/api/v1/send-runs/{run.id}/resume")
        assert answer.status_code == 409 and "cancelled" in answer.json()["error"]
        bad = client.put(f"/api/v1/send-runs/{run.id}/throttle", json={"per_second": 0})
        assert bad.status_code == 422


def test_suppressions_through_the_api(tmp_path):
    with sending(tmp_path) as (_sink, home):
        client = TestClient(create_app(home.settings))

        added = client.post("/api/v1/suppressions", json={"address": "A@ok.test"})
        listed = client.get("/api/v1/suppressions").json()
        removed = client.delete("/api/v1/suppressions/email/a@ok.test")
        again = client.delete("/api/v1/suppressions/email/a@ok.test")

        assert added.status_code == 201 and added.json()["added"] is True
        assert [(i["address"], i["source"]) for i in listed] == [("a@ok.test", "api")]
        assert (removed.status_code, again.status_code) == (204, 404)
