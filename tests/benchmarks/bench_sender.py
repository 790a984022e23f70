"""Sender benchmark (issue #7): the launcher, and a campaign end to end through
`herald serve sender --workers 2` into Postfix's smtp-sink, beside a bare smtplib loop.

    python -m tests.benchmarks.bench_sender [--recipients 1000000] [--workers 2]
        [--dkim rsa|ed25519] [--bare-messages 200000] [--parts launcher,e2e,bare]
        [--profile var/bench-sender/worker.prof]

In a fresh HERALD_HOME (tests/support/sending.py's SendingHome: own queues, sqlite store,
delivery rules routing `bench.test` to the sink, DKIM keys for shop.test, tracking keys):

launcher: a snapshot of --recipients profiles (profile_id, email, first_name, last_name,
city, language, plan, score) is written with write_snapshot, and `launch()` enqueues it,
once with `queued_events=False` and once with the `queued` event per recipient; the queues
are emptied after each (no worker runs).

e2e: `herald serve sender --workers 2` (real processes) is started and waited for (both
heartbeats in the store); the clock starts, `launch()` enqueues a new run of the same
snapshot (with its events) while the workers send, and stops when smtp-sink has accepted
every message (its -c counter), then when the send log holds an outcome for every recipient.
The template is a ~20 KB marketing e-mail (tables, 22 links, personalised text), tracked
(open pixel, rewritten links, List-Unsubscribe) and DKIM-signed (RSA-2048 by default). The
events the run publishes are drained off the events queue by this process, as the loader
would. CPU seconds are read from /proc (psutil) for the workers, RabbitMQ (beam.smp),
smtp-sink and this process (launcher and drain); the sink's concurrent connections are
sampled.

bare: in the same run, against the same smtp-sink, --workers processes each with its share
of the connections Herald had open at most (threads, one smtplib connection each, a new
connection every messages_per_connection messages as Herald does) send --bare-messages
copies of one message Herald built (same size, same signature); Herald / bare is reported.

--profile PATH: instead of the above, one worker runs under cProfile (`python -m cProfile
-o PATH -m senders.worker`) for a run of --recipients; the top of the profile is printed
and written beside PATH (.txt).

Needs smtp-sink (`deploy/smtp-sink.sh ensure`) and RabbitMQ (HERALD_TEST_BROKER, default
amqp://guest:guest@127.0.0.1:5672/). Writes tests/benchmarks/results/sender.json and
sender.md (a part not run keeps its figures from the previous file). Environment, for
`make bench` (run_all's `sender`): BENCH_SENDER_RECIPIENTS (default 1,000,000),
BENCH_SENDER_WORKERS (2), BENCH_SENDER_BARE_MESSAGES (default min(recipients, 200,000)),
BENCH_SENDER_DKIM (rsa), BENCH_SENDER_HOME (default var/bench-sender; removed afterwards
unless BENCH_SENDER_KEEP=1), BENCH_SENDER_TIMEOUT (seconds, default 3600).
Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import pstats
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pika
import psutil
import pyarrow as pa

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "tests" / "benchmarks" / "results"
BIN = Path(sys.executable).parent
SINK_SCRIPT = REPO / "deploy" / "smtp-sink.sh"
DOMAIN = "bench.test"
PARTS = ("launcher", "e2e", "bare")
LAUNCH_GROUPS = {"rabbitmq": ("name", "beam.smp"), "launcher": ("pid", os.getpid())}
STALL_SECONDS = 120.0  # no message accepted for this long: the run is reported as stalled

# The targets.
E2E_TARGET = 2_000  # messages/s, first enqueue to last accepted, two workers
BARE_RATIO_TARGET = 0.4
LAUNCH_TARGET_S = 60.0  # a 1M-recipient snapshot enqueued

FIRST_NAMES = [
    "Anna",
    "Boris",
    "Chloé",
    "Dmitri",
    "Elena",
    "Farid",
    "Greta",
    "Hugo",
    "Irina",
    "Jonas",
    "Katya",
    "Liam",
    "Maria",
    "Nikolai",
    "Olga",
    "Pavel",
]
LAST_NAMES = ["Ivanova", "Smith", "Müller", "Garcia", "Rossi", "Kowalski", "Petrov", "Dubois"]
CITIES = ["Moscow", "Berlin", "Lisbon", "Paris", "Kazan", "Madrid", "Prague", "Riga", "Oslo"]
PLANS = ["free", "plus", "pro"]


# --- the campaign --------------------------------------------------------------------------


def template_html() -> str:
    """A ~20 KB marketing e-mail: nested tables, inline styles, 22 links, personalised."""
    cell = 'style="padding:12px 18px;font-family:Helvetica,Arial,sans-serif;color:#333333"'
    nav = " | ".join(
        f'<a href="https://shop.test/{part}?utm_source=newsletter&amp;utm_medium=email" '
        f'style="color:#0a66c2;text-decoration:none">{part.title()}</a>'
        for part in ("women", "men", "kids", "sale")
    )
    products = []
    for number in range(1, 9):
        link = f"https://shop.test/p/{number}?utm_source=newsletter&amp;utm_content="
        products.append(
            f"""<tr><td {cell}><table role="presentation" width="100%" cellpadding="0"
cellspacing="0" border="0"><tr><td width="180" valign="top"><a href="{link}image{number}"><img
src="https://cdn.shop.test/img/product-{number}.jpg" width="160" height="160" alt="Product
{number}" style="display:block;border:0;border-radius:6px"></a></td><td valign="top"
style="padding-left:16px;font-family:Helvetica,Arial,sans-serif;font-size:15px;line-height:22px;
color:#333333"><h3 style="margin:0 0 6px 0;font-size:18px;color:#111111">Autumn pick
number {number}</h3><p style="margin:0 0 10px 0">Hand-picked for you in {{{{ city }}}},
{{{{ first_name }}}}: soft merino wool, a relaxed fit and a colour that goes with everything
in your wardrobe. Free delivery to {{{{ city }}}} on orders over 50 EUR this week only, and
free returns within 30 days.</p><p style="margin:0 0 10px 0;font-size:13px;color:#555555">
Care: wash at 30 degrees on a wool cycle, dry flat, do not tumble dry. Made in Portugal from
responsibly sourced fibres; every piece is checked by hand before it leaves our workshop.
Sizes XS to XXL, true to size; if you are between two sizes we suggest the smaller one.
Members who bought this also chose the matching scarf and the lined gloves. Reviews
from {{{{ city }}}}: 4.8 out of 5 from 1,240 customers, who liked the warmth and the fit.</p>
<p style="margin:0 0 10px 0;font-size:13px;color:#777777">
Was <s>89.00 EUR</s>, now <strong style="color:#c0392b">{49 + number}.00 EUR</strong> for
members of the {{{{ plan }}}} plan.</p><a href="{link}button{number}" style="display:inline-block;
background:#0a66c2;color:#ffffff;padding:10px 18px;border-radius:4px;text-decoration:none;
font-weight:bold">Shop now</a></td></tr></table></td></tr>"""
        )
    footer_links = " · ".join(
        f'<a href="https://shop.test/{part}" style="color:#999999">{part.title()}</a>'
        for part in ("help", "stores", "privacy")
    )
    hero = "https://shop.test/autumn?utm_source=newsletter&amp;utm_campaign=autumn"
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport"
content="width=device-width,initial-scale=1"><title>Autumn picks</title><style>
@media only screen and (max-width:600px){{.container{{width:100%!important}}
.stack{{display:block!important;width:100%!important}}}}</style></head>
<body style="margin:0;padding:0;background:#f4f4f4"><table role="presentation" width="100%"
cellpadding="0" cellspacing="0" border="0" style="background:#f4f4f4"><tr><td align="center">
<table role="presentation" class="container" width="600" cellpadding="0" cellspacing="0"
border="0" style="background:#ffffff;margin:24px 0;border-radius:8px"><tr><td {cell}
align="center">{nav}</td></tr><tr><td {cell}><a href="{hero}">
<img src="https://cdn.shop.test/img/hero.jpg" width="564"
alt="Autumn collection"
style="display:block;border:0;width:100%"></a><h1 style="font-size:26px;color:#111111">
{{{{ first_name }}}}, autumn has arrived in {{{{ city }}}}</h1><p style="font-size:16px;
line-height:24px">Dear {{{{ first_name }}}} {{{{ last_name }}}}, we picked eight new pieces
for the colder days in {{{{ city }}}}. As a {{{{ plan }}}} member you get early access until
Sunday, and your points ({{{{ score }}}}) are worth double on everything below.</p></td></tr>
{"".join(products)}<tr><td {cell} align="center" style="font-size:12px;color:#999999">
{footer_links}<br>You receive this e-mail as a customer of Shop, {{{{ first_name }}}}.
Shop Ltd, 1 Market Street, {{{{ city }}}}.<br><br>Prices include VAT. Offers are valid
while stocks last and cannot be combined with other promotions; double points are credited
within 14 days of delivery to members of the {{{{ plan }}}} plan. Free delivery applies to
standard shipping within the country; express shipping and returns of personalised items are
charged. We send this newsletter to {{{{ address }}}} because you agreed to hear from us; you
can change what you receive or leave at any time with the links in this e-mail.</td></tr>
</table></td></tr></table></body></html>
"""


def campaign_spec() -> dict[str, Any]:
    return {
        "template": {
            "subject": "{{ first_name }}, autumn picks for {{ city }}",
            "preheader": "Eight new pieces and double points until Sunday",
            "html": template_html(),
            "from": "news@shop.test",
            "from_name": "Shop",
        },
        "topic": "news",
        "mail_from": "bounces@shop.test",
        "tracking": True,
        "unsubscribe_mailto": "unsubscribe@shop.test",
        "feedback_id": "autumn",
    }


def audience(recipients: int) -> pa.Table:
    """recipients profiles, in snapshot column order (profile_id first)."""
    index = np.arange(recipients)

    def cycled(values: list[str], step: int) -> pa.Array:
        return pa.array(np.array(values, dtype=object)[(index * step) % len(values)])

    return pa.table(
        {
            "profile_id": pa.array([f"p{i:08d}" for i in range(recipients)]),
            "email": pa.array([f"user{i}@{DOMAIN}" for i in range(recipients)]),
            "first_name": cycled(FIRST_NAMES, 1),
            "last_name": cycled(LAST_NAMES, 3),
            "city": cycled(CITIES, 7),
            "language": cycled(["en", "ru"], 1),
            "plan": cycled(PLANS, 5),
            "score": pa.array((index * 37) % 5000, type=pa.int64()),
        }
    )


# --- smtp-sink -----------------------------------------------------------------------------


@dataclass
class Sink:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def accepted(self) -> int:
        """Messages accepted so far: the last `mesg=N` smtp-sink -c printed."""
        with contextlib.suppress(OSError), self.log.open("rb") as handle:
            handle.seek(max(0, self.log.stat().st_size - 200))
            found = re.findall(rb"mesg=(\d+)", handle.read())
            if found:
                return int(found[-1])
        return 0

    def connections(self) -> int:
        """SMTP connections open on the sink now."""
        with contextlib.suppress(psutil.Error):
            return sum(
                1
                for c in psutil.Process(self.process.pid).net_connections(kind="tcp")
                if c.status == psutil.CONN_ESTABLISHED
            )
        return 0


def sink_executable() -> str:
    found = subprocess.run([str(SINK_SCRIPT), "path"], capture_output=True, text=True)
    if found.returncode != 0:
        raise SystemExit(f"{found.stderr.strip()}\n(run `deploy/smtp-sink.sh ensure`)")
    return found.stdout.strip()


def start_sink(log: Path) -> Sink:
    from tests.support.sending import free_port

    port = free_port()
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    command = [
        sink_executable(),
        "-c",
        *user,
        "-h",
        "sink.bench",
        "-m",
        "1024",
        f"127.0.0.1:{port}",
        "1024",
    ]
    with log.open("wb") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"smtp-sink exited ({process.returncode}): {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError):
            import socket

            with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                probe.recv(100)
                return Sink(process, port, log)
        time.sleep(0.1)
    process.kill()
    raise SystemExit("smtp-sink did not answer within 10 s")


def stop(process: subprocess.Popen[bytes], group: bool = False) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        if group:
            os.killpg(process.pid, signal.SIGTERM)
        else:
            process.terminate()
    try:
        process.wait(timeout=40)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL) if group else process.kill()
        process.wait(timeout=5)


# --- CPU and the events drain ------------------------------------------------------------


def cpu_seconds(groups: dict[str, tuple[str, Any]]) -> dict[str, float]:
    """CPU seconds used so far, by label: ("group", pgid), ("pid", pid) or ("name", comm)."""
    totals = dict.fromkeys(groups, 0.0)
    for process in psutil.process_iter(["name", "cpu_times"]):
        with contextlib.suppress(psutil.Error):
            times = process.info["cpu_times"]
            if times is None:
                continue
            used = times.user + times.system
            pgid = os.getpgid(process.pid)
            for label, (kind, match) in groups.items():
                if (
                    (kind == "group" and pgid == match)
                    or (kind == "pid" and process.pid == match)
                    or (kind == "name" and process.info["name"] == match)
                ):
                    totals[label] += used
    busy = psutil.cpu_times()
    totals["machine"] = sum(busy) - busy.idle - getattr(busy, "iowait", 0.0)
    return totals


def children_cpu() -> float:
    """CPU seconds of this process's children that have ended and been waited for."""
    import resource

    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def cpu_percent(before: dict[str, float], after: dict[str, float], seconds: float) -> dict:
    return {key: round(100 * (after[key] - before[key]) / seconds) for key in after}


class EventsDrain:
    """Consumes and discards the events queue in a thread, as the loader would."""

    def __init__(self, broker: str, queue: str) -> None:
        from herald.broker import declare_events_queues

        self.events = 0
        self.connection = pika.BlockingConnection(pika.URLParameters(broker))
        self.channel = self.connection.channel()
        declare_events_queues(self.channel, queue)
        self.channel.basic_qos(prefetch_count=200)
        self.channel.basic_consume(queue, self._on_message, auto_ack=True)
        self.thread = threading.Thread(target=self.channel.start_consuming, daemon=True)
        self.thread.start()

    def _on_message(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        self.events += body.count(b'"event_type"') or 1

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.connection.add_callback_threadsafe(self.channel.stop_consuming)
            self.thread.join(timeout=10)
            self.connection.close()


# --- the parts ---------------------------------------------------------------------------


@dataclass
class Bench:
    base: Path
    recipients: int
    workers: int
    dkim: str
    sink: Sink
    home: Any = None
    snapshot: Path | None = None
    report: dict[str, Any] = field(default_factory=dict)

    def setup(self) -> None:
        from herald.sending.audience import snapshot_path, write_snapshot
        from tests.support.sending import SendingHome

        self.home = SendingHome.create(
            self.base, SimpleNamespace(port=self.sink.port), domains=(DOMAIN,), max_age="600s"
        )
        keys = self.home.home / "dkim" / "shop.test"
        drop = {"rsa": "ed1.pem", "ed25519": "rsa1.pem"}[self.dkim]
        (keys / drop).unlink()
        started = time.perf_counter()
        table = audience(self.recipients)
        self.snapshot = snapshot_path(self.home.home, "bench-audience")
        write_snapshot(table, self.snapshot)
        self.report["snapshot_seconds"] = round(time.perf_counter() - started, 2)

    def new_run(self) -> Any:
        from herald.sending.runs import create_run

        run_id = f"campaign-{uuid.uuid4().hex[:12]}"
        copy = self.snapshot.with_name(f"{run_id}.parquet")  # type: ignore[union-attr]
        os.link(self.snapshot, copy)  # type: ignore[arg-type]
        return create_run(
            self.home.store,
            name="bench",
            kind="campaign",
            channel="email",
            spec=campaign_spec(),
            database="customers",
            snapshot=str(copy),
            recipients=self.recipients,
            run_id=run_id,
        )

    def empty_queues(self) -> None:
        connection = pika.BlockingConnection(pika.URLParameters(self.home.settings.broker))
        try:
            channel = connection.channel()
            for name in self.home.queue_names():
                with contextlib.suppress(pika.exceptions.ChannelClosedByBroker):
                    channel.queue_purge(name)
                if channel.is_closed:
                    channel = connection.channel()
        finally:
            connection.close()

    def launcher(self) -> dict[str, Any]:
        from senders.launcher import launch

        found: dict[str, Any] = {}
        for label, events in (("without_events", False), ("with_events", True)):
            run = self.new_run()
            before = cpu_seconds(LAUNCH_GROUPS)
            result = launch(self.home.settings, self.home.store, run.id, queued_events=events)
            after = cpu_seconds(LAUNCH_GROUPS)
            found[label] = {
                "recipients": result.enqueued,
                "chunks": result.chunks,
                "seconds": round(result.seconds, 2),
                "recipients_per_second": round(result.enqueued / result.seconds),
                "cpu_percent": cpu_percent(before, after, result.seconds),
            }
            print(f"launcher {label}: {found[label]}", file=sys.stderr, flush=True)
            self.empty_queues()
        return found

    def start_workers(self, profile: Path | None = None) -> subprocess.Popen[bytes]:
        from sqlalchemy import func, select

        from herald.store.models import SenderWorker

        log = self.base / "sender.log"
        if profile is None:
            command = [str(BIN / "herald"), "serve", "sender", "--workers", str(self.workers)]
            expected = self.workers
        else:
            command = [
                sys.executable,
                "-m",
                "cProfile",
                "-o",
                str(profile),
                "-m",
                "senders.worker",
                "--id",
                "bench:1",
            ]
            expected = 1
        with log.open("ab") as handle:
            process = subprocess.Popen(
                command,
                stdout=handle,
                stderr=subprocess.STDOUT,
                env=self.home.env,
                cwd=REPO,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(
                    f"the sender exited ({process.returncode}):\n{log.read_text()[-3000:]}"
                )
            with self.home.store.connect() as connection:
                live = connection.execute(select(func.count()).select_from(SenderWorker)).scalar()
            if live >= expected:
                time.sleep(1.0)  # the first heartbeats have divided the limits
                return process
            time.sleep(0.25)
        stop(process, group=True)
        raise SystemExit(
            f"the sender workers did not start within 60 s:\n{log.read_text()[-3000:]}"
        )

    def outcomes(self, run_id: str) -> dict[str, int]:
        database = self.home.home / "herald.sqlite"
        with contextlib.closing(sqlite3.connect(database, timeout=30)) as connection:
            rows = connection.execute(
                "select state, count(*) from send_log where run_id = ? group by state", (run_id,)
            ).fetchall()
        return dict(rows)

    def e2e(self, profile: Path | None = None) -> dict[str, Any]:
        from senders.launcher import launch

        run = self.new_run()
        drain = EventsDrain(self.home.settings.broker, self.home.settings.events_queue)
        sender = self.start_workers(profile)
        groups = {
            "workers": ("group", sender.pid),
            "rabbitmq": ("name", "beam.smp"),
            "smtp_sink": ("pid", self.sink.process.pid),
            "bench_launcher_drain": ("pid", os.getpid()),
        }
        accepted_before = self.sink.accepted()
        peak = {"connections": 0}
        done = threading.Event()

        def sample_connections() -> None:
            while not done.wait(0.5):
                peak["connections"] = max(peak["connections"], self.sink.connections())

        sampler = threading.Thread(target=sample_connections, daemon=True)
        sampler.start()
        before = cpu_seconds(groups)
        started = time.perf_counter()
        launched: dict[str, Any] = {}

        def enqueue() -> None:
            result = launch(self.home.settings, self.home.store, run.id)
            launched["seconds"] = round(result.seconds, 2)

        launcher = threading.Thread(target=enqueue, daemon=True)
        launcher.start()
        timeout = float(os.environ.get("BENCH_SENDER_TIMEOUT", "3600"))
        last_count, last_progress = 0, time.perf_counter()
        accepted_at = None
        stalled = False
        while time.perf_counter() - started < timeout:
            time.sleep(0.2)
            count = self.sink.accepted() - accepted_before
            now = time.perf_counter()
            if count > last_count:
                last_count, last_progress = count, now
            if count >= self.recipients:
                accepted_at = now - started
                break
            if now - last_progress > STALL_SECONDS:
                stalled = True
                break
        accepted_cpu = cpu_seconds(groups)
        accepted_s = accepted_at or (time.perf_counter() - started)
        logged_at = None
        while not stalled and time.perf_counter() - started < timeout:
            states = self.outcomes(run.id)
            if sum(v for k, v in states.items() if k != "sending") >= self.recipients:
                logged_at = time.perf_counter() - started
                break
            time.sleep(0.5)
        done.set()
        launcher.join(timeout=5)
        stop(sender, group=True)
        drain.close()
        states = self.outcomes(run.id)
        accepted = self.sink.accepted() - accepted_before
        found = {
            "recipients": self.recipients,
            "workers": 1 if profile else self.workers,
            "dkim": self.dkim,
            "accepted": accepted,
            "stalled": stalled,
            "seconds_to_last_accepted": round(accepted_s, 2),
            "seconds_to_all_logged": round(logged_at, 2) if logged_at else None,
            "messages_per_second": round(min(accepted, self.recipients) / accepted_s),
            "launch_seconds_concurrent": launched.get("seconds"),
            "send_log_states": states,
            "events_drained": drain.events,
            "peak_sink_connections": peak["connections"],
            "cpu_percent": cpu_percent(before, accepted_cpu, accepted_s),
        }
        print(f"e2e: {found}", file=sys.stderr, flush=True)
        return found

    def sample_message(self) -> bytes:
        """The message Herald builds for one recipient (rendered, tracked, signed)."""
        from herald.sending.runs import get_run
        from herald.sending.wire import Recipient
        from herald.tokens import TokenKeys
        from senders.dkim import load_signers
        from senders.messages import EmailBuilder, RunContext

        run = RunContext.from_info(get_run(self.home.store, self.new_run().id))
        settings = self.home.settings
        builder = EmailBuilder(
            load_signers(self.home.home / "dkim"),
            TokenKeys.from_settings(settings),
            settings.tracking_url,
        )
        recipient = Recipient("p00000001", f"user1@{DOMAIN}", audience(2).to_pylist()[1])
        return builder.build(run, recipient, "bench-key", DOMAIN).content["message"]

    def bare(self, connections: int, messages: int, per_connection: int) -> dict[str, Any]:
        message = self.sample_message()
        path = self.base / "bare-message.eml"
        path.write_bytes(message)
        processes = max(1, min(self.workers, connections))
        shares = [
            connections // processes + (i < connections % processes) for i in range(processes)
        ]
        counts = [messages * share // connections for share in shares]
        counts[0] += messages - sum(counts)
        groups = {"smtp_sink": ("pid", self.sink.process.pid)}
        before = cpu_seconds(groups)
        before["bare"] = children_cpu()
        wall = time.perf_counter()
        children = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.benchmarks.bench_sender",
                    "--bare-child",
                    f"{self.sink.port},{share},{count},{per_connection},{path}",
                ],
                stdout=subprocess.PIPE,
                cwd=REPO,
            )
            for share, count in zip(shares, counts, strict=True)
        ]
        outputs = [json.loads(child.communicate()[0]) for child in children]
        wall = time.perf_counter() - wall
        after = cpu_seconds(groups)
        after["bare"] = children_cpu()
        seconds = max(o["end"] for o in outputs) - min(o["start"] for o in outputs)
        sent = sum(o["sent"] for o in outputs)
        found = {
            "processes": processes,
            "connections": connections,
            "messages_per_connection": per_connection,
            "message_bytes": len(message),
            "messages": sent,
            "seconds": round(seconds, 2),
            "messages_per_second": round(sent / seconds),
            "cpu_percent": cpu_percent(before, after, wall),
        }
        print(f"bare: {found}", file=sys.stderr, flush=True)
        return found


def bare_child(spec: str) -> None:
    """One bare process: `connections` threads, each an smtplib connection, sending."""
    import smtplib

    port, connections, count, per_connection, path = spec.split(",", 4)
    message = Path(path).read_bytes()
    shares = [
        int(count) // int(connections) + (i < int(count) % int(connections))
        for i in range(int(connections))
    ]
    sent = [0] * len(shares)

    def loop(slot: int, total: int) -> None:
        client = None
        for number in range(total):
            if number % int(per_connection) == 0:
                if client is not None:
                    client.quit()
                client = smtplib.SMTP("127.0.0.1", int(port), local_hostname="bare.test")
                client.ehlo()
            client.sendmail("bounces@shop.test", [f"user{number}@{DOMAIN}"], message)  # type: ignore[union-attr]
            sent[slot] += 1
        if client is not None:
            client.quit()

    start = time.time()
    threads = [
        threading.Thread(target=loop, args=(slot, share)) for slot, share in enumerate(shares)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({"start": start, "end": time.time(), "sent": sum(sent)}))


# --- the profile ---------------------------------------------------------------------------

PROFILE_GROUPS = {
    "render (template)": ["templates.py"],
    "compose (MIME)": ["senders/email.py"],
    "DKIM sign": ["senders/dkim.py"],
    "token signing": ["herald/tokens.py"],
    "SMTP client": ["senders/smtp.py", "providers/smtp.py"],
    "send log (store)": ["send_log.py"],
    "events": ["sending/events.py"],
    "aiormq/pamqp": ["aiormq/", "pamqp/"],
}


def profile_summary(path: Path, messages: int) -> str:
    stats = pstats.Stats(str(path))
    lines = [f"cProfile of one worker, {messages:,} messages; per message in microseconds", ""]
    entries = stats.stats  # type: ignore[attr-defined]
    total = max(ct for (_, _, _, ct, _) in entries.values())
    lines.append(f"whole process: {total:.1f} s = {1e6 * total / messages:.0f} us/message")
    lines.append("")
    lines.append("top-level stages (cumulative time of the stage's entry functions):")
    for label, names in (
        ("EmailBuilder.build", ["messages.py", "(build)"]),
        ("MessageTemplate.render", ["templates.py", "(render)"]),
        ("compose_email", ["email.py", "(compose_email)"]),
        ("DkimSigner.sign", ["dkim.py", "(sign)"]),
        ("sign_token", ["tokens.py", "(sign_token)"]),
        ("SmtpProvider.send", ["providers/smtp.py", "(send)"]),
        ("SendLog.claim", ["send_log.py", "(claim)"]),
        ("SendLog.record", ["send_log.py", "(record)"]),
        ("blocked (suppression)", ["suppression.py", "(blocked)"]),
        ("_publish_events", ["worker.py", "(_publish_events)"]),
        ("journal", ["journal.py", "(result)"]),
    ):
        cumulative = sum(
            ct
            for (file, _, name), (_, _, _, ct, _) in entries.items()
            if file.endswith(names[0]) and f"({name})" == names[1]
        )
        lines.append(f"  {label:28s} {1e6 * cumulative / messages:8.0f} us/message")
    lines.append("")
    lines.append("own time (tottime) by area:")
    for label, patterns in PROFILE_GROUPS.items():
        own = sum(
            tt
            for (file, _, _), (_, _, tt, _, _) in entries.items()
            if any(pattern in file for pattern in patterns)
        )
        lines.append(f"  {label:28s} {1e6 * own / messages:8.0f} us/message")
    lines.append("")
    out = Path(f"{path}.top.txt")
    with out.open("w") as handle:
        pstats.Stats(str(path), stream=handle).sort_stats("tottime").print_stats(30)
        pstats.Stats(str(path), stream=handle).sort_stats("cumulative").print_stats(40)
    lines.append(f"full listing (tottime and cumulative, top 30/40): {out}")
    return "\n".join(lines)


# --- the report ----------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    from tests.support.sending import BROKER

    return {
        "cpus": os.cpu_count(),
        "cpu_model": platform.processor() or _cpu_model(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "broker": re.sub(r"//[^@]*@", "//", BROKER),
        "smtp_sink": sink_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "?"


def sink_version() -> str:
    found = subprocess.run([str(SINK_SCRIPT), "check"], capture_output=True, text=True)
    return found.stdout.strip().removeprefix("smtp-sink: ")


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def render_markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# Sender benchmark",
        "",
        f"{report['when']}, {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB, "
        f"Python {m['python']}; RabbitMQ and {m['smtp_sink']} on the same machine. "
        f"Load average at the start {m['load_average'][0]}.",
        "",
        "## Targets",
        "",
        "| target | measured | |",
        "|---|---|---|",
    ]
    launcher = report.get("launcher")
    e2e = report.get("e2e")
    bare = report.get("bare")
    if launcher:
        with_events = launcher["with_events"]
        scaled = with_events["seconds"] * 1_000_000 / with_events["recipients"]
        lines.append(
            f"| launcher: 1M-recipient snapshot enqueued ≤ 60 s | {with_events['seconds']:.1f} s "
            f"for {with_events['recipients']:,} ({scaled:.0f} s per 1M, with `queued` events) "
            f"| {verdict(scaled <= LAUNCH_TARGET_S)} |"
        )
    if e2e:
        lines.append(
            f"| end to end ≥ 2,000 messages/s, {e2e['workers']} workers | "
            f"{e2e['messages_per_second']:,} messages/s ({e2e['recipients']:,} recipients, "
            f"DKIM {e2e['dkim']}) | {verdict(e2e['messages_per_second'] >= E2E_TARGET)} |"
        )
    if e2e and bare:
        ratio = e2e["messages_per_second"] / bare["messages_per_second"]
        lines.append(
            f"| Herald / bare smtplib ≥ 0.4 | {ratio:.2f} | {verdict(ratio >= BARE_RATIO_TARGET)} |"
        )
    if launcher:
        lines += [
            "",
            "## Launcher",
            "",
            "`launch()` on a snapshot of recipients (8 columns), no worker running; the queues "
            "are emptied afterwards. CPU % of one core: the launcher process, RabbitMQ.",
            "",
            "| events | recipients | chunks | seconds | recipients/s | CPU % launcher / RabbitMQ |",
            "|---|---|---|---|---|---|",
        ]
        for label, found in launcher.items():
            cpu = found["cpu_percent"]
            lines.append(
                f"| {label.replace('_', ' ')} | {found['recipients']:,} | {found['chunks']:,} | "
                f"{found['seconds']:.1f} | {found['recipients_per_second']:,} | "
                f"{cpu['launcher']} / {cpu['rabbitmq']} |"
            )
    if e2e or bare:
        lines += [
            "",
            "## End to end and the bare baseline",
            "",
            "Herald: `herald serve sender --workers N`, started and live before the clock; the "
            "clock runs from `launch()` (in this process, with its `queued` events, while the "
            "workers send) to smtp-sink's count reaching every recipient. The events are "
            "drained by this process. Bare: processes × threads, one smtplib connection each "
            "(as many as Herald had open at most), sending one message Herald built, a new "
            "connection every messages_per_connection messages. CPU % of one core (the "
            f"machine has {m['cpus']}).",
            "",
            "| sender | messages | message size | connections | seconds | messages/s | "
            "CPU % senders / RabbitMQ / smtp-sink / launcher+drain / machine |",
            "|---|---|---|---|---|---|---|",
        ]
        size = bare["message_bytes"] if bare else None
        if e2e:
            cpu = e2e["cpu_percent"]
            lines.append(
                f"| Herald ({e2e['workers']} workers, DKIM {e2e['dkim']}) | {e2e['accepted']:,} | "
                f"{size or '?'} B | {e2e['peak_sink_connections']} (peak) | "
                f"{e2e['seconds_to_last_accepted']:.1f} | {e2e['messages_per_second']:,} | "
                f"{cpu['workers']} / {cpu['rabbitmq']} / {cpu['smtp_sink']} / "
                f"{cpu['bench_launcher_drain']} / {cpu['machine']} |"
            )
        if bare:
            cpu = bare["cpu_percent"]
            lines.append(
                f"| bare smtplib ({bare['processes']} processes) | {bare['messages']:,} | "
                f"{bare['message_bytes']} B | {bare['connections']} | {bare['seconds']:.1f} | "
                f"{bare['messages_per_second']:,} | {cpu['bare']} (bare) / – / "
                f"{cpu['smtp_sink']} / – / {cpu['machine']} |"
            )
        if e2e:
            lines += [
                "",
                f"Send log after the run: {e2e['send_log_states']}; every outcome recorded "
                f"{e2e['seconds_to_all_logged']} s after the first enqueue; the launcher took "
                f"{e2e['launch_seconds_concurrent']} s beside the workers; "
                f"{e2e['events_drained']:,} events drained."
                + (" The run STALLED (no message accepted for 120 s)." if e2e["stalled"] else ""),
            ]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> dict[str, Any]:
    base = Path(os.environ.get("BENCH_SENDER_HOME", REPO / "var" / "bench-sender")).resolve()
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    sink = start_sink(base / "smtp-sink.log")
    bench = Bench(base, args.recipients, args.workers, args.dkim, sink)
    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
    }
    try:
        bench.setup()
        report["snapshot_seconds"] = bench.report["snapshot_seconds"]
        if args.profile:
            profile = Path(args.profile).resolve()
            profile.parent.mkdir(parents=True, exist_ok=True)
            found = bench.e2e(profile=profile)
            print(json.dumps(found, indent=2))
            print(profile_summary(profile, found["accepted"]))
            return {}
        parts = args.parts.split(",")
        if "launcher" in parts:
            report["launcher"] = bench.launcher()
        if "e2e" in parts:
            report["e2e"] = bench.e2e()
        if "bare" in parts:
            connections = (report.get("e2e") or {}).get("peak_sink_connections") or 10
            report["bare"] = bench.bare(connections, args.bare_messages, 100)
    finally:
        stop(sink.process)
        if bench.home is not None:
            bench.home.delete_queues()
        if os.environ.get("BENCH_SENDER_KEEP") != "1" and not args.profile:
            shutil.rmtree(base, ignore_errors=True)
    return report


def run_and_report(argv: list[str] | None = None) -> None:
    recipients = int(os.environ.get("BENCH_SENDER_RECIPIENTS", "1000000"))
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--recipients", type=int, default=recipients)
    parser.add_argument(
        "--workers", type=int, default=int(os.environ.get("BENCH_SENDER_WORKERS", "2"))
    )
    parser.add_argument(
        "--dkim", choices=("rsa", "ed25519"), default=os.environ.get("BENCH_SENDER_DKIM", "rsa")
    )
    parser.add_argument("--bare-messages", type=int, default=None)
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--profile", default=None)
    parser.add_argument("--bare-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare_child:
        bare_child(args.bare_child)
        return
    if args.bare_messages is None:
        default = min(args.recipients, 200_000)
        args.bare_messages = int(os.environ.get("BENCH_SENDER_BARE_MESSAGES", default))
    report = run(args)
    if not report:
        return
    RESULTS.mkdir(exist_ok=True)
    previous: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        previous = json.loads((RESULTS / "sender.json").read_text())
    merged = {**previous, **report}
    (RESULTS / "sender.json").write_text(json.dumps(merged, indent=2) + "\n")
    (RESULTS / "sender.md").write_text(render_markdown(merged))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    run_and_report()
