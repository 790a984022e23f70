"""On-demand reports benchmark: funnels of 10 and 20 steps and the default cohort retention
over synthetic segment inputs, on DuckDB and chdb.

    python -m tests.benchmarks.bench_reports_ondemand [--rows 10000000] [--engine duckdb chdb]
        [--repeat 1] [--home DIR]

Per engine, in a process of its own (chdb allows one data path per process; peak RSS is the
measurement's): `profile_events` of ROWS events of ROWS/20 profiles and `profile_orders` of
ROWS/20 orders are generated inside the engine by SQL (DuckDB `range()`, ClickHouse
`numbers()`; the same integer arithmetic on both, so both hold the same rows), with the
input tables' column types. Events: 22 names ("Step 01".."Step 22"), times spread over 90
days, a category and a JSON `plan`. Then, timed (median of --repeat, after one warm-up
run when --repeat > 1): a 10-step and a 20-step ordered funnel (7-day window), the 20-step
funnel strict and in any order, a 10-step funnel broken down by category, and the default
cohort retention (first order, month, orders).

Prints one JSON document and writes it to tests/benchmarks/results/reports_ondemand.json
(`run_and_report()` is the entry point for run_all; BENCH_REPORT_ROWS and
BENCH_REPORT_ENGINES set the scale and the engines).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "tests" / "benchmarks" / "results"
DATABASE = "bench"
EVENTS_PER_PROFILE = 20
NAMES = 22
DAYS = 90
CATEGORIES = ("Phones", "Laptops", "Tablets", "Shoes", "Bags", "Books", "Toys", "Food")
STATUSES = ("paid", "delivered", "created", "cancelled", "shipped")


def _events_sql(dialect: str, rows: int) -> str:
    """ROWS events of P = ROWS/20 profiles: event i is the (k = i div P)-th of profile i mod P,
    named Step k+1 (k+2 for one event in seven: a skipped step), an hour after the previous
    one (give or take an hour), from a start spread over 90 days."""
    from herald.segments.inputs import EVENTS, sql_type

    profiles = max(rows // EVENTS_PER_PROFILE, 1)
    seconds = DAYS * 86_400
    if dialect == "clickhouse":
        i, source = "number", f"numbers({rows})"
        k, skip = f"intDiv({i}, {profiles})", f"if(({i} * 31) % 7 = 0, 1, 0)"
        expressions = {
            "profile_id": f"concat('p', toString({i} % {profiles}))",
            "event_id": f"concat('e', toString({i}))",
            "event_name": f"concat('Step ', leftPad(toString(least({k} + 1 + {skip}, {NAMES})), "
            "2, '0'))",
            "occurred_at": f"toDateTime64('2026-01-01 00:00:00', 6, 'UTC') + toIntervalSecond("
            f"(({i} % {profiles}) * 3301) % {seconds} + {k} * 3600 + ({i} * 104729) % 3600)",
            "category": f"[{', '.join(repr(c) for c in CATEGORIES)}][({i} * 17) % 8 + 1]",
            "price": f"toFloat64(({i} * 13) % 1000)",
            "properties": f"if({i} % 3 = 0, '{{\"plan\": \"gold\"}}', '{{}}')",
        }
    else:
        i, source = "i", f"range({rows}) as t(i)"
        k, skip = f"(i // {profiles})", "(case when (i * 31) % 7 = 0 then 1 else 0 end)"
        expressions = {
            "profile_id": f"'p' || cast(i % {profiles} as varchar)",
            "event_id": "'e' || cast(i as varchar)",
            "event_name": f"'Step ' || lpad(cast(least({k} + 1 + {skip}, {NAMES}) as varchar), "
            "2, '0')",
            "occurred_at": f"timestamp '2026-01-01 00:00:00' + to_seconds("
            f"((i % {profiles}) * 3301) % {seconds} + {k} * 3600 + (i * 104729) % 3600)",
            "category": f"[{', '.join(repr(c) for c in CATEGORIES)}][(i * 17) % 8 + 1]",
            "price": "cast((i * 13) % 1000 as double)",
            "properties": "case when i % 3 = 0 then '{\"plan\": \"gold\"}' else '{}' end",
        }
    columns = [("database", "text"), ("profile_id", "text"), *EVENTS.columns]
    parts = []
    for name, kind in columns:
        expression = "'bench'" if name == "database" else expressions.get(name, "null")
        parts.append(f"cast({expression} as {sql_type(kind, dialect)}) as {name}")
    return f"select {', '.join(parts)} from {source}"


def _orders_sql(dialect: str, rows: int) -> str:
    from herald.segments.inputs import ORDERS, sql_type

    profiles = max(rows // EVENTS_PER_PROFILE, 1)
    count = max(rows // EVENTS_PER_PROFILE, 1)
    seconds = 365 * 86_400
    statuses = ", ".join(repr(s) for s in STATUSES)
    if dialect == "clickhouse":
        i, source = "number", f"numbers({count})"
        expressions = {
            "profile_id": f"concat('p', toString(({i} * 104723) % {profiles}))",
            "order_id": f"concat('o', toString({i}))",
            "created_at": f"toDateTime64('2025-06-01 00:00:00', 6, 'UTC') + "
            f"toIntervalSecond(({i} * 7907) % {seconds})",
            "status": f"[{statuses}][{i} % 5 + 1]",
            "total": f"toFloat64(({i} * 37) % 5000)",
        }
    else:
        i, source = "i", f"range({count}) as t(i)"
        expressions = {
            "profile_id": f"'p' || cast((i * 104723) % {profiles} as varchar)",
            "order_id": "'o' || cast(i as varchar)",
            "created_at": f"timestamp '2025-06-01 00:00:00' + to_seconds((i * 7907) % {seconds})",
            "status": f"[{statuses}][i % 5 + 1]",
            "total": "cast((i * 37) % 5000 as double)",
        }
    columns = [("database", "text"), ("profile_id", "text"), *ORDERS.columns]
    parts = []
    for name, kind in columns:
        expression = "'bench'" if name == "database" else expressions.get(name, "null")
        parts.append(f"cast({expression} as {sql_type(kind, dialect)}) as {name}")
    return f"select {', '.join(parts)} from {source}"


def _open(engine: str, folder: Path) -> Any:
    if engine == "duckdb":
        from herald.warehouse.duckdb_engine import DuckDBWarehouse

        return DuckDBWarehouse(folder / "warehouse.duckdb")
    from herald.warehouse.chdb_engine import ChdbWarehouse

    return ChdbWarehouse(folder / "chdb", database="bench")


def setup(warehouse: Any, rows: int) -> dict[str, float]:
    from herald.segments.inputs import ORDER
    from herald.warehouse.base import TableOptions

    timings: dict[str, float] = {}
    started = time.perf_counter()
    warehouse.create_table_as("profile_events", _events_sql(warehouse.dialect, rows), ORDER)
    timings["events_seconds"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    warehouse.create_table_as("profile_orders", _orders_sql(warehouse.dialect, rows), ORDER)
    timings["orders_seconds"] = round(time.perf_counter() - started, 2)
    from herald.segments.inputs import sql_type

    warehouse.create_table_as(
        f"segment_profiles__{DATABASE}",
        f"select cast('p0' as {sql_type('text', warehouse.dialect)}) as profile_id",
        TableOptions(order_by=("profile_id",)),
    )
    return timings


def cases() -> dict[str, Any]:
    from herald.reports.funnel import FunnelStep

    def steps(count: int) -> list[FunnelStep]:
        return [FunnelStep(f"Step {index:02d}") for index in range(1, count + 1)]

    week = timedelta(days=7)
    return {
        "funnel_10_ordered": {"steps": steps(10), "window": week, "order": "ordered"},
        "funnel_20_ordered": {"steps": steps(20), "window": week, "order": "ordered"},
        "funnel_20_strict": {"steps": steps(20), "window": week, "order": "strict"},
        "funnel_20_any": {"steps": steps(20), "window": week, "order": "any"},
        "funnel_10_by_category": {
            "steps": steps(10),
            "window": week,
            "order": "ordered",
            "breakdown": "category",
        },
    }


def measure(engine: str, rows: int, repeat: int, folder: Path) -> dict[str, Any]:
    from herald.reports.cohort import cohort_retention
    from herald.reports.funnel import funnel

    warehouse = _open(engine, folder)
    report: dict[str, Any] = {"engine": engine, "rows": rows}
    report["setup"] = setup(warehouse, rows)
    report["events"] = warehouse.row_count("profile_events")
    report["orders"] = warehouse.row_count("profile_orders")
    timings: dict[str, float] = {}
    answers: dict[str, Any] = {}

    def timed(name: str, run: Any) -> None:
        runs = []
        for attempt in range(repeat + (1 if repeat > 1 else 0)):
            started = time.perf_counter()
            answer = run()
            elapsed = time.perf_counter() - started
            if repeat == 1 or attempt > 0:
                runs.append(elapsed)
        timings[name] = round(statistics.median(runs), 3)
        answers[name] = answer
        print(f"{engine:>6} {name:<24} {timings[name]:8.3f} s", file=sys.stderr, flush=True)

    for name, case in cases().items():
        timed(
            name,
            lambda case=case: [
                row.entered
                for row in funnel(warehouse, DATABASE, **case).rows[: len(case["steps"])]
            ],
        )
    timed("cohort_default", lambda: len(cohort_retention(warehouse, DATABASE)))
    report["seconds"] = timings
    report["answers"] = answers
    report["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    warehouse.close()
    return report


def run(rows: int, engines: list[str], repeat: int, home: Path | None = None) -> dict[str, Any]:
    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": rows,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "engines": {},
    }
    for engine in engines:
        folder = Path(tempfile.mkdtemp(prefix=f"bench-reports-{engine}-", dir=home))
        try:
            completed = subprocess.run(
                [
                    sys.executable, "-m", "tests.benchmarks.bench_reports_ondemand",
                    "--stage", "measure", "--engine", engine, "--rows", str(rows),
                    "--repeat", str(repeat), "--folder", str(folder),
                ],
                stdout=subprocess.PIPE,
                text=True,
                cwd=REPO,
            )  # fmt: skip
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        if completed.returncode != 0:
            raise SystemExit(f"{engine}: the measurement failed (see stderr)")
        report["engines"][engine] = json.loads(completed.stdout)
    answers = [result["answers"] for result in report["engines"].values()]
    report["engines_agree"] = all(answer == answers[0] for answer in answers)
    return report


def run_and_report() -> None:
    """For run_all: BENCH_REPORT_ROWS (default 10,000,000), BENCH_REPORT_ENGINES (default
    duckdb,chdb), BENCH_REPORT_REPEAT (default 1)."""
    rows = int(os.environ.get("BENCH_REPORT_ROWS", "10000000"))
    engines = os.environ.get("BENCH_REPORT_ENGINES", "duckdb,chdb").split(",")
    report = run(rows, engines, int(os.environ.get("BENCH_REPORT_REPEAT", "1")))
    write(report)


def write(report: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "reports_ondemand.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(report, indent=2, ensure_ascii=False))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--engine", nargs="+", default=["duckdb", "chdb"])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--stage", choices=["measure"])
    parser.add_argument("--folder", type=Path)
    arguments = parser.parse_args()
    if arguments.stage == "measure":
        result = measure(arguments.engine[0], arguments.rows, arguments.repeat, arguments.folder)
        print(json.dumps(result))
        return
    write(run(arguments.rows, arguments.engine, arguments.repeat, arguments.home))


if __name__ == "__main__":
    main()
