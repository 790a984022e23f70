"""Time `herald.generate.generate` at a given size and print the figures as JSON.

    .venv/bin/python tests/benchmarks/bench_generate.py --profiles 1000000 [--workers 2]

Peak memory is sampled every 50 ms over this process and its worker processes: `peak_rss_mb`
is the largest sum seen, `peak_process_rss_mb` the largest single process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import threading
from pathlib import Path

import psutil

from herald.generate import generate


class MemorySampler(threading.Thread):
    def __init__(self, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak_total = 0
        self.peak_single = 0
        self._done = threading.Event()

    def run(self) -> None:
        me = psutil.Process()
        while not self._done.is_set():
            total = 0
            for process in [me, *me.children(recursive=True)]:
                try:
                    rss = process.memory_info().rss
                except psutil.Error:
                    continue
                total += rss
                self.peak_single = max(self.peak_single, rss)
            self.peak_total = max(self.peak_total, total)
            self._done.wait(self.interval)

    def stop(self) -> None:
        self._done.set()
        self.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--home", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()

    home = args.home or Path(tempfile.mkdtemp(prefix="herald-bench-"))
    sampler = MemorySampler()
    sampler.start()
    try:
        report = generate(home, args.profiles, seed=args.seed, workers=args.workers)
    finally:
        sampler.stop()
    size = sum(path.stat().st_size for path in report.files)
    result = {
        "profiles": args.profiles,
        "seed": args.seed,
        "workers": report.workers,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "seconds": round(report.seconds, 2),
        "rows": report.total_rows,
        "rows_per_second": round(report.rows_per_second),
        "rows_by_source": report.rows,
        "truth_rows": report.truth_rows,
        "files": len(report.files),
        "bytes_written": size,
        "peak_rss_mb": round(sampler.peak_total / 2**20),
        "peak_process_rss_mb": round(sampler.peak_single / 2**20),
    }
    print(json.dumps(result, indent=2))
    if not args.keep and args.home is None:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
