"""Unification benchmark on generated data, DuckDB and chdb, each engine in its own process.

    python -m tests.benchmarks.bench_unify --home DIR --profiles 100000 [--engine duckdb chdb]

For every engine: a first process loads the profile sources' landing and builds their
staging views (bench_pipeline times that), a second process times `build_inputs` + `unify` alone, so
its peak RSS (resource.getrusage) is unification's. Accuracy is pairwise against the truth
file. Prints one JSON document with a row per engine.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SEED = 42


def open_engine(engine: str, home: Path) -> Any:
    if engine == "duckdb":
        from herald.warehouse.duckdb_engine import DuckDBWarehouse

        return DuckDBWarehouse(home / "unify-bench.duckdb")
    from herald.warehouse.chdb_engine import ChdbWarehouse

    return ChdbWarehouse(home / "unify-bench-chdb")


def prepare(engine: str, home: Path) -> dict[str, Any]:
    from herald.unify.sources import load_profile_sources

    warehouse = open_engine(engine, home)
    started = time.perf_counter()
    load_profile_sources(warehouse, home / "landing")
    return {"prepare_seconds": round(time.perf_counter() - started, 2)}


def run_unify(engine: str, home: Path) -> dict[str, Any]:
    from herald.unify import build_inputs, pairwise_accuracy, read_truth, unify

    warehouse = open_engine(engine, home)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    build_inputs(warehouse)
    inputs_seconds = time.perf_counter() - started
    result = unify(warehouse)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    predicted = warehouse.query_arrow("select record_key, component_id from identity_components")
    accuracy = pairwise_accuracy(predicted, read_truth(home, SEED))
    fuzzy = result.fuzzy
    return {
        "engine": engine,
        "records": result.records,
        "components": result.components,
        "seconds": round(seconds, 2),
        "records_per_second": round(result.records / seconds),
        "inputs_seconds": round(inputs_seconds, 2),
        "phase_seconds": {name: round(value, 2) for name, value in result.seconds.items()},
        "iterations": result.iterations,
        "identifier_graph_changed": result.identifier_graph.changed,
        "refused_links": result.refused_links,
        "junk_values": len(result.junk_values),
        "fuzzy_compared": fuzzy.compared if fuzzy else 0,
        "fuzzy_merged": fuzzy.merged if fuzzy else 0,
        "fuzzy_review": fuzzy.reviewed if fuzzy else 0,
        "fuzzy_mailbox_merged": fuzzy.mailbox_merged if fuzzy else 0,
        "fuzzy_skipped_blocks": fuzzy.skipped_blocks if fuzzy else 0,
        "peak_rss_mib_before": round(rss_before / 1024),
        "peak_rss_mib": round(peak_kib / 1024),
        "precision": round(accuracy.precision, 6),
        "recall": round(accuracy.recall, 6),
        "true_pairs": accuracy.true_pairs,
        "predicted_pairs": accuracy.predicted_pairs,
    }


def stage(args: list[str]) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.bench_unify", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument(
        "--engine", nargs="+", choices=["duckdb", "chdb"], default=["duckdb", "chdb"]
    )
    parser.add_argument("--stage", choices=["prepare", "unify"])
    args = parser.parse_args()
    home = args.home.resolve()

    if args.stage == "prepare":
        print(json.dumps(prepare(args.engine[0], home)))
        return
    if args.stage == "unify":
        print(json.dumps(run_unify(args.engine[0], home)))
        return

    from herald.generate import generate

    report = generate(home, args.profiles, seed=SEED)
    rows: list[dict[str, Any]] = []
    for engine in args.engine:
        common = ["--home", str(home), "--engine", engine]
        prepared = stage([*common, "--stage", "prepare"])
        measured = stage([*common, "--stage", "unify"])
        rows.append({"profiles": args.profiles, **prepared, **measured})
    print(
        json.dumps(
            {"profiles": args.profiles, "generate_seconds": round(report.seconds, 2), "runs": rows},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
