"""The tracking service for tests: a home with a profile database and a write key, the tracker
and the loader as real processes (`herald serve tracking|loader`), against real RabbitMQ.

    service = TrackingHome.create(tmp_path)           # own HERALD_HOME and own queue name
    with service.tracker(workers=1) as url:            # waits for /health
        ...
    summary = service.load()                           # `herald serve loader --until-idle`
    service.delete_queues()

Each home gets its own events queue (HERALD_EVENTS_QUEUE), so tests in parallel processes
never share one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pika

from herald.settings import Settings, load_settings
from tracking.loader import Loader

ROOT = Path(__file__).resolve().parents[2]
BROKER = os.environ.get("HERALD_TEST_BROKER", "amqp://guest:guest@127.0.0.1:5672/")
SCHEMA = ROOT / "docs" / "schemas" / "customers.yml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def herald(
    env: dict[str, str], *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "herald.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=ROOT,
    )


@dataclass
class TrackingHome:
    home: Path
    queue: str
    broker: str
    write_key: str = ""
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, tmp_path: Path, *, broker: str = BROKER, source: str = "web") -> TrackingHome:
        home = tmp_path / "home"
        home.mkdir(parents=True, exist_ok=True)
        queue = f"events_test_{uuid.uuid4().hex[:10]}"
        env = {
            **os.environ,
            "HERALD_HOME": str(home),
            "HERALD_BROKER": broker,
            "HERALD_EVENTS_QUEUE": queue,
            "HERALD_TRACKING_KEYS": "t1:" + "k" * 32 + ",t0:" + "o" * 32,
        }
        env.pop("HERALD_WAREHOUSE", None)
        env.pop("HERALD_DATABASE", None)
        service = cls(home, queue, broker, env=env)
        applied = herald(env, "db", "apply", "--schema", str(SCHEMA))
        assert applied.returncode == 0, applied.stderr
        created = herald(env, "source", "create", source, "--db", "customers",
                         "--user-id-field", "shop_id")  # fmt: skip
        assert created.returncode == 0, created.stderr
        service.write_key = created.stdout.strip()
        return service

    @contextlib.contextmanager
    def tracker(self, *, workers: int = 1, port: int | None = None) -> Iterator[str]:
        process, url = self.start_tracker(workers=workers, port=port)
        try:
            yield url
        finally:
            stop(process)

    def start_tracker(
        self, *, workers: int = 1, port: int | None = None
    ) -> tuple[subprocess.Popen[bytes], str]:
        port = port or free_port()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "herald.cli",
                "serve",
                "tracking",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=self.env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the tracker exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    return process, url
            time.sleep(0.2)
        stop(process)
        raise RuntimeError("the tracker did not answer /health within 120 s")

    def start_loader(self, *extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "herald.cli", "serve", "loader", *extra],
            env=self.env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def settings(self) -> Settings:
        return load_settings(
            home=self.home,
            broker=self.broker,
            events_queue=self.queue,
            tracking_keys=self.env["HERALD_TRACKING_KEYS"],
            warehouse="",
            database="",
        )

    def load(self, until_idle: float = 1.0, *, command: bool = False) -> dict[str, int]:
        """Run the loader until the queue has been empty `until_idle` seconds: in this process
        (quick), or with `command` as `herald serve loader --until-idle` does."""
        if not command:
            stats = Loader(self.settings()).run(until_idle=until_idle)
            return json.loads(stats.summary())
        done = herald(self.env, "serve", "loader", "--until-idle", str(until_idle))
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    def queue_depth(self, queue: str | None = None) -> int:
        connection = pika.BlockingConnection(pika.URLParameters(self.broker))
        try:
            declared = connection.channel().queue_declare(queue or self.queue, passive=True)
            return int(declared.method.message_count)
        finally:
            connection.close()

    def dead_letters(self) -> list[tuple[str, bytes]]:
        """Every message in the dead-letter queue: (reason, body)."""
        connection = pika.BlockingConnection(pika.URLParameters(self.broker))
        found: list[tuple[str, bytes]] = []
        try:
            channel = connection.channel()
            while True:
                method, properties, body = channel.basic_get(f"{self.queue}.dead", auto_ack=False)
                if method is None:
                    break
                headers = properties.headers or {}
                found.append((str(headers.get("x-herald-reason", "")), body))
            channel.close()  # unacked messages go back to the queue
        finally:
            connection.close()
        return found

    def delete_queues(self) -> None:
        with contextlib.suppress(pika.exceptions.AMQPError):
            connection = pika.BlockingConnection(pika.URLParameters(self.broker))
            try:
                channel = connection.channel()
                for name in (self.queue, f"{self.queue}.dead"):
                    channel.queue_delete(name)
            finally:
                connection.close()

    def landed(self, table: str) -> list[Path]:
        return sorted((self.home / "landing" / table).glob("*.parquet"))


def accepted_total(tracker: str) -> int:
    """The tracker's herald_tracking_accepted_total (all workers), from /metrics."""
    text = httpx.get(f"{tracker}/metrics", timeout=5).text
    found = re.search(r"^herald_tracking_accepted_total (\d+)$", text, re.MULTILINE)
    return int(found.group(1)) if found else 0


def stop(process: subprocess.Popen[bytes] | subprocess.Popen[str], *, kill: bool = False) -> None:
    """Stop a service started in its own session: SIGTERM (or SIGKILL) to its process group."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL if kill else signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
