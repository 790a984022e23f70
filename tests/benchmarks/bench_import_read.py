"""Time reading a large client CSV: DuckDB's read_csv, Herald's streaming reader, and the reader
with every value normalised, in one run; print the figures as JSON.

    .venv/bin/python tests/benchmarks/bench_import_read.py [--rows 1000000] [--csv PATH]

The CSV is written once per run into a temporary folder (or to/from `--csv`): 12 columns of
ids, Cyrillic and Latin names, e-mails in mixed case, phones in five formats, dates in two
formats, a datetime, counts, money with a comma or a dot, yes/no words and a tier.
Targets (issue 3): raw records from a 1M-row, 12-column CSV in <= 20 s and <= 3x DuckDB.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from herald.imports.normalize import (
    FieldSpec,
    NormalizeOptions,
    RowNormalizer,
    clear_caches,
    normalizer_for,
)
from herald.imports.readers import open_table

FIRST = ["Иван", "Анна", "Пётр", "Мария", "Alexey", "Olga", "Дмитрий", "Елена", "John", "Юлия"]
LAST = ["Иванов", "Петрова", "Smith", "Сидоров", "Кузнецова", "Brown", "Щукин", "Орлова"]
CITIES = ["Москва", "Санкт-Петербург", "Казань", "Новосибирск", "Екатеринбург", "Минск"]
DOMAINS = ["mail.ru", "Yandex.ru", "gmail.com", "BK.RU", "inbox.ru", "outlook.com"]
YES_NO = ["да", "нет", "yes", "no", "1", "0", "TRUE", "false"]
TIERS = ["gold", "Silver", "BRONZE", "platinum"]
HEADER = [
    "client_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "birth_date",
    "registered_at",
    "city",
    "orders",
    "total_spent",
    "subscribed",
    "tier",
]
FIELDS = [
    FieldSpec("client_id", "string", identifier="external_id", required=True),
    FieldSpec("first_name", "string"),
    FieldSpec("last_name", "string"),
    FieldSpec("email", "string", identifier="email"),
    FieldSpec("phone", "string", identifier="phone"),
    FieldSpec("birth_date", "date"),
    FieldSpec("registered_at", "datetime"),
    FieldSpec("city", "string"),
    FieldSpec("orders", "integer"),
    FieldSpec("total_spent", "float"),
    FieldSpec("subscribed", "boolean"),
    FieldSpec("tier", "enum", enum_values=("Gold", "Silver", "Bronze", "Platinum")),
]


def phone_text(rng: random.Random) -> str:
    code, a, b, c = (
        rng.randint(900, 999),
        rng.randint(100, 999),
        rng.randint(10, 99),
        rng.randint(10, 99),
    )
    return rng.choice(
        [
            f"+7 {code} {a}-{b}-{c}",
            f"8 ({code}) {a}-{b}-{c}",
            f"7{code}{a}{b}{c}",
            f"8-{code}-{a}-{b}-{c}",
            f"+7({code}){a}{b}{c}",
        ]
    )


def write_clients(path: Path, rows: int, seed: int = 3) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(HEADER)
        for number in range(1, rows + 1):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            year, month, day = rng.randint(1950, 2005), rng.randint(1, 12), rng.randint(1, 28)
            birth = (
                f"{day:02d}.{month:02d}.{year}" if number % 2 else f"{year}-{month:02d}-{day:02d}"
            )
            spent = rng.randint(0, 500_000) / 100
            money = (
                f"{spent:,.2f}".replace(",", " ").replace(".", ",") if number % 3 else f"{spent}"
            )
            writer.writerow(
                [
                    f"C{number:08d}",
                    first,
                    last,
                    f"User.{number}@{rng.choice(DOMAINS)}",
                    phone_text(rng),
                    birth,
                    f"2024-{month:02d}-{day:02d} {rng.randint(0, 23):02d}:{number % 60:02d}:00",
                    rng.choice(CITIES),
                    str(rng.randint(0, 200)),
                    money,
                    rng.choice(YES_NO),
                    rng.choice(TIERS),
                ]
            )


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def time_reader(path: Path) -> tuple[float, int]:
    start = time.perf_counter()
    reader = open_table(path)
    count = 0
    for batch in reader.batches(10_000):
        count += len(batch)
    return time.perf_counter() - start, count


def time_duckdb(path: Path) -> tuple[float, int]:
    start = time.perf_counter()
    connection = duckdb.connect()
    # Materialise every row, as the reader does, not just count the lines.
    connection.execute(
        "create table raw as select * from read_csv(?, all_varchar = true, header = true)",
        [str(path)],
    )
    count = connection.execute("select count(*) from raw").fetchone()[0]  # type: ignore[index]
    connection.close()
    return time.perf_counter() - start, int(count)


def time_reader_and_normalise(path: Path) -> tuple[float, int, int]:
    clear_caches()
    start = time.perf_counter()
    reader = open_table(path)
    normalise = RowNormalizer(FIELDS, NormalizeOptions(region="RU", dayfirst=True))
    columns = reader.columns
    accepted = rejected = 0
    for batch in reader.batches(10_000):
        for row in batch:
            _clean, errors = normalise(dict(zip(columns, row.values, strict=False)))
            if errors or row.problem:
                rejected += 1
            else:
                accepted += 1
    return time.perf_counter() - start, accepted, rejected


def time_distinct_normalise(path: Path) -> float:
    """The proposed design: DuckDB reads the file, Python normalises each column's distinct
    values once (the result would be joined back in SQL)."""
    clear_caches()
    start = time.perf_counter()
    connection = duckdb.connect()
    connection.execute(
        "create table raw as select * from read_csv(?, all_varchar = true, header = true)",
        [str(path)],
    )
    options = NormalizeOptions()
    for spec in FIELDS:
        normaliser = normalizer_for(spec, options)
        cursor = connection.execute(f'select distinct "{spec.name}" from raw')
        while chunk := cursor.fetchmany(100_000):
            for (value,) in chunk:
                normaliser(value)
    connection.close()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--csv", type=Path, help="reuse or keep the CSV at this path")
    parser.add_argument("--skip-normalise", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="herald-bench-import-") as folder:
        path = args.csv or Path(folder) / "clients.csv"
        write_seconds = 0.0
        if not path.exists():
            start = time.perf_counter()
            write_clients(path, args.rows)
            write_seconds = time.perf_counter() - start

        reader_seconds, reader_rows = time_reader(path)
        reader_peak = peak_rss_mb()
        duckdb_seconds, duckdb_rows = time_duckdb(path)
        figures: dict[str, object] = {
            "rows": args.rows,
            "columns": len(HEADER),
            "file_mb": round(path.stat().st_size / 1e6, 1),
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "machine": platform.machine(),
            "write_csv_s": round(write_seconds, 2),
            "duckdb_read_csv_s": round(duckdb_seconds, 2),
            "reader_s": round(reader_seconds, 2),
            "reader_rows_per_s": round(reader_rows / reader_seconds),
            "reader_over_duckdb": round(reader_seconds / duckdb_seconds, 2),
            "reader_peak_rss_mb": reader_peak,
            "rows_match": reader_rows == duckdb_rows == args.rows,
            "target_reader_s": 20,
            "target_reader_over_duckdb": 3,
        }
        if not args.skip_normalise:
            normalise_seconds, accepted, rejected = time_reader_and_normalise(path)
            figures.update(
                reader_and_normalise_s=round(normalise_seconds, 2),
                normalise_over_duckdb=round(normalise_seconds / duckdb_seconds, 2),
                accepted=accepted,
                rejected=rejected,
                duckdb_then_distinct_normalise_s=round(time_distinct_normalise(path), 2),
            )
        figures["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
