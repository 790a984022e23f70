"""Audience snapshots: the immutable list of recipients a run sends to, as a Parquet file.

    path = snapshot_segment(warehouse, "vip", "shop", run_id, home=settings.home)
    rows = snapshot_rows(path)              # how many recipients it froze

A snapshot is written whole and renamed into place under `HERALD_HOME/audiences/<run>.parquet`
(rule 1: what a service consumes is an immutable snapshot named by its run): `profile_id`
first, then the profile fields (the address columns among them), one row per member. The
launcher streams it into the `sends` queue; nothing changes it afterwards, so a run resumed
after a crash sends to exactly the audience it started with.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from herald.errors import HeraldError
from herald.segments.export import read_segment_members
from herald.warehouse import Warehouse

AUDIENCES_DIR = "audiences"


class AudienceError(HeraldError):
    """A snapshot that cannot be written or read, or has no profile_id column."""


def snapshot_path(home: Path, run_id: str) -> Path:
    return home / AUDIENCES_DIR / f"{run_id}.parquet"


def write_snapshot(table: pa.Table, path: Path) -> int:
    """Write recipients (a table with `profile_id` first) whole, then rename into place."""
    if "profile_id" not in table.column_names:
        raise AudienceError("an audience snapshot needs a profile_id column")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    pq.write_table(table, partial, compression="zstd")
    with open(partial, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, path)
    return table.num_rows


def snapshot_segment(
    warehouse: Warehouse,
    segment: str,
    database: str,
    run_id: str,
    *,
    home: Path,
    fields: list[str] | None = None,
) -> Path:
    """Freeze a segment's members (with their profile fields) for a run."""
    members = read_segment_members(warehouse, segment, database, fields)
    path = snapshot_path(home, run_id)
    write_snapshot(members, path)
    return path


def snapshot_rows(path: Path) -> int:
    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except (OSError, pa.ArrowException) as exc:
        raise AudienceError(f"cannot read the audience snapshot {path}: {exc}") from None
