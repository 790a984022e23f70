"""Time an import end to end against DuckDB's read_csv of the same file, in one run; print JSON.

    .venv/bin/python -m tests.benchmarks.bench_import [--rows 1000000] [--csv PATH]

The CSV is bench_import_read.py's 1M-row, 12-column client list. A profile database with a
matching schema is created in a temporary SQLite store, then (a) DuckDB reads the file with
read_csv(all_varchar) into a table, (b) `run_import` reads, maps, normalises and accounts for
every row and writes the accepted ones as landing files, and (c) DuckDB reads the file again:
the ratio is taken against the faster DuckDB read, as the machine is shared. `import_path`
says whether the import took the DuckDB path or the Python one; `--python-path` times the
Python path instead.
Targets (issue 3): raw records from a 1M-row, 12-column CSV in <= 20 s and <= 3x DuckDB.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

from herald.imports import open_table
from herald.imports.normalize import clear_caches
from herald.profiles.databases import create_database
from herald.profiles.importing import ImportRequest, run_import
from herald.profiles.schema import parse_schema_yaml
from herald.store import create_store_engine, migrate
from tests.benchmarks.bench_import_read import HEADER, time_duckdb, write_clients

TARGET_SECONDS = 20.0
TARGET_OVER_DUCKDB = 3.0

# The fields of bench_import_read.FIELDS as a profile database schema.
SCHEMA = """\
database: clients
fields:
  - {name: client_id, type: string, identifier: external_id, required: true}
  - {name: first_name, type: string}
  - {name: last_name, type: string}
  - {name: email, type: string, identifier: email}
  - {name: phone, type: string, identifier: phone}
  - {name: birth_date, type: date}
  - {name: registered_at, type: datetime}
  - {name: city, type: string}
  - {name: orders, type: integer}
  - {name: total_spent, type: float}
  - {name: subscribed, type: boolean}
  - {name: tier, type: enum, values: [Gold, Silver, Bronze, Platinum]}
"""


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def children_peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)


class _PathSeen(logging.Handler):
    """Notes whether run_import said it read the file in Python."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.python = False

    def emit(self, record: logging.LogRecord) -> None:
        self.python = self.python or "read in Python" in record.getMessage()


def time_import(
    path: Path, home: Path, workers: int | None = None, duckdb_path: bool = True
) -> tuple[float, dict[str, object], int]:
    store = create_store_engine(f"sqlite:///{home / 'store.sqlite'}")
    migrate(store)
    create_database(store, parse_schema_yaml(SCHEMA))
    clear_caches()
    request = ImportRequest(database="clients", source="bench", key_column="client_id")
    seen = _PathSeen()
    logger = logging.getLogger("herald.profiles.importing")
    logger.addHandler(seen)
    logger.setLevel(logging.DEBUG)
    cpu_start = cpu_seconds()
    start = time.perf_counter()
    result = run_import(
        store, home, open_table(path), request, workers=workers, duckdb_path=duckdb_path
    )
    seconds = time.perf_counter() - start
    logger.removeHandler(seen)
    summary = {
        **result.summary(),
        "cpu_s": round(cpu_seconds() - cpu_start, 2),
        "path": "python" if seen.python or not duckdb_path else "duckdb",
    }
    return seconds, summary, len(result.landing_files)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the import's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--csv", type=Path, help="reuse or keep the CSV at this path")
    parser.add_argument(
        "--workers", type=int, help="normalising processes (default: run_import's choice)"
    )
    parser.add_argument("--python-path", action="store_true", help="time the Python path")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="herald-bench-import-") as folder:
        path = args.csv or Path(folder) / "clients.csv"
        write_seconds = 0.0
        if not path.exists():
            start = time.perf_counter()
            write_clients(path, args.rows)
            write_seconds = time.perf_counter() - start
        duckdb_before, duckdb_rows = time_duckdb(path)
        import_seconds, summary, landing_files = time_import(
            path, Path(folder), args.workers, duckdb_path=not args.python_path
        )
        duckdb_after, _ = time_duckdb(path)
        duckdb_seconds = min(duckdb_before, duckdb_after)
        received = int(summary["received"])  # type: ignore[call-overload]
        figures: dict[str, object] = {
            "rows": args.rows,
            "columns": len(HEADER),
            "file_mb": round(path.stat().st_size / 1e6, 1),
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "machine": platform.machine(),
            "write_csv_s": round(write_seconds, 2),
            "duckdb_read_csv_s": round(duckdb_seconds, 2),
            "duckdb_read_csv_runs_s": [round(duckdb_before, 2), round(duckdb_after, 2)],
            "duckdb_rows_per_s": round(duckdb_rows / duckdb_seconds),
            "import_path": summary["path"],
            "workers": "auto" if args.workers is None else args.workers,
            "import_s": round(import_seconds, 2),
            "import_rows_per_s": round(received / import_seconds),
            "import_over_duckdb": round(import_seconds / duckdb_seconds, 2),
            "import_cpu_s": summary["cpu_s"],
            "load_average_1m": round(os.getloadavg()[0], 2),
            "received": received,
            "accepted": summary["accepted"],
            "rejected": summary["rejected"],
            "rejected_by_reason": summary["rejected_by_reason"],
            "landing_files": landing_files,
            "rows_match": received == duckdb_rows == args.rows,
            "target_import_s": TARGET_SECONDS,
            "target_import_over_duckdb": TARGET_OVER_DUCKDB,
            "meets_target": import_seconds <= TARGET_SECONDS
            and import_seconds <= TARGET_OVER_DUCKDB * duckdb_seconds,
            "peak_rss_mb": peak_rss_mb(),
            "children_peak_rss_mb": children_peak_rss_mb(),
        }
        print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
