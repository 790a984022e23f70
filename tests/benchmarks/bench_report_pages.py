"""Report pages benchmark: the server time of every report page on generated data.

    python -m tests.benchmarks.bench_report_pages [--home DIR] [--profiles N] [--repeat 5]

BENCH_REPORT_PROFILES (default 1,000,000) sets the size when --profiles is not given; the data
stays in var/bench-report-pages/<N> and is reused (marker files `generated.json`,
`materialized.json`).

1. Setup, reused when the home holds it: `herald generate --profiles N --seed 42`, then
   `herald materialize` on DuckDB, both timed; the marts' row counts.
2. The web UI app in this process (FastAPI's TestClient, no network), an analyst logged in;
   every report page (the ten mart pages with their default filters and a filtered variant,
   their CSV and XLSX exports, the funnel builder with 3 steps and the cohort builder) is
   requested once to warm up, then `--repeat` times; the median, min and max server time
   (the request through the app: warehouse opened read-only, queries, chart JSON, template)
   and the size of the answer are reported.
Writes tests/benchmarks/results/report_pages.json (the latest run per size) and
report_pages.md, and prints the summary.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SEED = 42
PASSWORD = "benchmark password"
MARTS = (
    "report_communications_daily",
    "report_traffic_daily",
    "report_client_growth",
    "report_cohort_retention",
    "report_ltv_cohort",
    "report_goals_daily",
    "report_bounces",
    "report_non_deliveries",
    "report_email_click_map",
    "report_form_submissions_daily",
    "profile_ltv_predicted",
    "profile_events",
)
FUNNEL = (
    "/reports/funnel?step=Product+Viewed&step=Product+Added&step=Order+Completed"
    "&where=&where=&where=&window=7d"
)
PAGES: tuple[tuple[str, str], ...] = (
    ("index", "/reports"),
    ("communications by campaign", "/reports/communications"),
    ("communications by day, per channel", "/reports/communications?by=day&breakdown=channel"),
    ("communications email by day", "/reports/communications?by=day&channel=email"),
    ("communications CSV", "/reports/communications.csv"),
    ("communications XLSX", "/reports/communications.xlsx"),
    ("traffic by source", "/reports/traffic"),
    ("traffic by landing page", "/reports/traffic?by=landing_page"),
    ("traffic by day, per device", "/reports/traffic?by=day&breakdown=device"),
    ("client growth by month", "/reports/client-growth"),
    ("client growth by day, per source", "/reports/client-growth?grain=day&breakdown=source"),
    ("cohort retention", "/reports/cohort-retention"),
    ("LTV", "/reports/ltv"),
    ("goals", "/reports/goals"),
    ("bounces", "/reports/bounces"),
    ("non-deliveries", "/reports/non-deliveries"),
    ("email click map", "/reports/click-map"),
    ("forms", "/reports/forms"),
    ("funnel builder, 3 steps", FUNNEL),
    ("cohort builder, first order by month", "/reports/cohorts"),
    ("cohort builder, sign-up by week, Page Viewed",
     "/reports/cohorts?by=sign_up&period=week&activity=Page+Viewed"),
)  # fmt: skip


def disk_bytes(path: Path) -> int:
    if not path.exists():
        return 0
    if path.is_file():
        return path.stat().st_size
    return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file())


def herald_command(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    herald = Path(sys.executable).with_name("herald")
    return subprocess.run([str(herald), *args], env=env, cwd=REPO, capture_output=True, text=True)


def environment(home: Path) -> dict[str, str]:
    env = {**os.environ, "HERALD_HOME": str(home)}
    for name in ("HERALD_WAREHOUSE", "HERALD_DATABASE", "HERALD_UI_SECRET"):
        env.pop(name, None)
    return env


def setup(home: Path, profiles: int) -> dict[str, Any]:
    """Generate and materialise into `home`, unless its markers say it is done."""
    generated = home / "generated.json"
    if generated.exists() and json.loads(generated.read_text())["profiles"] == profiles:
        generation = {**json.loads(generated.read_text()), "reused": True}
    else:
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        started = time.perf_counter()
        completed = herald_command(
            ["generate", "--profiles", str(profiles), "--seed", str(SEED)], environment(home)
        )
        if completed.returncode != 0:
            raise SystemExit(f"herald generate failed:\n{completed.stderr[-3000:]}")
        generation = {
            "profiles": profiles,
            "generate_seconds": round(time.perf_counter() - started, 2),
            "landing_bytes": disk_bytes(home / "landing"),
        }
        generated.write_text(json.dumps(generation, indent=2) + "\n")
        generation = {**generation, "reused": False}
    materialized = home / "materialized.json"
    if materialized.exists():
        materialization = {**json.loads(materialized.read_text()), "reused": True}
    else:
        started = time.perf_counter()
        completed = herald_command(["materialize"], environment(home))
        if completed.returncode != 0:
            raise SystemExit(
                "herald materialize failed:\n"
                f"{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
            )
        materialization = {
            "materialize_seconds": round(time.perf_counter() - started, 2),
            "warehouse_bytes": disk_bytes(home / "warehouse.duckdb"),
        }
        materialized.write_text(json.dumps(materialization, indent=2) + "\n")
        materialization = {**materialization, "reused": False}
    return {"generation": generation, "materialization": materialization}


def mart_rows(home: Path) -> dict[str, int]:
    from herald.warehouse.duckdb_engine import DuckDBWarehouse

    warehouse = DuckDBWarehouse(home / "warehouse.duckdb", read_only=True)
    return {name: warehouse.row_count(name) for name in MARTS if warehouse.exists(name)}


def measure(home: Path, repeat: int) -> list[dict[str, Any]]:
    from fastapi.testclient import TestClient

    from herald.settings import load_settings
    from herald.store.engine import create_store_engine
    from herald.store.migrate import migrate
    from herald.users import UserError, create_user
    from ui.web import create_web_app

    settings = load_settings(home=home, database="", ui_secret="", warehouse="")
    store = create_store_engine(settings.database_url)
    migrate(store)
    with contextlib.suppress(UserError):  # made by an earlier run
        create_user(store, "bench", PASSWORD, role="analyst")
    client = TestClient(create_web_app(settings), follow_redirects=False)
    login = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', login)
    assert token is not None
    answer = client.post(
        "/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token.group(1)}
    )
    if answer.status_code != 303:
        raise SystemExit(f"cannot log in: {answer.status_code} {answer.text[:500]}")
    results = []
    for name, path in PAGES:
        times: list[float] = []
        status = 0
        size = 0
        for attempt in range(repeat + 1):  # the first is the warm-up
            started = time.perf_counter()
            response = client.get(path)
            seconds = time.perf_counter() - started
            status, size = response.status_code, len(response.content)
            if attempt:
                times.append(seconds)
        results.append(
            {
                "page": name,
                "path": path,
                "status": status,
                "bytes": size,
                "median_s": round(statistics.median(times), 4),
                "min_s": round(min(times), 4),
                "max_s": round(max(times), 4),
            }
        )
    store.dispose()
    return results


PAGE_TARGET_S = 1.0


def run(home: Path, profiles: int, repeat: int) -> dict[str, Any]:
    prepared = setup(home, profiles)
    load_before = os.getloadavg()
    pages = measure(home, repeat)
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "profiles": profiles,
        "repeat": repeat,
        **prepared,
        "rows": mart_rows(home),
        "pages": pages,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "load_average": [round(load_before[0], 1), round(os.getloadavg()[0], 1)],
    }


def render_summary(runs: dict[str, Any]) -> str:
    lines = ["# Report pages benchmark", ""]
    for report in runs.values():
        generation = report["generation"]
        materialization = report["materialization"]
        lines += [
            f"## {report['profiles']:,} profiles ({report['when']}, "
            f"{report['machine']['cpus']} CPUs)",
            "",
            f"Setup: `herald generate` {generation.get('generate_seconds', 0):.0f} s, "
            f"`herald materialize` (DuckDB) {materialization.get('materialize_seconds', 0):.0f} s, "
            f"warehouse {materialization.get('warehouse_bytes', 0) / 2**30:.2f} GiB. "
            f"Load average before/after: "
            f"{' / '.join(str(load) for load in report['load_average'])}; "
            f"peak RSS {report['peak_rss_mib']:,} MiB.",
            "",
            "Rows: " + ", ".join(f"{table} {rows:,}" for table, rows in report["rows"].items()),
            "",
            f"Server time through the app (TestClient, in-process), median of "
            f"{report['repeat']} after a warm-up:",
            "",
            "| page | status | median (s) | min (s) | max (s) | ≤ 1 s | answer (KiB) |",
            "|---|---|---|---|---|---|---|",
        ]
        for page in report["pages"]:
            met = "met" if page["median_s"] <= PAGE_TARGET_S else "MISSED"
            lines.append(
                f"| {page['page']} | {page['status']} | {page['median_s']:.3f} | "
                f"{page['min_s']:.3f} | {page['max_s']:.3f} | {met} | "
                f"{page['bytes'] / 1024:,.0f} |"
            )
        lines.append("")
    return "\n".join(lines)


def run_and_report(profiles: int | None = None, home: Path | None = None, repeat: int = 5) -> None:
    profiles = profiles or int(os.environ.get("BENCH_REPORT_PROFILES", "1000000"))
    home = (home or REPO / "var" / "bench-report-pages" / str(profiles)).resolve()
    report = run(home, profiles, repeat)
    results = REPO / "tests" / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    path = results / "report_pages.json"
    runs = json.loads(path.read_text())["runs"] if path.exists() else {}
    runs[str(profiles)] = report
    runs = dict(sorted(runs.items(), key=lambda item: int(item[0])))
    path.write_text(json.dumps({"runs": runs}, indent=2, ensure_ascii=False) + "\n")
    summary = render_summary(runs)
    (results / "report_pages.md").write_text(summary)
    print(summary)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--profiles", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    run_and_report(args.profiles, args.home, args.repeat)


if __name__ == "__main__":
    main()
