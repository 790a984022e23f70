"""Transactional API benchmark (issue #8): request to SMTP acceptance under a steady load.

    python -m tests.benchmarks.bench_transactional [--rate 200] [--seconds 30] [--workers 2]
        [--baseline-seconds 15] [--profile var/bench-tx-profile]

Target: "Transactional API: request to SMTP acceptance p99 <= 1 s under 200 requests/s".

In a fresh HERALD_HOME (tests/support/sending.py's SendingHome: own queues, SQLite store,
delivery rules routing `bench.test` to the receiver, an RSA DKIM key for shop.test), an
order-confirmation template and a transactional campaign are created and launched with the
`herald` command, as a user would. Then, all on this machine:

- the API: `herald serve-api` (uvicorn, as shipped: one process, access log on);
- the workers: `herald serve sender --workers N`, started and live before the clock;
- the receiver: aiosmtpd in a thread of this process (PIPELINING advertised), recording
  time.time() when each message's DATA ends, keyed by the request id the template puts in the
  subject (`Order ... [r000123]`);
- the load, in a child process of its own: an asyncio loop (uvloop) starting one `POST
  /api/v1/transactional` every 1/rate s, open-loop (it never waits for an answer before
  starting the next), each to its own address with its own idempotency key, for `seconds`
  (6,000 requests at the defaults), on keep-alive HTTP/1.1 connections (a minimal client: a
  general one such as httpx spends more CPU per request than the API and became what was
  measured). Each request's due, start and answer times are kept.

A second of load, delivered, warms everything up before the clock. Latency end to end = SMTP
acceptance - request start. Reported: its p50/p90/p99/max, the HTTP answer's, the achieved
rate, errors, messages received (missing, duplicated), where the time goes per message: API
(start to 202), queue (202 to the worker's claim in the send log, `first_attempt_at`) and
worker (claim to SMTP acceptance: render, DKIM, SMTP); CPU % of one core and CPU ms per
message for the API, the workers, RabbitMQ, the load client, this process and the machine.

Baseline, in the same run: the same chunks published straight to the priority lane from the
child process (ui.campaigns_api.TransactionalPublisher: aiormq, publisher confirms, no HTTP)
at the same rate for --baseline-seconds, through the same workers: publish to acceptance.

--profile FOLDER: the API and a single worker run under cProfile (no baseline, no results
written); the worker's stages (bench_sender's summary) and the API's top functions are
printed and written to FOLDER (use a lower --rate: one profiled worker is slower).

The events the workers publish are drained off the events queue by this process, as the
loader would. Needs RabbitMQ (HERALD_TEST_BROKER, default amqp://guest:guest@127.0.0.1:5672/).
Writes tests/benchmarks/results/transactional.json and transactional.md. Environment, for
`make bench` (run_all's `transactional`): BENCH_TX_RATE (200), BENCH_TX_SECONDS (30),
BENCH_TX_WORKERS (2), BENCH_TX_BASELINE_SECONDS (15; 0 skips it), BENCH_TX_HOME (default
var/bench-transactional; removed afterwards unless BENCH_TX_KEEP=1).
Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import platform
import pstats
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import numpy as np
import psutil
import yaml
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.benchmarks.bench_sender import EventsDrain, children_cpu, cpu_percent, cpu_seconds, stop
from tests.support.cli import run_herald
from tests.support.sending import SendingHome, SinkController, SinkHandler, free_port

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "tests" / "benchmarks" / "results"
BIN = Path(sys.executable).parent
DOMAIN = "bench.test"
CAMPAIGN = "order-confirmation"
DRAIN_SECONDS = 60.0  # after the last request: how long to wait for the last messages

# The target.
P99_TARGET_S = 1.0
TARGET_RATE = 200

TEMPLATE = {
    "name": "order",
    "channel": "email",
    "subject": "Order {{ order_number }} [{{ request }}]",
    "preheader": "Thank you for your order, {{ given_name }}",
    "html": (
        "<html><body><p>Hello {{ given_name }},</p>"
        "<p>Your order {{ order_number }} of {{ total }} EUR is confirmed and will be shipped "
        "to {{ city }} within two days.</p>"
        "<ul>{% for line in lines %}<li>{{ line.name }} x {{ line.qty }}: {{ line.price }} EUR"
        "</li>{% endfor %}</ul>"
        '<p><a href="https://shop.test/orders/{{ order_number }}">Track your order</a></p>'
        "</body></html>"
    ),
    "from": "orders@shop.test",
    "from_name": "Shop",
}
REQUEST_ID = re.compile(rb"\[([rbw]\d{6})\]")


# --- the receiver ------------------------------------------------------------------------------


@dataclass
class AcceptanceHandler(SinkHandler):
    """Accepts everything and records when each request's message was accepted."""

    accepted: dict[str, float] = field(default_factory=dict)
    duplicates: int = 0
    unknown: int = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        now = time.time()
        data = envelope.original_content or b""
        found = REQUEST_ID.search(data[: data.find(b"\r\n\r\n")])
        with self.lock:
            if found is None:
                self.unknown += 1
            elif found[1].decode() in self.accepted:
                self.duplicates += 1
            else:
                self.accepted[found[1].decode()] = now
            count = len(self.accepted)
        return f"250 2.0.0 Ok: queued as A{count}"

    def count(self, prefix: str) -> int:
        with self.lock:
            return sum(1 for key in self.accepted if key.startswith(prefix))


@dataclass
class Receiver:
    handler: AcceptanceHandler
    controller: SinkController
    port: int

    @classmethod
    def start(cls) -> Receiver:
        handler = AcceptanceHandler()
        port = free_port()
        controller = SinkController(
            handler, hostname="127.0.0.1", port=port, data_size_limit=None, decode_data=False
        )
        controller.start()
        return cls(handler, controller, port)

    def stop(self) -> None:
        self.controller.stop()


# --- the load ----------------------------------------------------------------------------------


@dataclass
class Sent:
    """One request: when it was due, started, answered (time.time()), and how."""

    request: str
    due: float
    started: float = 0.0
    answered: float = 0.0
    status: int = 0
    error: str | None = None


def order(request: str, number: int) -> dict[str, Any]:
    return {
        "order_number": f"A-{100000 + number}",
        "request": request,
        "total": 40 + number % 60,
        "given_name": "Anna",
        "city": "Lisbon",
        "lines": [
            {"name": "Merino sweater", "qty": 1, "price": 59},
            {"name": "Wool scarf", "qty": 2, "price": 19},
        ],
    }


class KeepAlivePool:
    """A minimal HTTP/1.1 client on keep-alive connections (asyncio streams): a request
    takes an idle connection (the most recently used) or opens one, so requests never wait
    for each other; far lighter than a general client, so the load generator is not what is
    measured."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened = 0

    async def open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self.opened += 1
        return await asyncio.open_connection(self.host, self.port)

    async def prepare(self, connections: int) -> None:
        self.idle = list(await asyncio.gather(*(self.open() for _ in range(connections))))

    async def post(self, path: str, body: bytes) -> int:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        for attempt in range(2):
            reused = attempt == 0 and bool(self.idle)
            reader, writer = self.idle.pop() if reused else await self.open()
            try:
                writer.write(head + body)
                status_line = await reader.readline()
                if not status_line:  # the server closed an idle connection: once more
                    raise ConnectionResetError("closed by the server")
                length, closing = 0, False
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                    elif name.lower() == "connection" and "close" in value.lower():
                        closing = True
                await reader.readexactly(length)
            except (ConnectionError, asyncio.IncompleteReadError):
                writer.close()
                if reused:  # a fresh connection, once
                    continue
                raise
            if closing:
                writer.close()
            else:
                self.idle.append((reader, writer))
            return int(status_line.split()[1])
        raise ConnectionError("unreachable")

    def close(self) -> None:
        for _reader, writer in self.idle:
            writer.close()


def body_for(request: str, number: int, tag: str) -> bytes:
    return json.dumps(
        {
            "campaign": CAMPAIGN,
            "to": f"{request}@{DOMAIN}",
            "data": order(request, number),
            "idempotency_key": f"{tag}-{request}",
        }
    ).encode()


async def open_loop(sent: list[Sent], rate: float, send: Any) -> float:
    """Start `send(item, number)` for each item every 1/rate s, whatever the answers do;
    returns the seconds from the first start to the last."""
    tasks = []
    start = time.time() + 0.05
    for number, item in enumerate(sent):
        item.due = start + number / rate
        delay = item.due - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(item, number)))
    await asyncio.gather(*tasks)
    return max(s.started for s in sent) - min(s.started for s in sent)


async def drive_api(
    url: str, prefix: str, rate: float, seconds: float, tag: str
) -> tuple[list[Sent], float]:
    """The API under an open-loop load; the requests and the seconds they took to start."""
    address = httpx.URL(url)
    pool = KeepAlivePool(address.host, address.port or 80)
    await pool.prepare(min(64, max(1, int(rate // 4))))
    sent = [Sent(f"{prefix}{number:06d}", 0.0) for number in range(round(rate * seconds))]

    async def one(item: Sent, number: int) -> None:
        body = body_for(item.request, number, tag)
        item.started = time.time()
        try:
            item.status = await pool.post("/api/v1/transactional", body)
            if item.status != 202:
                item.error = f"HTTP {item.status}"
        except (OSError, asyncio.IncompleteReadError) as exc:
            item.error = repr(exc)[:200]
        item.answered = time.time()

    span = await open_loop(sent, rate, one)
    pool.close()
    return sent, span


async def drive_publisher(
    run_id: str, prefix: str, rate: float, seconds: float, tag: str
) -> tuple[list[Sent], float]:
    """The baseline: the same chunks published straight to the priority lane (confirmed)."""
    from herald.sending.wire import Recipient, SendChunk
    from herald.settings import load_settings
    from ui.campaigns_api import TransactionalPublisher

    publisher = TransactionalPublisher(load_settings())
    await publisher.channel()
    sent = [Sent(f"{prefix}{number:06d}", 0.0) for number in range(round(rate * seconds))]

    async def one(item: Sent, number: int) -> None:
        address = f"{item.request}@{DOMAIN}"
        fields = {**order(item.request, number), "email": address}
        chunk = SendChunk(
            run_id, [Recipient(f"to:{address}", address, fields)], step=f"tx:{tag}-{item.request}"
        )
        item.started = time.time()
        try:
            await publisher.publish(chunk)
            item.status = 202
        except Exception as exc:  # a benchmark counts every failure, whatever it is
            item.error = repr(exc)[:200]
        item.answered = time.time()

    span = await open_loop(sent, rate, one)
    await publisher.close()
    return sent, span


def load_child(spec: str) -> None:
    """The load in a process of its own (`--child '{...}'`), so that neither it nor the
    receiver slows the other's clock: prints the requests as JSON."""
    options = json.loads(spec)
    if options["mode"] == "api":
        work = drive_api(
            options["url"], options["prefix"], options["rate"], options["seconds"], options["tag"]
        )
    else:
        work = drive_publisher(
            options["run"], options["prefix"], options["rate"], options["seconds"], options["tag"]
        )
    sent, span = run_loop(work)
    print(json.dumps({"span": span, "sent": [dataclasses.asdict(item) for item in sent]}))


def run_loop(work: Any) -> Any:
    try:
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(work)
    except ImportError:
        return asyncio.run(work)


# --- the figures -------------------------------------------------------------------------------


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p90": None, "p99": None, "max": None, "mean": None}
    array = np.array(values)
    return {
        "p50": round(float(np.percentile(array, 50)), 4),
        "p90": round(float(np.percentile(array, 90)), 4),
        "p99": round(float(np.percentile(array, 99)), 4),
        "max": round(float(array.max()), 4),
        "mean": round(float(array.mean()), 4),
    }


def claims(home: Path, run_id: str) -> dict[str, float]:
    """The worker's claim time (send log first_attempt_at, epoch s) by request id."""
    with contextlib.closing(sqlite3.connect(home / "herald.sqlite", timeout=30)) as connection:
        rows = connection.execute(
            "select recipient, first_attempt_at from send_log where run_id = ?", (run_id,)
        ).fetchall()
    found: dict[str, float] = {}
    for recipient, moment in rows:
        if moment is None:
            continue
        parsed = datetime.fromisoformat(str(moment))
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        found[str(recipient).split("@", 1)[0]] = parsed.timestamp()
    return found


def summarise(
    sent: list[Sent], span: float, accepted: dict[str, float], claimed: dict[str, float]
) -> dict[str, Any]:
    ok = [s for s in sent if s.status == 202]
    delivered = [s for s in ok if s.request in accepted]
    statuses: dict[str, int] = {}
    for item in sent:
        label = str(item.status) if item.status else "no answer"
        statuses[label] = statuses.get(label, 0) + 1
    lag = [s.started - s.due for s in sent]
    phases: dict[str, Any] = {
        "api": percentiles([s.answered - s.started for s in delivered]),
        "queue": percentiles(
            [claimed[s.request] - s.answered for s in delivered if s.request in claimed]
        ),
        "worker": percentiles(
            [accepted[s.request] - claimed[s.request] for s in delivered if s.request in claimed]
        ),
    }
    errors = [s.error for s in sent if s.error]
    return {
        "requests": len(sent),
        "seconds": round(span, 2),
        "achieved_rate": round((len(sent) - 1) / span, 1) if span else None,
        "statuses": statuses,
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:5],
        "accepted_by_smtp": len(delivered),
        "missing": len(ok) - len(delivered),
        "client_lag_max_s": round(max(lag), 4) if lag else None,
        "http": percentiles([s.answered - s.started for s in ok]),
        "end_to_end": percentiles([accepted[s.request] - s.started for s in delivered]),
        "end_to_end_from_due": percentiles([accepted[s.request] - s.due for s in delivered]),
        "phases": phases,
        "over_1s": sum(1 for s in delivered if accepted[s.request] - s.started > 1.0),
    }


def per_second(sent: list[Sent], accepted: dict[str, float]) -> list[dict[str, Any]]:
    """Latency p99 and max per second of the load (to see whether it grows)."""
    if not sent:
        return []
    start = min(s.started for s in sent)
    buckets: dict[int, list[float]] = {}
    for item in sent:
        if item.request in accepted:
            buckets.setdefault(int(item.started - start), []).append(
                accepted[item.request] - item.started
            )
    return [
        {"second": second, "requests": len(values), **percentiles(values)}
        for second, values in sorted(buckets.items())
    ]


# --- the run -----------------------------------------------------------------------------------


@dataclass
class Bench:
    base: Path
    rate: float
    seconds: float
    workers: int
    baseline_seconds: float
    receiver: Receiver
    home: Any = None
    run_id: str = ""
    api_port: int = 0
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    profile: Path | None = None  # a folder: the API and one worker run under cProfile

    def herald(self, *args: str) -> Any:
        done = run_herald(list(args), self.home.home, env=self.home.env)
        if done.returncode != 0:
            raise SystemExit(f"herald {' '.join(args)} failed:\n{done.stderr}{done.stdout}")
        return json.loads(done.stdout) if done.stdout.strip().startswith("{") else done.stdout

    def setup(self) -> None:
        from herald.campaigns.catalog import campaign_launches, launch_runs

        self.home = SendingHome.create(
            self.base, SimpleNamespace(port=self.receiver.port), domains=(DOMAIN,), max_age="600s"
        )
        (self.home.home / "dkim" / "shop.test" / "ed1.pem").unlink()  # sign with RSA only
        template = self.base / "order.template.yml"
        template.write_text(yaml.safe_dump(TEMPLATE, sort_keys=False))
        campaign = self.base / "order.campaign.yml"
        definition = {
            "name": CAMPAIGN,
            "kind": "transactional",
            "channel": "email",
            "template": "order",
            "options": {"mail_from": "bounces@shop.test", "feedback_id": "orders"},
        }
        campaign.write_text(yaml.safe_dump(definition, sort_keys=False))
        self.herald("template", "create", "--file", str(template))
        self.herald("campaign", "create", "--file", str(campaign))
        self.herald("campaign", "launch", CAMPAIGN)
        launched = campaign_launches(self.home.store, CAMPAIGN, limit=1)
        self.run_id = launch_runs(self.home.store, [launched[0].id])[0].id

    def start(self, command: list[str], log: str) -> subprocess.Popen[bytes]:
        with (self.base / log).open("ab") as handle:
            process = subprocess.Popen(
                command,
                stdout=handle,
                stderr=subprocess.STDOUT,
                env=self.home.env,
                cwd=REPO,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def start_workers(self) -> subprocess.Popen[bytes]:
        from sqlalchemy import func, select

        from herald.store.models import SenderWorker

        command = [str(BIN / "herald"), "serve", "sender", "--workers", str(self.workers)]
        if self.profile is not None:
            worker = ["-m", "senders.worker", "--id", "bench:1"]
            command = [*self.profiled("worker"), *worker]
        process = self.start(command, "sender.log")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"the sender exited:\n{self.tail('sender.log')}")
            with self.home.store.connect() as connection:
                live = connection.execute(select(func.count()).select_from(SenderWorker)).scalar()
            if (live or 0) >= (1 if self.profile else self.workers):
                time.sleep(1.0)  # the first heartbeats have divided the limits
                return process
            time.sleep(0.25)
        raise SystemExit(
            f"the sender workers did not start within 60 s:\n{self.tail('sender.log')}"
        )

    def start_api(self) -> subprocess.Popen[bytes]:
        self.api_port = free_port()
        command = [str(BIN / "herald"), "serve-api", "--port", str(self.api_port)]
        if self.profile is not None:
            command = [*self.profiled("api"), "-m", "herald.cli", *command[1:]]
        process = self.start(command, "api.log")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"the API exited:\n{self.tail('api.log')}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return process
            time.sleep(0.25)
        raise SystemExit(f"the API did not answer within 60 s:\n{self.tail('api.log')}")

    def profiled(self, name: str) -> list[str]:
        assert self.profile is not None
        return [sys.executable, "-m", "cProfile", "-o", str(self.profile / f"{name}.prof")]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def tail(self, log: str) -> str:
        with contextlib.suppress(OSError):
            return (self.base / log).read_text()[-3000:]
        return ""

    def wait_for(self, sent: list[Sent], prefix: str) -> None:
        """Until every accepted request's message has arrived, or no progress for a while."""
        expected = sum(1 for s in sent if s.status == 202)
        last, progress = -1, time.monotonic()
        deadline = time.monotonic() + DRAIN_SECONDS
        while time.monotonic() < deadline:
            count = self.receiver.handler.count(prefix)
            if count >= expected:
                return
            if count > last:
                last, progress = count, time.monotonic()
            elif time.monotonic() - progress > 20:
                return
            time.sleep(0.2)

    def load(self, mode: str, prefix: str, seconds: float, tag: str) -> tuple[list[Sent], float]:
        """Run the load in a child process (see load_child); its requests, and the seconds
        from its first start to its last."""
        spec = {"mode": mode, "url": self.url, "run": self.run_id, "prefix": prefix,
                "rate": self.rate, "seconds": seconds, "tag": tag}  # fmt: skip
        command = [sys.executable, "-m", "tests.benchmarks.bench_transactional"]
        done = subprocess.run(
            [*command, "--child", json.dumps(spec)],
            capture_output=True,
            text=True,
            env=self.home.env,
            cwd=REPO,
        )
        if done.returncode != 0:
            raise SystemExit(f"the load client failed:\n{done.stderr[-3000:]}")
        found = json.loads(done.stdout)
        return [Sent(**item) for item in found["sent"]], float(found["span"])

    def warm_up(self) -> None:
        """A second of requests at the rate, delivered, before the clock (connections,
        caches, the API's AMQP channel)."""
        sent, _ = self.load("api", "w", 1.0, uuid.uuid4().hex[:6])
        self.wait_for(sent, "w")

    def phase(self, mode: str, prefix: str, seconds: float, tag: str, groups: dict) -> dict:
        before = cpu_seconds(groups)
        before["load_client"] = children_cpu()
        wall = time.time()
        sent, span = self.load(mode, prefix, seconds, tag)
        self.wait_for(sent, prefix)
        after = cpu_seconds(groups)
        after["load_client"] = children_cpu()
        wall = time.time() - wall
        accepted = dict(self.receiver.handler.accepted)
        figures = summarise(sent, span, accepted, claims(self.home.home, self.run_id))
        figures["cpu_percent"] = cpu_percent(before, after, wall)
        figures["cpu_ms_per_message"] = {
            key: round(1000 * (after[key] - before[key]) / max(1, len(sent)), 2) for key in after
        }
        figures["per_second"] = per_second(sent, accepted)
        print(f"{mode}: {compact(figures)}", file=sys.stderr, flush=True)
        return figures

    def measure(self) -> dict[str, Any]:
        workers = self.start_workers()
        api = self.start_api()
        drain = EventsDrain(self.home.settings.broker, self.home.settings.events_queue)
        groups = {
            "api": ("group", api.pid),
            "workers": ("group", workers.pid),
            "rabbitmq": ("name", "beam.smp"),
            "receiver_drain": ("pid", os.getpid()),
        }
        baseline = None
        try:
            self.warm_up()
            tag = uuid.uuid4().hex[:6]
            api_figures = self.phase("api", "r", self.seconds, tag, groups)
            if self.baseline_seconds > 0:
                baseline = self.phase("publish", "b", self.baseline_seconds, tag, groups)
        finally:
            if self.profile is not None:  # uvicorn re-raises SIGTERM: SIGINT lets cProfile dump
                api.send_signal(signal.SIGINT)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    api.wait(timeout=30)
            for process in self.processes:
                stop(process, group=True)
            drain.close()
        return {
            "api": api_figures,
            "baseline_direct_publish": baseline,
            "duplicates": self.receiver.handler.duplicates,
            "unknown_messages": self.receiver.handler.unknown,
            "events_drained": drain.events,
        }


def compact(figures: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in figures.items() if k not in ("per_second", "phases")}


def machine() -> dict[str, Any]:
    from tests.benchmarks.bench_sender import _cpu_model
    from tests.support.sending import BROKER

    return {
        "cpus": os.cpu_count(),
        "cpu_model": platform.processor() or _cpu_model(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "broker": re.sub(r"//[^@]*@", "//", BROKER),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def ms(value: float | None) -> str:
    return "–" if value is None else f"{1000 * value:,.0f}"


def render_markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    api = report["api"]
    base = report.get("baseline_direct_publish")
    e2e = api["end_to_end"]
    met = (
        e2e["p99"] is not None
        and e2e["p99"] <= P99_TARGET_S
        and api["missing"] == 0
        and api["errors"] == 0
        and (api["achieved_rate"] or 0) >= 0.98 * report["rate"]
    )
    lines = [
        "# Transactional API benchmark",
        "",
        f"{report['when']}, {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB, "
        f"Python {m['python']}; the API (`herald serve-api`), {report['workers']} sender "
        "workers (`herald serve sender`), RabbitMQ, the SMTP receiver (aiosmtpd) and the load "
        f"client on the same machine. Load average at the start {m['load_average'][0]}.",
        "",
        "## Target",
        "",
        "| target | measured | |",
        "|---|---|---|",
        f"| request to SMTP acceptance p99 ≤ 1 s under {TARGET_RATE} requests/s | "
        f"p99 {ms(e2e['p99'])} ms at {api['achieved_rate']} requests/s "
        f"({api['requests']:,} requests, {api['accepted_by_smtp']:,} accepted, "
        f"{api['errors']} errors) | {'met' if met else 'MISSED'} |",
        "",
        "## Latency (ms)",
        "",
        f"Open loop: one request every {1000 / report['rate']:.0f} ms for "
        f"{report['seconds']:.0f} s whatever the answers do; each to its own address and "
        "idempotency key. End to end = "
        "the receiver's acceptance (end of DATA) − the request's start. The baseline publishes "
        "the same chunks straight to the priority lane (aiormq, confirms; no HTTP) at the same "
        "rate: publish start to acceptance.",
        "",
        "| path | requests | rate /s | p50 | p90 | p99 | max | > 1 s | errors | missing |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]

    def row(label: str, figures: dict[str, Any], key: str) -> str:
        p = figures[key]
        over = figures["over_1s"] if key == "end_to_end" else "–"
        return (
            f"| {label} | {figures['requests']:,} | {figures['achieved_rate']} | {ms(p['p50'])} | "
            f"{ms(p['p90'])} | {ms(p['p99'])} | {ms(p['max'])} | {over} | {figures['errors']} | "
            f"{figures['missing']} |"
        )

    lines.append(row("API: request → SMTP acceptance", api, "end_to_end"))
    lines.append(row("API: request → HTTP 202", api, "http"))
    if base:
        lines.append(row("baseline: publish → SMTP acceptance", base, "end_to_end"))
        lines.append(row("baseline: publish → confirm", base, "http"))
    lines += [
        "",
        "## Where the time goes (ms, per message)",
        "",
        "API = request start → 202 (validation, campaign lookup, confirmed publish); queue = "
        "202 → the worker's claim in the send log (`first_attempt_at`: broker delivery, the "
        "worker's prefetch); worker = claim → SMTP acceptance (claim, render, DKIM, SMTP).",
        "",
        "| path | phase | p50 | p90 | p99 | max |",
        "|---|---|---|---|---|---|",
    ]
    for label, figures in (("API", api), ("baseline", base)):
        if not figures:
            continue
        for phase, p in figures["phases"].items():
            lines.append(
                f"| {label} | {phase} | {ms(p['p50'])} | {ms(p['p90'])} | {ms(p['p99'])} | "
                f"{ms(p['max'])} |"
            )
    cpu = api["cpu_percent"]
    lines += [
        "",
        f"CPU % of one core during the API run (the machine has {m['cpus']}): API {cpu['api']}, "
        f"workers {cpu['workers']}, RabbitMQ {cpu['rabbitmq']}, the load client "
        f"{cpu['load_client']}, receiver + events drain {cpu['receiver_drain']}, machine "
        f"{cpu['machine']}. CPU ms per message: "
        + ", ".join(f"{k} {v}" for k, v in api["cpu_ms_per_message"].items())
        + f". Client lag (start − "
        f"due) at most {ms(api['client_lag_max_s'])} ms; end to end from the due time p99 "
        f"{ms(api['end_to_end_from_due']['p99'])} ms. HTTP statuses {api['statuses']}; "
        f"duplicates received {report['duplicates']}; events drained "
        f"{report['events_drained']:,}.",
        "",
    ]
    if base:
        lines += [
            "Baseline CPU ms per message: "
            + ", ".join(f"{k} {v}" for k, v in base["cpu_ms_per_message"].items())
            + ".",
            "",
        ]
    worst = sorted(api["per_second"], key=lambda b: b["p99"] or 0, reverse=True)[:3]
    if worst:
        lines.append(
            "Worst seconds of the load by p99: "
            + ", ".join(f"second {b['second']}: p99 {ms(b['p99'])} ms" for b in worst)
            + "."
        )
    return "\n".join(lines) + "\n"


def print_profiles(folder: Path, messages: int) -> None:
    """The worker's stages (bench_sender's summary) and the API's top functions."""
    from tests.benchmarks.bench_sender import profile_summary

    print(profile_summary(folder / "worker.prof", messages))
    out = folder / "api.prof.top.txt"
    with out.open("w") as handle:
        pstats.Stats(str(folder / "api.prof"), stream=handle).sort_stats("tottime").print_stats(40)
        pstats.Stats(str(folder / "api.prof"), stream=handle).sort_stats("cumulative").print_stats(
            60
        )
    print(f"API profile (tottime and cumulative): {out}")


def run(args: argparse.Namespace) -> dict[str, Any]:
    base = Path(os.environ.get("BENCH_TX_HOME", REPO / "var" / "bench-transactional")).resolve()
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)  # clients that hang up
    receiver = Receiver.start()
    bench = Bench(base, args.rate, args.seconds, args.workers, args.baseline_seconds, receiver)
    if args.profile:
        bench.profile = Path(args.profile).resolve()
        bench.profile.mkdir(parents=True, exist_ok=True)
        bench.baseline_seconds = 0
    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "rate": args.rate,
        "seconds": args.seconds,
        "workers": args.workers,
        "dkim": "rsa",
    }
    try:
        bench.setup()
        report.update(bench.measure())
        if bench.profile is not None:
            print_profiles(bench.profile, report["api"]["accepted_by_smtp"])
    finally:
        receiver.stop()
        if bench.home is not None:
            bench.home.delete_queues()
        if os.environ.get("BENCH_TX_KEEP") != "1":
            shutil.rmtree(base, ignore_errors=True)
    return report


def run_and_report(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rate", type=float, default=float(os.environ.get("BENCH_TX_RATE", "200")))
    parser.add_argument(
        "--seconds", type=float, default=float(os.environ.get("BENCH_TX_SECONDS", "30"))
    )
    parser.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_TX_WORKERS", "2")))
    parser.add_argument(
        "--baseline-seconds",
        type=float,
        default=float(os.environ.get("BENCH_TX_BASELINE_SECONDS", "15")),
    )
    parser.add_argument("--profile", default=None, help="A folder for api.prof, worker.prof.")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        load_child(args.child)
        return
    report = run(args)
    if args.profile:
        return
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "transactional.json").write_text(json.dumps(report, indent=2) + "\n")
    summary = render_markdown(report)
    (RESULTS / "transactional.md").write_text(summary)
    print(summary)


if __name__ == "__main__":
    run_and_report()
