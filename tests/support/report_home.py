"""One generated home for the report tests, built once per test run for every xdist worker.

`herald generate --profiles 500 --seed 7`, a few hand-made landing rows the generator never
writes (complaints, deferred and expired messages, a click with no campaign, Form Submitted
events), then `herald materialize` on DuckDB (the home's default warehouse file) and on chdb
(`chdb://<home>/ch`) over the same landing, the two runs side by side. The chdb run has a
Dagster home of its own (HERALD_HOME is a folder holding a link to the shared landing) and
writes its run record to the shared store.

The first worker to ask builds it under a file lock in the run's shared temporary folder; the
others wait for it (the `report_home` fixture of tests/conftest.py). Tests only read the
warehouses and keep their users in stores of their own. A worker must not open the chdb
warehouse in-process (chdb holds one data path per process, and tests/conftest.py has a session
path of its own): read it through a subprocess (`run_herald(..., env=home.chdb_env)`, or
`export_parquet`) while holding `chdb_held()`, since only one process at a time may open it.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.support.cli import REPO, run_herald

PROFILES = 500
SEED = 7
ENGINES = ("duckdb", "chdb")
MATERIALIZE_LIMIT_S = 1200

# --- hand-made rows ---------------------------------------------------------------------------

HAND_CAMPAIGN = "cmp-handmade"
HAND_DAY = pd.Timestamp("2026-10-20")
NEXT_DAY = pd.Timestamp("2026-10-21")
DEFERRAL = {"smtp_code": 452, "smtp_status": "4.2.2", "diagnostic": "452 4.2.2 Mailbox full"}


def at(day: pd.Timestamp, time: str) -> datetime:
    return pd.Timestamp(f"{day.date()} {time}").to_pydatetime()


def hand_made_message_events(generated: pa.Table) -> pa.Table:
    """Messages of one campaign sent on HAND_DAY: one delivered, opened and reported as spam
    the next day; one deferred twice and expired the next day; an SMS deferred by its carrier;
    a push with no sent event, delivered the next day and opened the day after; and an email of
    no campaign clicked once."""
    rows = generated.to_pylist()
    email = next(r for r in rows if r["channel"] == "email" and r["event_type"] == "sent")
    sms = next(r for r in rows if r["channel"] == "sms" and r["event_type"] == "sent")
    push = next(r for r in rows if r["channel"] == "push" and r["event_type"] == "sent")
    blank = dict.fromkeys(generated.schema.names)

    def event(
        template: dict[str, Any], message: str, kind: str, when: datetime, **more: Any
    ) -> dict[str, Any]:
        return {
            **blank,
            **{k: template[k] for k in ("channel", "recipient", "contact_id", "provider")},
            "event_id": f"hand-{message}-{kind}-{when:%d%H%M}",
            "message_id": f"hand-{message}",
            "campaign_id": HAND_CAMPAIGN,
            "event_type": kind,
            "occurred_at": when,
            **more,
        }

    made = [
        event(email, "complained", "sent", at(HAND_DAY, "09:00")),
        event(email, "complained", "delivered", at(HAND_DAY, "09:01")),
        event(email, "complained", "opened", at(HAND_DAY, "10:00")),
        event(email, "complained", "complained", at(NEXT_DAY, "08:00")),
        event(email, "expired", "sent", at(HAND_DAY, "09:00")),
        event(email, "expired", "deferred", at(HAND_DAY, "09:01"), **DEFERRAL),
        event(email, "expired", "deferred", at(HAND_DAY, "10:01"), **DEFERRAL),
        event(email, "expired", "expired", at(NEXT_DAY, "09:01")),
        event(sms, "sms", "sent", at(HAND_DAY, "09:00")),
        event(sms, "sms", "deferred", at(HAND_DAY, "09:05"), diagnostic="carrier busy"),
        event(push, "unsent", "delivered", at(NEXT_DAY, "10:00")),
        event(push, "unsent", "opened", at(NEXT_DAY + pd.Timedelta(days=1), "08:00")),
        event(email, "orphan", "sent", at(HAND_DAY, "09:00"), campaign_id=None),
        event(email, "orphan", "delivered", at(HAND_DAY, "09:01"), campaign_id=None),
        event(
            email,
            "orphan",
            "clicked",
            at(HAND_DAY, "11:00"),
            campaign_id=None,
            url="https://example.com/contact",
            link_position=1,
        ),
    ]
    return pa.Table.from_pylist(made, schema=generated.schema)


def hand_made_web_events(generated: pa.Table) -> pa.Table:
    """Form Submitted events on HAND_DAY: the contact form three times by two visitors (one
    twice), and once with no form id by a visitor known only by user id."""
    blank = dict.fromkeys(generated.schema.names)

    def submitted(
        number: int, anonymous: str | None, user: str | None, form: str | None
    ) -> dict[str, Any]:
        when = at(HAND_DAY, f"12:{number:02d}")
        return {
            **blank,
            "message_id": f"hand-form-{number}",
            "type": "track",
            "event": "Form Submitted",
            "anonymous_id": anonymous,
            "user_id": user,
            "session_id": f"hand-session-{anonymous or user}",
            "timestamp": when,
            "received_at": when,
            "url": "polka://contact",
            "path": "/contact",
            "properties": '{"form_id": "contact"}' if form else "{}",
        }

    made = [
        submitted(1, "hand-visitor-1", None, "contact"),
        submitted(2, "hand-visitor-1", None, "contact"),
        submitted(3, "hand-visitor-2", None, "contact"),
        submitted(4, None, "hand-user-3", None),
    ]
    return pa.Table.from_pylist(made, schema=generated.schema)


def add_hand_made_rows(landing: Path) -> None:
    for folder, make in (
        ("message_events", hand_made_message_events),
        ("web_events", hand_made_web_events),
    ):
        [generated] = sorted((landing / folder).glob("gen-*.parquet"))
        pq.write_table(make(pq.read_table(generated)), landing / folder / "hand-00000.parquet")


# --- the shared home --------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportHome:
    """The generated home (HERALD_HOME): landing, store, DuckDB warehouse and chdb folder."""

    home: Path

    @property
    def duckdb_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def chdb_path(self) -> Path:
        return self.home / "ch"

    @property
    def store_url(self) -> str:
        return f"sqlite:///{self.home / 'herald.sqlite'}"

    def warehouse_url(self, engine: str) -> str:
        return f"chdb://{self.chdb_path}" if engine == "chdb" else f"duckdb://{self.duckdb_path}"

    @property
    def chdb_env(self) -> dict[str, str]:
        """Environment for a `herald` subprocess that reads the chdb warehouse."""
        return {"HERALD_WAREHOUSE": self.warehouse_url("chdb")}

    def materialize_output(self, engine: str) -> str:
        return (self.home.parent / f"materialize-{engine}.log").read_text()

    @contextmanager
    def chdb_held(self) -> Iterator[None]:
        """Hold this while a subprocess reads the chdb warehouse: chdb lets one process at a
        time open a data path ("Cannot lock file .../status"), whichever worker it serves."""
        with exclusive(self.home.parent / "chdb.lock"):
            yield


@contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_root(factory: pytest.TempPathFactory) -> Path:
    """The temporary folder every xdist worker of this run shares (the session's own when
    there are no workers)."""
    base = factory.getbasetemp()
    return base.parent if "PYTEST_XDIST_WORKER" in os.environ else base


def _herald_environment(home: Path, env: dict[str, str]) -> dict[str, str]:
    environment = {**os.environ, "HERALD_HOME": str(home)}
    for name in ("HERALD_WAREHOUSE", "HERALD_DATABASE"):
        environment.pop(name, None)
    return {**environment, **env}


def build(root: Path) -> ReportHome:
    """Generate, add the hand-made rows, materialise on both engines (subprocesses, as a user
    would); each run's output goes to root/materialize-<engine>.log."""
    shared = ReportHome(root / "home")
    generated = run_herald(
        ["generate", "--profiles", str(PROFILES), "--seed", str(SEED)], shared.home
    )
    assert generated.returncode == 0, generated.stderr
    add_hand_made_rows(shared.home / "landing")
    # The chdb run gets a HERALD_HOME of its own (so its own Dagster instance) that sees the
    # shared landing; it writes to the shared store and the shared home's chdb folder.
    chdb_home = root / "chdb-run"
    chdb_home.mkdir()
    (chdb_home / "landing").symlink_to(shared.home / "landing")
    runs = {
        "duckdb": (shared.home, {}),
        "chdb": (
            chdb_home,
            {"HERALD_WAREHOUSE": shared.warehouse_url("chdb"), "HERALD_DATABASE": shared.store_url},
        ),
    }
    started: dict[str, subprocess.Popen[str]] = {}
    logs = [(root / f"materialize-{engine}.log").open("w") for engine in runs]
    try:
        for (engine, (home, env)), log in zip(runs.items(), logs, strict=True):
            started[engine] = subprocess.Popen(
                [sys.executable, "-m", "herald.cli", "materialize"],
                env=_herald_environment(home, env),
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )
        for engine, process in started.items():
            process.wait(timeout=MATERIALIZE_LIMIT_S)
            assert process.returncode == 0, (
                f"herald materialize on {engine} failed:\n"
                + shared.materialize_output(engine)[-3000:]
            )
    finally:
        for process in started.values():
            if process.poll() is None:
                process.kill()
                process.wait()
        for log in logs:
            log.close()
    return shared


def shared_report_home(factory: pytest.TempPathFactory) -> ReportHome:
    """The report home of this test run, built by the first worker that asks for it."""
    root = run_root(factory) / "report-home"
    root.mkdir(exist_ok=True)
    with exclusive(root.parent / "report-home.lock"):
        if not (root / "done").exists():
            assert not (root / "home").exists(), f"an earlier build failed: see {root}"
            build(root)
            (root / "done").touch()
    return ReportHome(root / "home")


# --- reading a warehouse into Parquet, in a subprocess ----------------------------------------

COHORT_ON_DEMAND = "cohort_on_demand"


def export_parquet(home: ReportHome, engine: str, tables: list[str], folder: Path) -> None:
    """Every table of `tables` as folder/<table>.parquet, and `herald report cohort` with its
    defaults as folder/cohort_on_demand.parquet, read by a subprocess (which may open chdb)."""
    folder.mkdir(parents=True)
    with home.chdb_held() if engine == "chdb" else nullcontext():
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.support.report_home",
                home.warehouse_url(engine),
                str(folder),
                json.dumps(tables),
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
            env=_herald_environment(home.home, {}),
            timeout=600,
        )
    assert completed.returncode == 0, completed.stderr[-3000:]


def _export(url: str, folder: Path, tables: list[str]) -> None:
    from herald.reports.cohort import cohort_retention
    from herald.settings import WarehouseURL
    from herald.warehouse import open_warehouse

    warehouse = open_warehouse(WarehouseURL.parse(url, folder), read_only=True)
    try:
        for table in tables:
            data = warehouse.query_arrow(f"select * from {table}")
            pq.write_table(data, folder / f"{table}.parquet")
        cohorts = [asdict(row) for row in cohort_retention(warehouse)]  # the defaults
        pq.write_table(pa.Table.from_pylist(cohorts), folder / f"{COHORT_ON_DEMAND}.parquet")
    finally:
        warehouse.close()


if __name__ == "__main__":
    _export(sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3]))
