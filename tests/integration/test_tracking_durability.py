"""Nothing acknowledged is lost: kill -9 of the tracker and of the loader during a load, and
RabbitMQ stopped during a load (a private RabbitMQ node, really stopped and started again).

Every test sends tracked events with known message ids from several threads, keeps the ids
the tracker answered 2xx, and checks that each of them landed: present in the landing files
(the events mart keeps one row per message id, tested in test_tracked_event_models.py).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from tests.support.tracking import ROOT, TrackingHome, stop

NODE_SCRIPT = ROOT / "deploy" / "rabbitmq-node.sh"


def landed_ids(service: TrackingHome) -> list[str]:
    ids: list[str] = []
    for path in service.landed("events"):
        ids.extend(pq.read_table(path, columns=["message_id"]).column(0).to_pylist())
    return ids


class Load:
    """Threads sending single /v1/track calls with unique message ids until stopped."""

    def __init__(self, url: Callable[[], str], write_key: str, threads: int = 6) -> None:
        self.url = url
        self.write_key = write_key
        self.acknowledged: set[str] = set()
        self.refused: list[int] = []
        self.failures = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _run(self) -> None:
        with httpx.Client(auth=(self.write_key, ""), timeout=15) as client:
            while not self._stop.is_set():
                message_id = str(uuid.uuid4())
                body = {
                    "userId": "SHOP-7",
                    "event": "Product Viewed",
                    "messageId": message_id,
                    "properties": {"product_id": "SKU-1", "price": 99.5},
                    "timestamp": "2026-11-20T10:00:00.000Z",
                }
                try:
                    response = client.post(f"{self.url()}/v1/track", json=body)
                except httpx.HTTPError:
                    with self._lock:
                        self.failures += 1
                    time.sleep(0.05)
                    continue
                with self._lock:
                    if response.status_code == 200:
                        self.acknowledged.add(message_id)
                    else:
                        self.refused.append(response.status_code)

    def count(self) -> int:
        with self._lock:
            return len(self.acknowledged)

    def wait_for(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.count() < count:
            assert time.monotonic() < deadline, f"only {self.count()} events acknowledged"
            time.sleep(0.05)


@pytest.fixture
def service(tmp_path: Path):
    home = TrackingHome.create(tmp_path)
    yield home
    home.delete_queues()


def test_kill_9_of_the_tracker_loses_no_acknowledged_event(service: TrackingHome) -> None:
    process, url = service.start_tracker(workers=2)
    current = {"url": url}
    try:
        with Load(lambda: current["url"], service.write_key) as load:
            load.wait_for(120)
            stop(process, kill=True)  # the master and both workers, mid-request
            killed_at = load.count()
            process, current["url"] = service.start_tracker(workers=2)
            load.wait_for(killed_at + 120)
    finally:
        stop(process)
    service.load()
    ids = landed_ids(service)
    assert load.acknowledged <= set(ids), "acknowledged events are missing"
    assert load.refused == []
    assert len(load.acknowledged) >= 240


def test_kill_9_of_the_loader_loses_nothing_and_lands_each_event(service: TrackingHome) -> None:
    with service.tracker(workers=1) as url, Load(lambda: url, service.write_key) as load:
        load.wait_for(800)
    assert service.queue_depth() > 0
    loader = service.start_loader("--batch-events", "200")
    deadline = time.monotonic() + 60
    while len(service.landed("events")) < 3:
        assert time.monotonic() < deadline, "the loader wrote nothing"
        assert loader.poll() is None, loader.stderr.read() if loader.stderr else ""
        time.sleep(0.02)
    stop(loader, kill=True)
    partial = set(landed_ids(service))
    assert 0 < len(partial) < len(load.acknowledged), "the kill came too late to test anything"
    service.load()
    ids = landed_ids(service)
    assert load.acknowledged <= set(ids)
    # Redelivered bundles may land twice in landing files, never more: the marts keep one.
    duplicates = len(ids) - len(set(ids))
    assert duplicates <= 200 * 10
    assert service.queue_depth() == 0
