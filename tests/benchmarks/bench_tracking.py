"""Tracking benchmark (issue #6): Herald's tracker beside a bare ASGI app under wrk, and the
loader from the events queue into DuckDB and chdb.

    python -m tests.benchmarks.bench_tracking [--parts tracking,loader] [--seconds 10]
        [--connections 64] [--threads 2] [--warmup 2] [--repeat 3] [--prefill 1000000]
        [--bundle 500]

tracking: in a fresh temporary HERALD_HOME, `herald db apply` (docs/schemas/customers.yml),
`herald source create bench --db customers` (its write key), 1,000 signed open tokens, then
two servers side by side, both `--workers 2` under uvicorn with uvloop and httptools: the
bare app (tests/benchmarks/bare_tracking_app.py, the same answers and nothing else) and
`herald serve tracking`. For each of the open pixel, /v1/track (one event a request) and
/v1/batch (100 events a request), `wrk -t2 -c64 -d10s --latency` (tests/benchmarks/wrk/*.lua)
runs --repeat times on each server, alternating which goes first, after a short warm-up;
medians are reported. The events queue is purged before each Herald run and its depth read
after it (the pixel's and /v1/track's events are then read off the queue and counted; the
batch run's stay for the loader).

loader: `herald serve loader --until-idle` drains the queue into landing files (timed), then
those files are loaded into raw_events with herald.landing.load_landing on DuckDB and on chdb
(each in a process of its own: chdb holds one data path per process), beside the raw engine
reading the same Parquet files (`count(*)`, and a plain copy into a table). Twice: with what
the batch run left on the queue (when tracking ran first), and with --prefill events
published straight to the queue in bundles of --bundle events (the tracker's wire format).

Writes tests/benchmarks/results/tracking.json and tracking.md (a part not run keeps its
figures from the previous file). Environment, for `make bench` (run_all's `tracking` and
`loader`): BENCH_TRACKING_SECONDS, BENCH_TRACKING_CONNECTIONS, BENCH_TRACKING_THREADS,
BENCH_TRACKING_WARMUP, BENCH_TRACKING_REPEAT, BENCH_LOADER_EVENTS, BENCH_LOADER_BUNDLE,
BENCH_LOADER_PROCESSES (default 2),
BENCH_TRACKING_HOME (where the temporary HERALD_HOME goes; removed afterwards unless
BENCH_TRACKING_KEEP=1), HERALD_WRK (the wrk to run: `deploy/wrk.sh ensure` installs
Debian's), HERALD_BROKER.
Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "tests" / "benchmarks" / "results"
LUA = Path(__file__).resolve().parent / "wrk"
BIN = Path(sys.executable).parent
SCHEMA = REPO / "docs" / "schemas" / "customers.yml"
DATABASE = "customers"
SOURCE = "bench"
TOKENS = 1_000
BATCH_SIZE = 100
QUEUE = os.environ.get("HERALD_EVENTS_QUEUE", "events")
DEAD_QUEUE = f"{QUEUE}.dead"
LOADER_IDLE_S = 2.0  # `--until-idle` exits after this long without a message
# Consumer processes of `herald serve loader --processes` (one per core of this 2-core box).
LOADER_PROCESSES = int(os.environ.get("BENCH_LOADER_PROCESSES", "2"))
PARTS = ("tracking", "loader")

# The targets.
PIXEL_RATIO_TARGET = 0.50
P99_TARGET_MS = 50.0
TRACK_TARGET = 8_000
BATCH_TARGET = 50_000
LOADER_TARGET = 50_000

TRACK_EVENT = {
    "event": "Product Viewed",
    "properties": {"product_id": "SKU-1", "price": 10.5},
    "timestamp": "2026-11-26T10:00:00.000Z",
}


# --- processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def herald(env: dict[str, str], *args: str) -> str:
    """Run a herald command to its end; its stdout, or SystemExit with its output."""
    completed = subprocess.run(
        [str(BIN / "herald"), *args], capture_output=True, text=True, env=env, cwd=REPO
    )
    if completed.returncode != 0:
        raise SystemExit(
            f"herald {' '.join(args)} failed ({completed.returncode}):\n"
            f"{completed.stdout[-2000:]}{completed.stderr[-4000:]}"
        )
    return completed.stdout


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text("utf-8", errors="replace")[-4000:]


def start_server(name: str, command: list[str], env: dict[str, str], log: Path) -> Server:
    """Start a server in a process group of its own and wait for GET /health → 200."""
    port = int(command[command.index("--port") + 1])
    with log.open("wb") as handle:
        process = subprocess.Popen(
            command, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=REPO,
            start_new_session=True,
        )  # fmt: skip
    server = Server(name, port, process, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited ({process.returncode}) on start:\n{server.output()}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            if fetch(server.url, "GET", "/health").status == 200:
                return server
        time.sleep(0.25)
    stop_server(server)
    raise SystemExit(f"{name} did not answer GET /health with 200 within 60 s:\n{server.output()}")


def stop_server(server: Server) -> None:
    """SIGTERM to the server's process group (uvicorn and its workers), SIGKILL after 15 s."""
    if server.process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=5)


def _proc_stats() -> list[tuple[int, str, int, float]]:
    """(pid, command name, process group, CPU seconds used) of every process."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = (entry / "stat").read_text()
            name = text[text.index("(") + 1 : text.rindex(")")]
            fields = text[text.rindex(")") + 2 :].split()
            cpu = (int(fields[11]) + int(fields[12])) / ticks
            stats.append((int(entry.name), name, int(fields[2]), cpu))
    return stats


def cpu_snapshot(server: Server) -> dict[str, float]:
    """CPU seconds used so far by the server's processes, by RabbitMQ, and by our children
    that have ended (wrk)."""
    stats = _proc_stats()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    # /proc/stat's first line: CPU time of the whole machine; busy = all but idle and iowait.
    times = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = (sum(times[:8]) - times[3] - times[4]) / os.sysconf("SC_CLK_TCK")
    return {
        "server": sum(cpu for _, _, group, cpu in stats if group == server.process.pid),
        "rabbitmq": sum(cpu for _, name, _, cpu in stats if name == "beam.smp"),
        "wrk": children.ru_utime + children.ru_stime,
        "machine": busy,
    }


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def fetch(
    base: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    port = int(base.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Answer(
            response.status,
            {name.lower(): value for name, value in response.getheaders()},
            response.read(),
        )
    finally:
        connection.close()


def compare_answers(bare: Server, tracker: Server, token: str, credentials: str) -> list[str]:
    """What differs between the two servers' answers to the same requests (empty: none)."""
    track = json.dumps({**TRACK_EVENT, "userId": "u-0", "messageId": f"probe-{uuid.uuid4()}"})
    batch = json.dumps(
        {"batch": [{**TRACK_EVENT, "type": "track", "userId": "u-0",
                    "messageId": f"probe-{uuid.uuid4()}"}],
         "sentAt": "2026-11-26T10:00:00.000Z"}
    )  # fmt: skip
    auth = {"Authorization": f"Basic {credentials}", "Content-Type": "application/json"}
    probes = [
        ("GET", f"/o/{token}", None, {}, ("content-type", "cache-control")),
        ("POST", "/v1/track", track.encode(), auth, ("content-type",)),
        ("POST", "/v1/batch", batch.encode(), auth, ("content-type",)),
    ]
    differences = []
    for method, path, body, headers, compared in probes:
        expected = fetch(bare.url, method, path, body, headers)
        actual = fetch(tracker.url, method, path, body, headers)
        label = f"{method} {path.split('/o/')[0] + '/o/<token>' if '/o/' in path else path}"
        if actual.status != expected.status:
            differences.append(f"{label}: status {actual.status}, the bare app {expected.status}")
        for header in compared:
            if actual.headers.get(header) != expected.headers.get(header):
                differences.append(
                    f"{label}: {header} {actual.headers.get(header)!r}, "
                    f"the bare app {expected.headers.get(header)!r}"
                )
        if actual.body != expected.body:
            differences.append(
                f"{label}: body of {len(actual.body)} bytes {actual.body[:60].hex()}, "
                f"the bare app's {len(expected.body)} bytes {expected.body[:60].hex()}"
            )
    return differences


# --- wrk -------------------------------------------------------------------------------------


def wrk_path() -> str:
    chosen = os.environ.get("HERALD_WRK") or shutil.which("wrk")
    if not chosen or not os.access(chosen, os.X_OK):
        raise SystemExit("wrk is needed for the tracking benchmark: run `deploy/wrk.sh ensure`")
    return chosen


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests/s, the latency distribution (ms), requests, errors, from wrk's text output."""
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    if rate is None:
        raise ValueError(f"no Requests/sec in wrk's output:\n{output}")
    latency = {
        f"p{match[1]}_ms": round(float(match[2]) * _UNITS[match[3]], 3)
        for match in re.finditer(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
    }
    total = re.search(r"^\s+(\d+) requests in ([\d.]+)(us|ms|s|m),", output, re.M)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return {
        "requests_per_second": float(rate[1]),
        **latency,
        "requests": int(total[1]) if total else None,
        "seconds": round(float(total[2]) * _UNITS[total[3]] / 1000, 2) if total else None,
        "non_2xx": int(non_2xx[1]) if non_2xx else 0,
        "socket_errors": dict(
            zip(("connect", "read", "write", "timeout"), map(int, sockets.groups()), strict=True)
        )
        if sockets
        else {},
    }


@dataclass(frozen=True)
class Load:
    threads: int
    connections: int
    seconds: int
    warmup: int
    repeat: int = 3


def run_wrk(
    load: Load, script: str, url: str, args: list[str], seconds: int | None = None
) -> dict[str, Any]:
    seconds = seconds or load.seconds
    command = [
        wrk_path(), f"-t{load.threads}", f"-c{load.connections}", f"-d{seconds}s", "--latency",
        "-s", str(LUA / script), url, "--", *args,
    ]  # fmt: skip
    before = os.getloadavg()[0]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    if completed.returncode != 0:
        raise SystemExit(f"wrk failed ({completed.returncode}):\n{completed.stderr}")
    result = parse_wrk(completed.stdout)
    result["load_before"] = round(before, 2)
    result["output"] = completed.stdout
    return result


# --- RabbitMQ --------------------------------------------------------------------------------


@contextlib.contextmanager
def broker_channel(broker: str) -> Iterator[Any]:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(broker))
    try:
        yield connection.channel()
    finally:
        with contextlib.suppress(Exception):
            connection.close()


def queue_depth(broker: str, queue: str) -> int | None:
    """Ready messages in the queue (a passive declare), None when there is no such queue."""
    import pika

    with broker_channel(broker) as channel:
        try:
            return int(channel.queue_declare(queue, passive=True).method.message_count)
        except pika.exceptions.ChannelClosedByBroker:
            return None


def queue_consumers(broker: str, queue: str) -> int:
    """Consumers on the queue now: another loader or test would take the benchmark's events."""
    import pika

    with broker_channel(broker) as channel:
        try:
            return int(channel.queue_declare(queue, passive=True).method.consumer_count)
        except pika.exceptions.ChannelClosedByBroker:
            return 0


def purge(broker: str, *queues: str) -> None:
    import pika

    for queue in queues:
        with (
            broker_channel(broker) as channel,
            contextlib.suppress(pika.exceptions.ChannelClosedByBroker),
        ):
            channel.queue_purge(queue)


def settled_depth(broker: str, queue: str, quiet_s: float = 1.5, limit_s: float = 30.0) -> int:
    """The queue's depth once it stops growing (the tracker may still be confirming)."""
    depth, since = queue_depth(broker, queue) or 0, time.monotonic()
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        time.sleep(0.5)
        current = queue_depth(broker, queue) or 0
        if current != depth:
            depth, since = current, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
    return depth


def count_queued_events(broker: str, queue: str) -> dict[str, int]:
    """Take every message off the queue (auto-ack: this empties it) and count what is in
    them: AMQP messages, envelopes, events (a segment envelope holds many, any other one)."""
    import orjson

    counts = {"messages": 0, "envelopes": 0, "events": 0}
    if queue_depth(broker, queue) is None:
        return counts
    with broker_channel(broker) as channel:
        channel.basic_qos(prefetch_count=2_000)
        for method, _properties, body in channel.consume(
            queue, auto_ack=True, inactivity_timeout=2.0
        ):
            if method is None:
                break
            counts["messages"] += 1
            value = orjson.loads(body)
            for envelope in value if isinstance(value, list) else [value]:
                counts["envelopes"] += 1
                events = envelope.get("events") if isinstance(envelope, dict) else None
                counts["events"] += len(events) if isinstance(events, list) else 1
        channel.cancel()
    return counts


def ensure_events_queue(broker: str) -> None:
    """Declare the events queue as every Herald client does (herald.broker), if it is not
    there yet (when the loader part runs without the tracker having started)."""
    if queue_depth(broker, QUEUE) is not None:
        return
    from herald.broker import declare_events_queues

    with broker_channel(broker) as channel:
        declare_events_queues(channel, QUEUE)


def prefill(broker: str, events: int, bundle: int) -> dict[str, Any]:
    """Publish `events` Segment track events straight to the queue, `bundle` per message, as
    the tracker would (publisher confirms on)."""
    import orjson
    import pika

    ensure_events_queue(broker)
    properties_of = lambda: pika.BasicProperties(  # noqa: E731
        delivery_mode=2, content_type="application/json", message_id=uuid.uuid4().hex
    )
    started = time.perf_counter()
    published = messages = 0
    with broker_channel(broker) as channel:
        channel.confirm_delivery()
        while published < events:
            size = min(bundle, events - published)
            body = orjson.dumps(
                {
                    "v": 1,
                    "kind": "segment",
                    "source": SOURCE,
                    "database": DATABASE,
                    "received_at": "2026-11-26T10:00:00.000Z",
                    "ip": "127.0.0.1",
                    "user_agent": "bench",
                    "events": [
                        {
                            **TRACK_EVENT,
                            "type": "track",
                            "userId": f"u-{(published + index) % 10_000}",
                            "messageId": f"prefill-{published + index}",
                        }
                        for index in range(size)
                    ],
                }
            )
            channel.basic_publish("", QUEUE, body, properties_of(), mandatory=True)
            published += size
            messages += 1
    seconds = time.perf_counter() - started
    return {
        "events": published,
        "messages": messages,
        "seconds": round(seconds, 2),
        "events_per_second": round(published / seconds),
    }


# --- tokens ----------------------------------------------------------------------------------


def write_tokens(home: Path, path: Path) -> list[str]:
    """TOKENS signed open tokens with the key file the tracker of this HERALD_HOME reads."""
    from herald.settings import load_settings
    from herald.tokens import TokenKeys, TrackingToken, sign_token

    keys = TokenKeys.from_settings(load_settings(home=home))
    tokens = [
        sign_token(
            TrackingToken(
                kind="open",
                database=DATABASE,
                profile_id=f"p{index}",
                campaign_run="bench-run",
                message_id=f"m{index}",
            ),
            keys,
        )
        for index in range(TOKENS)
    ]
    path.write_text("\n".join(tokens) + "\n", "utf-8")
    return tokens


# --- the HTTP part ---------------------------------------------------------------------------


def uvicorn_command(port: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "tests.benchmarks.bare_tracking_app:app",
        "--workers", "2", "--loop", "uvloop", "--http", "httptools", "--no-access-log",
        "--log-level", "warning", "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip


def scenario_args(name: str, tokens_file: Path, credentials: str, tag: str) -> list[str]:
    if name == "pixel":
        return [str(tokens_file)]
    return [credentials, tag]


SCRIPTS = {"pixel": "pixel.lua", "track": "track.lua", "batch": "batch.lua"}
EVENTS_PER_REQUEST = {"pixel": 1, "track": 1, "batch": BATCH_SIZE}


def measure_http(
    home: Path, env: dict[str, str], broker: str, load: Load, keep_batch_events: bool
) -> dict[str, Any]:
    key = herald_setup(home, env)
    credentials = base64.b64encode(f"{key}:".encode()).decode()
    tokens_file = home / "bench-tokens.txt"
    tokens = write_tokens(home, tokens_file)
    logs = home / "bench-logs"
    logs.mkdir(exist_ok=True)
    bare = start_server("the bare app", uvicorn_command(free_port()), env, logs / "bare.log")
    tracker: Server | None = None
    report: dict[str, Any] = {}
    try:
        port = free_port()
        tracker = start_server(
            "herald serve tracking",
            [str(BIN / "herald"), "serve", "tracking", "--workers", "2", "--port", str(port)],
            env,
            logs / "tracker.log",
        )
        report["answer_differences"] = compare_answers(bare, tracker, tokens[0], credentials)
        for difference in report["answer_differences"]:
            print(f"tracking: answers differ: {difference}", file=sys.stderr)
        purge(broker, QUEUE, DEAD_QUEUE)
        servers = {"bare": bare, "herald": tracker}
        scenarios: dict[str, Any] = {}
        for name in ("pixel", "track", "batch"):
            runs: dict[str, list[dict[str, Any]]] = {"bare": [], "herald": []}
            for attempt in range(load.repeat):
                # Alternate which server goes first, so drifting noise hits both alike.
                for label in ("bare", "herald")[:: 1 if attempt % 2 == 0 else -1]:
                    result = one_run(
                        name, label, servers[label], load, attempt == 0, broker, home,
                        scenario_args(name, tokens_file, credentials, "{tag}"),
                        count_events=name != "batch" or not keep_batch_events,
                    )  # fmt: skip
                    runs[label].append(result)
            scenarios[name] = scenario = {label: median_run(runs[label]) for label in runs}
            scenario["ratio"] = round(
                scenario["herald"]["requests_per_second"] / scenario["bare"]["requests_per_second"],
                3,
            )
        report["scenarios"] = scenarios
    finally:
        if tracker is not None:
            stop_server(tracker)
            report["tracker_log_tail"] = tail_lines(tracker.output(), 20)
        stop_server(bare)
    report["write_key_length"] = len(key)
    report["tokens"] = len(tokens)
    return report


def one_run(
    name: str,
    label: str,
    server: Server,
    load: Load,
    warm_up: bool,
    broker: str,
    home: Path,
    arguments: list[str],
    count_events: bool,
) -> dict[str, Any]:
    """One wrk run of a scenario on one server ("{tag}" in arguments: a unique run tag);
    on Herald, the queue purged first and read after."""
    tag = f"{name}-{label}-{uuid.uuid4().hex[:8]}"
    if warm_up and load.warmup:
        warmup_args = [argument.replace("{tag}", f"{tag}-warmup") for argument in arguments]
        run_wrk(load, SCRIPTS[name], server.url, warmup_args, seconds=load.warmup)
    if label == "herald":
        time.sleep(1.0)  # let earlier runs' last publishes land, then drop them
        purge(broker, QUEUE, DEAD_QUEUE)
    args = [argument.replace("{tag}", tag) for argument in arguments]
    before = cpu_snapshot(server)
    result = run_wrk(load, SCRIPTS[name], server.url, args)
    after = cpu_snapshot(server)
    # Share of one core each used during the run (200% = both cores of a 2-core box);
    # `machine`: every process's, so machine - the others = what other work took.
    result["cpu_percent"] = {
        part: round(100 * (after[part] - before[part]) / load.seconds) for part in before
    }
    output = result.pop("output")
    result["events_per_second"] = round(result["requests_per_second"] * EVENTS_PER_REQUEST[name])
    if label == "herald":
        result["queue_messages_after"] = settled_depth(broker, QUEUE)
        result["dead_letter_messages_after"] = queue_depth(broker, DEAD_QUEUE)
        if count_events:
            result["queued"] = count_queued_events(broker, QUEUE)
        result["spool_files"] = spool_files(home)
    if result["non_2xx"] or any(result["socket_errors"].values()):
        print(f"tracking: {name} on {label}:\n{output}", file=sys.stderr)
    print(
        f"tracking: {name:<5} {label:<6} {result['requests_per_second']:>10,.0f} req/s"
        f"  p99 {result.get('p99_ms', float('nan')):7.2f} ms  load {result['load_before']:.2f}",
        file=sys.stderr,
        flush=True,
    )
    return result


MEDIAN_FIELDS = ("requests_per_second", "events_per_second", "p50_ms", "p75_ms", "p90_ms", "p99_ms")


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over the runs (each run kept under `runs`); errors summed."""
    summary: dict[str, Any] = {
        field: round(statistics.median(run[field] for run in runs), 2)
        for field in MEDIAN_FIELDS
        if all(field in run for run in runs)
    }
    summary["events_per_second"] = round(summary["events_per_second"])
    summary["non_2xx"] = sum(run["non_2xx"] for run in runs)
    summary["socket_errors"] = sum(sum(run["socket_errors"].values()) for run in runs)
    summary["load_before"] = max(run["load_before"] for run in runs)
    for field in (
        "requests",
        "cpu_percent",
        "queue_messages_after",
        "dead_letter_messages_after",
        "queued",
        "spool_files",
    ):
        if field in runs[-1]:
            summary[field] = runs[-1][field]  # the last run's
    summary["runs"] = runs
    return summary


def herald_setup(home: Path, env: dict[str, str]) -> str:
    """The profile database and the write key of the `bench` source, in this HERALD_HOME."""
    herald(env, "db", "apply", "--schema", str(SCHEMA))
    output = herald(env, "source", "create", SOURCE, "--db", DATABASE)
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if len(lines) != 1:
        raise SystemExit(
            f"herald source create printed {len(lines)} lines, not the key alone:\n{output}"
        )
    return lines[0]


def spool_files(home: Path) -> int:
    spool = home / "spool"
    return sum(1 for path in spool.rglob("*") if path.is_file()) if spool.exists() else 0


def tail_lines(text: str, count: int) -> list[str]:
    return [line for line in text.splitlines() if line.strip()][-count:]


# --- the loader part -------------------------------------------------------------------------


def drain(env: dict[str, str], home: Path, broker: str) -> dict[str, Any]:
    """`herald serve loader --until-idle 2`, timed; its JSON summary (the last stdout line)."""
    depth = queue_depth(broker, QUEUE) or 0
    started = time.perf_counter()
    completed = subprocess.run(
        [str(BIN / "herald"), "serve", "loader", "--until-idle", f"{LOADER_IDLE_S:g}",
         "--processes", str(LOADER_PROCESSES)],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=3_600,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(
            f"herald serve loader --until-idle failed ({completed.returncode}):\n"
            f"{completed.stdout[-2000:]}{completed.stderr[-4000:]}"
        )
    lines = [line for line in completed.stdout.splitlines() if line.strip()]
    try:
        summary = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        raise SystemExit(
            f"herald serve loader --until-idle printed no JSON summary last:\n"
            f"{completed.stdout[-2000:]}{completed.stderr[-2000:]}"
        ) from None
    landing = home / "landing"
    files = [path for path in landing.rglob("*") if path.is_file()] if landing.exists() else []
    return {
        "processes": LOADER_PROCESSES,
        "queue_messages_before": depth,
        "queue_messages_after": queue_depth(broker, QUEUE),
        "dead_letter_messages_after": queue_depth(broker, DEAD_QUEUE),
        "wall_seconds": round(seconds, 3),
        "seconds": round(max(seconds - LOADER_IDLE_S, 0.001), 3),
        "summary": summary,
        "landing_files": {
            str(folder): sum(1 for path in files if path.parent.relative_to(landing) == folder)
            for folder in sorted({path.parent.relative_to(landing) for path in files})
        },
        "landing_bytes": sum(path.stat().st_size for path in files),
    }


def load_all_engines(landing: Path, scratch: Path) -> dict[str, Any]:
    engines: dict[str, Any] = {}
    for engine in ("duckdb", "chdb"):
        folder = Path(tempfile.mkdtemp(prefix=f"load-{engine}-", dir=scratch))
        try:
            completed = subprocess.run(
                [
                    sys.executable, "-m", "tests.benchmarks.bench_tracking", "--stage", "load",
                    "--engine", engine, "--landing", str(landing), "--folder", str(folder),
                ],
                stdout=subprocess.PIPE, text=True, cwd=REPO,
            )  # fmt: skip
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        if completed.returncode != 0:
            raise SystemExit(f"loading the landing files on {engine} failed (see stderr)")
        engines[engine] = json.loads(completed.stdout)
    return engines


def measure_load(engine: str, landing: Path, folder: Path) -> dict[str, Any]:
    """In a process of its own: load_landing of the `events` source table into a fresh
    warehouse, then the raw engine reading the same Parquet files."""
    from herald.landing import landing_files, load_landing
    from herald.models.project import SqlProject

    project = SqlProject.load()
    tables = [table for table in project.sources.values() if table.name == "events"]
    if not tables:
        raise SystemExit("sql/sources.yml declares no `events` source table")
    table = tables[0]
    files = landing_files(landing, table)
    if engine == "duckdb":
        from herald.warehouse.duckdb_engine import DuckDBWarehouse

        warehouse: Any = DuckDBWarehouse(folder / "warehouse.duckdb")
    else:
        from herald.warehouse.chdb_engine import ChdbWarehouse

        warehouse = ChdbWarehouse(folder / "chdb", database="bench")
    started = time.perf_counter()
    outcome = load_landing(warehouse, landing, table)
    load_seconds = time.perf_counter() - started
    rows = warehouse.row_count(table.raw_table)
    report: dict[str, Any] = {
        "engine": engine,
        "files": len(files),
        "bytes": sum(path.stat().st_size for path in files),
        "rows": rows,
        "rows_loaded": outcome.rows_loaded,
        "rejected": outcome.rejected,
        "load_seconds": round(load_seconds, 3),
        "load_events_per_second": round(rows / load_seconds) if load_seconds else None,
    }
    report["raw"] = raw_engine(engine, files, folder, warehouse)
    report["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    warehouse.close()
    return report


def raw_engine(engine: str, files: list[Path], folder: Path, warehouse: Any) -> dict[str, Any]:
    """The engine alone on the same files: count(*), then a plain copy into a table."""
    if not files:
        return {}
    timings: dict[str, Any] = {}
    if engine == "duckdb":
        import duckdb

        listed = ", ".join("'" + str(path).replace("'", "''") + "'" for path in files)
        with duckdb.connect(str(folder / "raw.duckdb")) as connection:
            started = time.perf_counter()
            count = connection.execute(f"select count(*) from read_parquet([{listed}])").fetchone()
            timings["count_seconds"] = round(time.perf_counter() - started, 3)
            started = time.perf_counter()
            connection.execute(f"create table raw_copy as select * from read_parquet([{listed}])")
            timings["copy_seconds"] = round(time.perf_counter() - started, 3)
        rows = int(count[0]) if count else 0
    else:
        # The same chdb session (one data path per process), a database of its own.
        pattern = f"{files[0].parent.resolve()}/*.parquet"
        warehouse.command("create database if not exists raw")
        started = time.perf_counter()
        counted = warehouse.query_arrow(f"select count(*) as n from file('{pattern}', Parquet)")
        timings["count_seconds"] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()
        warehouse.command(
            "create table raw.raw_copy engine = MergeTree order by tuple() as "
            f"select * from file('{pattern}', Parquet)"
        )
        timings["copy_seconds"] = round(time.perf_counter() - started, 3)
        rows = int(counted.column(0)[0].as_py())
    timings["rows"] = rows
    for kind in ("count", "copy"):
        seconds = timings[f"{kind}_seconds"]
        timings[f"{kind}_events_per_second"] = round(rows / seconds) if seconds else None
    return timings


def measure_loader(
    env: dict[str, str], home: Path, broker: str, label: str, events: int | None
) -> dict[str, Any]:
    """Drain the queue into landing files, then load them on both engines."""
    print(f"tracking: loader ({label}): draining the queue", file=sys.stderr, flush=True)
    result: dict[str, Any] = {"label": label}
    result["drain"] = drain(env, home, broker)
    drained = (
        int(result["drain"]["summary"].get("accepted", events or 0))
        if isinstance(result["drain"]["summary"], dict)
        else (events or 0)
    )
    landing = home / "landing"
    result["engines"] = load_all_engines(landing, home)
    counted = max((engine["rows"] for engine in result["engines"].values()), default=0)
    result["events"] = counted or drained
    drain_s = result["drain"]["seconds"]
    result["drain_events_per_second"] = round(result["events"] / drain_s) if drain_s else None
    for engine in result["engines"].values():
        total = drain_s + engine["load_seconds"]
        engine["end_to_end_seconds"] = round(total, 3)
        engine["end_to_end_events_per_second"] = round(result["events"] / total) if total else None
        print(
            f"tracking: loader ({label}) {engine['engine']:<6} {result['events']:,} events: "
            f"drain {drain_s:.2f} s, load {engine['load_seconds']:.2f} s, "
            f"end to end {engine['end_to_end_events_per_second']:,} events/s",
            file=sys.stderr,
            flush=True,
        )
    # Keep this round's landing files out of the next round.
    if landing.exists():
        landing.rename(home / f"landing-{label}")
    return result


# --- the run ---------------------------------------------------------------------------------


def run(parts: list[str], load: Load, prefill_events: int, bundle: int) -> dict[str, Any]:
    broker = os.environ.get("HERALD_BROKER", "amqp://guest:guest@127.0.0.1:5672/")
    wrk_path()
    home = Path(
        tempfile.mkdtemp(prefix="bench-tracking-", dir=os.environ.get("BENCH_TRACKING_HOME"))
    )
    env = {**os.environ, "HERALD_HOME": str(home), "HERALD_BROKER": broker}
    for private in ("HERALD_DATABASE", "HERALD_WAREHOUSE", "HERALD_CONFIG"):
        env.pop(private, None)
    env["HERALD_CONFIG"] = str(home / "herald.toml")  # none: only the environment counts
    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_before": [round(value, 2) for value in os.getloadavg()],
        "queue": QUEUE,
        "queue_consumers_before": queue_consumers(broker, QUEUE),
    }
    if report["queue_consumers_before"]:
        print(
            f"tracking: {report['queue_consumers_before']} consumer(s) already on the {QUEUE} "
            "queue: they will take some of the benchmark's events (HERALD_EVENTS_QUEUE picks "
            "another queue)",
            file=sys.stderr,
        )
    try:
        if "tracking" in parts:
            report["tracking"] = {
                "when": report["when"],
                "wrk": {
                    "threads": load.threads,
                    "connections": load.connections,
                    "seconds": load.seconds,
                    "warmup_seconds": load.warmup,
                    "repeat": load.repeat,
                },
                **measure_http(home, env, broker, load, keep_batch_events="loader" in parts),
            }
        if "loader" in parts:
            if "tracking" not in parts:
                herald_setup(home, env)
            rounds = []
            if "tracking" in parts and (queue_depth(broker, QUEUE) or 0) > 0:
                rounds.append(measure_loader(env, home, broker, "batch-run", None))
            purge(broker, QUEUE, DEAD_QUEUE)
            if prefill_events:
                print(
                    f"tracking: publishing {prefill_events:,} events", file=sys.stderr, flush=True
                )
                published = prefill(broker, prefill_events, bundle)
                result = measure_loader(env, home, broker, "prefill", prefill_events)
                result["prefill"] = published
                rounds.append(result)
            report["loader"] = {"when": report["when"], "rounds": rounds}
    finally:
        with contextlib.suppress(Exception):
            purge(broker, QUEUE, DEAD_QUEUE)
        report["load_average_after"] = [round(value, 2) for value in os.getloadavg()]
        if os.environ.get("BENCH_TRACKING_KEEP") == "1":
            print(f"tracking: kept {home}", file=sys.stderr)
        else:
            shutil.rmtree(home, ignore_errors=True)
    return report


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory_gib = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        memory_gib = round(int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024, 1)
    wrk_version = subprocess.run(
        [wrk_path(), "--version"], capture_output=True, text=True
    ).stdout.splitlines()
    return {
        "cpus": os.cpu_count(),
        "cpu": model,
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "wrk": wrk_version[0] if wrk_version else "",
    }


# --- the report ------------------------------------------------------------------------------


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of the issue with the figure measured and whether it is met."""
    checks: list[dict[str, Any]] = []
    scenarios = report.get("tracking", {}).get("scenarios", {})
    if "pixel" in scenarios:
        pixel = scenarios["pixel"]
        checks.append({"target": "open pixel ≥ 50% of the bare app's requests/s",
                       "measured": f"{pixel['ratio']:.0%}",
                       "met": pixel["ratio"] >= PIXEL_RATIO_TARGET})  # fmt: skip
    for name, target, unit in (("track", TRACK_TARGET, "events/s"),
                               ("batch", BATCH_TARGET, "events/s")):  # fmt: skip
        if name in scenarios:
            herald_figures = scenarios[name]["herald"]
            checks.append({"target": f"/v1/{name} ≥ {target:,} {unit}",
                           "measured": f"{herald_figures['events_per_second']:,} {unit}",
                           "met": herald_figures["events_per_second"] >= target})  # fmt: skip
    for name, scenario in scenarios.items():
        p99 = scenario["herald"].get("p99_ms")
        checks.append({"target": f"{name}: p99 ≤ {P99_TARGET_MS:.0f} ms",
                       "measured": f"{p99:.1f} ms" if p99 is not None else "unknown",
                       "met": p99 is not None and p99 <= P99_TARGET_MS})  # fmt: skip
    for round_ in report.get("loader", {}).get("rounds", []):
        for engine in round_["engines"].values():
            rate = engine["end_to_end_events_per_second"] or 0
            checks.append({"target": f"loader ({round_['label']}, {round_['events']:,} events) "
                                     f"queue → {engine['engine']} ≥ {LOADER_TARGET:,} events/s",
                           "measured": f"{rate:,} events/s",
                           "met": rate >= LOADER_TARGET})  # fmt: skip
    return checks


def render(report: dict[str, Any]) -> str:
    machine_info = report["machine"]
    lines = [
        "# Tracking benchmark",
        "",
        f"{report['when']}, {machine_info['cpus']} CPUs ({machine_info['cpu']}), "
        f"{machine_info['memory_gib']} GiB, Python {machine_info['python']}, "
        f"{machine_info['wrk']}; RabbitMQ on the same machine. Load average before "
        f"{report['load_average_before'][0]}, after {report['load_average_after'][0]}; queue "
        f"`{report.get('queue', QUEUE)}` ({report.get('queue_consumers_before', 0)} other "
        "consumers at the start).",
        "",
        "## Targets",
        "",
        "| target | measured | |",
        "|---|---|---|",
    ]
    lines += [
        f"| {c['target']} | {c['measured']} | {verdict(c['met'])} |" for c in report["targets"]
    ]
    tracking = report.get("tracking")
    if tracking:
        wrk = tracking["wrk"]
        lines += [
            "",
            f"## HTTP ({tracking['when']})",
            "",
            f"`wrk -t{wrk['threads']} -c{wrk['connections']} -d{wrk['seconds']}s --latency`, "
            f"{wrk['repeat']} times, alternating, after a {wrk['warmup_seconds']} s warm-up, "
            "on the bare ASGI app "
            "(tests/benchmarks/bare_tracking_app.py) and on `herald serve tracking`, both "
            "uvicorn `--workers 2` with uvloop and httptools, one after the other in the same "
            "run; the figures are the medians of the runs (errors: summed; queue: after the last "
            "run). Events/s = requests/s × events per request (100 for /v1/batch).",
            "",
            "| endpoint | server | requests/s | events/s | p50 (ms) | p90 (ms) | p99 (ms) | "
            "errors | Herald / bare | load avg | CPU % server / RabbitMQ / wrk / whole machine "
            "(last run) "
            "| requests (last run) | queue after (messages) | events counted |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name, scenario in tracking["scenarios"].items():
            for label in ("bare", "herald"):
                figures = scenario[label]
                errors = figures["non_2xx"] + figures["socket_errors"]
                queued = figures.get("queued", {}).get("events")
                lines.append(
                    f"| {name} | {label} | {figures['requests_per_second']:,.0f} | "
                    f"{figures['events_per_second']:,} | {figures.get('p50_ms', 0):.1f} | "
                    f"{figures.get('p90_ms', 0):.1f} | {figures.get('p99_ms', 0):.1f} | {errors} | "
                    f"{scenario['ratio']:.2f} | {figures['load_before']} | "
                    f"{' / '.join(str(v) for v in figures.get('cpu_percent', {}).values())} | "
                    f"{figures.get('requests') or 0:,} | "
                    f"{figures.get('queue_messages_after', '')} | "
                    f"{'' if queued is None else f'{queued:,}'} |"
                )
        differences = tracking.get("answer_differences") or []
        lines += [
            "",
            "Events counted: taken off the queue after the last Herald run and counted (the "
            "batch run's are the loader's below); a run's last in-flight requests (up to one "
            "per connection) are published but not counted by wrk.",
            "",
            "Answers compared with the bare app's (status, content type, cache-control, body): "
            + ("identical." if not differences else "; ".join(differences)),
        ]
    loader = report.get("loader")
    if loader:
        lines += [
            "",
            f"## Loader ({loader['when']})",
            "",
            f"`herald serve loader --until-idle {LOADER_IDLE_S:g}` drains the queue into landing "
            f"files (drain: wall time, start-up included, less the {LOADER_IDLE_S:g} s it waits "
            "idle before exiting; the loader's own figure is from its summary), then "
            "herald.landing.load_landing appends them to raw_events in a fresh warehouse; the raw "
            "engine reads the same Parquet files (`count(*)`, and a plain `create table as "
            "select *`).",
            "",
            "| round | events | drain (s) | drain events/s | loader's own events/s | engine | "
            "load (s) | load events/s | end to end events/s | raw count (s) | raw copy (s) | "
            "raw copy events/s |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for round_ in loader["rounds"]:
            drain_cells = (
                f"| {round_['label']} | {round_['events']:,} | {round_['drain']['seconds']:.2f} "
                f"| {round_['drain_events_per_second']:,} "
                f"| {round_['drain']['summary'].get('events_per_second', 0):,} "
            )
            for engine in round_["engines"].values():
                raw = engine.get("raw", {})
                lines.append(
                    f"{drain_cells}| {engine['engine']} | {engine['load_seconds']:.2f} | "
                    f"{engine['load_events_per_second']:,} | "
                    f"{engine['end_to_end_events_per_second']:,} | "
                    f"{raw.get('count_seconds', '')} | {raw.get('copy_seconds', '')} | "
                    f"{raw.get('copy_events_per_second') or 0:,} |"
                )
        for round_ in loader["rounds"]:
            drained = round_["drain"]
            prefilled = round_.get("prefill")
            lines += [
                "",
                f"{round_['label']}: {drained['queue_messages_before']:,} queue messages; "
                f"landing files {drained['landing_files']} "
                f"({drained['landing_bytes'] / 2**20:.1f} MiB); loader summary "
                f"`{json.dumps(drained['summary'])}`"
                + (
                    f"; pre-filled at {prefilled['events_per_second']:,} events/s"
                    if prefilled
                    else ""
                ),
            ]
    return "\n".join(lines) + "\n"


def write(report: dict[str, Any]) -> None:
    """Write tracking.json and .md; a part not measured now keeps its previous figures."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "tracking.json"
    if path.exists():
        with contextlib.suppress(json.JSONDecodeError, OSError):
            previous = json.loads(path.read_text("utf-8"))
            for part in PARTS:
                if part not in report and part in previous:
                    report[part] = previous[part]
    report["targets"] = targets(report)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    summary = render(report)
    (RESULTS / "tracking.md").write_text(summary)
    print(summary)


def load_from_environment() -> Load:
    return Load(
        threads=int(os.environ.get("BENCH_TRACKING_THREADS", "2")),
        connections=int(os.environ.get("BENCH_TRACKING_CONNECTIONS", "64")),
        seconds=int(os.environ.get("BENCH_TRACKING_SECONDS", "10")),
        warmup=int(os.environ.get("BENCH_TRACKING_WARMUP", "2")),
        repeat=int(os.environ.get("BENCH_TRACKING_REPEAT", "3")),
    )


def run_and_report(parts: list[str]) -> None:
    """For run_all: the parts among `tracking` and `loader`, scaled by the environment."""
    report = run(
        parts,
        load_from_environment(),
        int(os.environ.get("BENCH_LOADER_EVENTS", "1000000")),
        int(os.environ.get("BENCH_LOADER_BUNDLE", "500")),
    )
    write(report)


def main() -> None:
    defaults = load_from_environment()
    parser = argparse.ArgumentParser()
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--seconds", type=int, default=defaults.seconds)
    parser.add_argument("--connections", type=int, default=defaults.connections)
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument("--warmup", type=int, default=defaults.warmup)
    parser.add_argument("--repeat", type=int, default=defaults.repeat)
    parser.add_argument(
        "--prefill", type=int, default=int(os.environ.get("BENCH_LOADER_EVENTS", "1000000"))
    )
    parser.add_argument(
        "--bundle", type=int, default=int(os.environ.get("BENCH_LOADER_BUNDLE", "500"))
    )
    parser.add_argument("--stage", choices=["load"])
    parser.add_argument("--engine", choices=["duckdb", "chdb"])
    parser.add_argument("--landing", type=Path)
    parser.add_argument("--folder", type=Path)
    arguments = parser.parse_args()
    if arguments.stage == "load":
        print(json.dumps(measure_load(arguments.engine, arguments.landing, arguments.folder)))
        return
    parts = [part for part in arguments.parts.split(",") if part]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}: use {','.join(PARTS)}")
    load = Load(
        arguments.threads,
        arguments.connections,
        arguments.seconds,
        arguments.warmup,
        arguments.repeat,
    )
    write(run(parts, load, arguments.prefill, arguments.bundle))


if __name__ == "__main__":
    main()
