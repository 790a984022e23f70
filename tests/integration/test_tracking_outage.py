"""RabbitMQ stopped during a load: the tracker keeps answering, spools, and replays when
RabbitMQ is back; nothing acknowledged is lost. The broker is a private RabbitMQ node
(deploy/rabbitmq-node.sh), really stopped and started again, so the machine's RabbitMQ and
the other tests are untouched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.test_tracking_durability import Load, landed_ids
from tests.support.tracking import ROOT, TrackingHome, free_port

NODE_SCRIPT = ROOT / "deploy" / "rabbitmq-node.sh"


def _node(*args: str) -> None:
    done = subprocess.run(
        [str(NODE_SCRIPT), *args], capture_output=True, text=True, timeout=180, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"rabbitmq-node.sh {args[0]} failed: {done.stderr[-1500:]}")


@pytest.mark.skipif(
    shutil.which("rabbitmq-server", path=os.environ.get("PATH", "") + ":/usr/sbin") is None,
    reason="needs Debian's rabbitmq-server to start a private node (deploy/services.sh)",
)
def test_rabbitmq_stopped_during_a_load_spools_and_replays(tmp_path: Path) -> None:
    port, dist_port = free_port(), free_port()
    # Not under tmp_path: pytest makes that 0700, and Debian runs the node as user rabbitmq.
    node_dir = Path(tempfile.mkdtemp(prefix="herald-rabbitmq-"))
    _node("start", str(node_dir), str(port), str(dist_port))
    try:
        service = TrackingHome.create(tmp_path, broker=f"amqp://guest:guest@127.0.0.1:{port}/")
        with service.tracker(workers=1) as url, Load(lambda: url, service.write_key) as load:
            load.wait_for(100)
            _node("stop", str(node_dir))  # RabbitMQ is gone: the tracker keeps answering
            stopped_at = load.count()
            load.wait_for(stopped_at + 100)
            health = httpx.get(f"{url}/health").json()
            assert health["broker"] == "down"
            assert health["spooled_bundles"] > 0
            during_outage = load.count() - stopped_at
            _node("start", str(node_dir), str(port), str(dist_port))
            deadline = time.monotonic() + 90
            while httpx.get(f"{url}/health").json()["spooled_bundles"] > 0:
                assert time.monotonic() < deadline, "the spool was not replayed"
                time.sleep(0.5)
        assert load.refused == []
        assert during_outage >= 100
        metrics = service.load()
        assert metrics["received"] == metrics["accepted"] + metrics["rejected"]
        assert load.acknowledged <= set(landed_ids(service))
    finally:
        _node("stop", str(node_dir))
        shutil.rmtree(node_dir, ignore_errors=True)
