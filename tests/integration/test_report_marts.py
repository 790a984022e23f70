"""Every report mart holds what its .yml says, on DuckDB and on chdb: the mart's rows equal a
pandas reading of its description (tests.support.mart_reference) computed from the tables it
reads, on generated data with a few hand-made rows the generator never writes (complaints,
deferred and expired messages, a click with no campaign, Form Submitted events).

One home per engine is generated and materialised once per run: the first xdist worker to get
here builds both engines side by side and saves the tables as Parquet; the other waits for it.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from herald.reports.cohort import cohort_retention
from herald.settings import WarehouseURL
from herald.warehouse import open_warehouse
from tests.support.cli import run_herald
from tests.support.mart_reference import MART_REFERENCES, MartInputs

pytestmark = pytest.mark.slow

ENGINES = ("duckdb", "chdb")
PROFILES = 500
SEED = 7

INPUT_TABLES = {
    "events": "events",
    "message_events": "message_events",
    "orders": "orders",
    "devices": "stg_web__devices",
    "signups": "stg_web__signups",
    "profiles": "profiles",
    "profile_events": "profile_events",
    "profile_orders": "profile_orders",
    "profile_message_events": "profile_message_events",
    "profile_subscription_states": "profile_subscription_states",
}

# The columns that identify a row of each mart; the others are measures.
MART_KEYS = {
    "report_communications_daily": ["report_date", "channel", "campaign_id"],
    "report_traffic_daily": [
        "report_date",
        "traffic_source",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "landing_page",
        "device",
    ],
    "report_client_growth": ["database", "grain", "period_start", "source"],
    "report_cohort_retention": ["database", "cohort", "period_index"],
    "report_ltv_cohort": ["database", "cohort", "months_since_first_order"],
    "report_goals_daily": ["report_date", "goal", "traffic_source", "utm_source", "utm_campaign"],
    "report_bounces": [
        "report_date",
        "campaign_id",
        "channel",
        "bounce_type",
        "status_class",
        "smtp_status",
        "status_subject",
        "recipient_domain",
        "mailbox_provider",
    ],
    "report_non_deliveries": [
        "report_date",
        "channel",
        "campaign_id",
        "outcome",
        "smtp_status",
        "reason",
        "provider",
    ],
    "report_email_click_map": ["campaign_id", "url", "link_position"],
    "report_form_submissions_daily": ["report_date", "form"],
}

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


# --- building and reading the warehouses ------------------------------------------------------


def warehouse_url(engine: str, home: Path) -> str:
    return f"chdb://{home / 'ch'}" if engine == "chdb" else f"duckdb://{home / 'warehouse.duckdb'}"


def build(engine: str, home: Path) -> None:
    """Generate, add the hand-made rows, materialise (a subprocess, as a user would)."""
    env = {"HERALD_WAREHOUSE": warehouse_url(engine, home)}
    generated = run_herald(
        ["generate", "--profiles", str(PROFILES), "--seed", str(SEED)], home, env=env
    )
    assert generated.returncode == 0, generated.stderr
    add_hand_made_rows(home / "landing")
    materialized = run_herald(["materialize"], home, env=env)
    (home / "materialize.log").write_text(materialized.stdout + materialized.stderr)
    assert materialized.returncode == 0, materialized.stdout + materialized.stderr


def export(engine: str, home: Path, folder: Path) -> None:
    """Every input table and mart as Parquet, read through the warehouse interface."""
    url = WarehouseURL.parse(warehouse_url(engine, home), home)
    folder.mkdir(parents=True)
    warehouse = open_warehouse(url, read_only=True)
    try:
        for table in [*INPUT_TABLES.values(), *MART_KEYS]:
            pq.write_table(
                warehouse.query_arrow(f"select * from {table}"), folder / f"{table}.parquet"
            )
        cohorts = [asdict(row) for row in cohort_retention(warehouse)]  # the defaults
        pq.write_table(pa.Table.from_pylist(cohorts), folder / "cohort_on_demand.parquet")
    finally:
        warehouse.close()


def build_and_export(engine: str, root: Path) -> None:
    home = root / f"home-{engine}"
    home.mkdir()
    build(engine, home)
    export(engine, home, root / engine)


@contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of both engines' tables, built once for all xdist workers of this run."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if "PYTEST_XDIST_WORKER" in os.environ else base) / "report-marts"
    root.mkdir(exist_ok=True)
    with exclusive(root / "lock"):
        if not (root / "done").exists():
            for engine in ENGINES:
                for leftover in (root / f"home-{engine}", root / engine):
                    assert not leftover.exists(), f"an earlier build failed: see {leftover}"
            with ThreadPoolExecutor(len(ENGINES)) as pool:
                for outcome in [pool.submit(build_and_export, e, root) for e in ENGINES]:
                    outcome.result()
            (root / "done").touch()
    return root


def normalised(frame: pd.DataFrame) -> pd.DataFrame:
    """Times as naive UTC, dates as midnight datetimes and unsigned counts as int64, whichever
    engine wrote the frame."""
    frame = frame.copy()
    for column in frame.columns:
        values = frame[column]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            frame[column] = values.dt.tz_convert("UTC").dt.tz_localize(None).astype("M8[us]")
        elif pd.api.types.is_datetime64_dtype(values.dtype):
            frame[column] = values.astype("M8[us]")
        elif pd.api.types.is_unsigned_integer_dtype(values.dtype):
            frame[column] = values.astype("int64")
    return frame


def read(folder: Path, table: str) -> pd.DataFrame:
    """A table as pandas, its dates (date32) as midnight datetimes and DuckDB's HUGEINT sums
    (decimals of scale 0) as int64."""
    data = pq.read_table(folder / f"{table}.parquet")
    for index, field in enumerate(data.schema):
        if pa.types.is_date(field.type):
            wanted: pa.DataType = pa.timestamp("us")
        elif pa.types.is_decimal(field.type):
            wanted = pa.int64() if field.type.scale == 0 else pa.float64()
        else:
            continue
        data = data.set_column(index, field.name, data[field.name].cast(wanted))
    return normalised(data.to_pandas())


@dataclass(frozen=True, repr=False)
class Snapshot:
    """One engine's tables, read once per module."""

    engine: str
    inputs: MartInputs
    marts: dict[str, pd.DataFrame]
    materialize_output: str

    def __repr__(self) -> str:
        return f"Snapshot({self.engine})"


@pytest.fixture(scope="module", params=ENGINES)
def snapshot(request: pytest.FixtureRequest, exported: Path) -> Snapshot:
    folder = exported / request.param
    inputs = MartInputs(**{name: read(folder, table) for name, table in INPUT_TABLES.items()})
    marts = {mart: read(folder, mart) for mart in MART_KEYS}
    output = (exported / f"home-{request.param}" / "materialize.log").read_text()
    return Snapshot(request.param, inputs, marts, output)


# --- comparing --------------------------------------------------------------------------------


def assert_same_rows(mart: pd.DataFrame, expected: pd.DataFrame, keys: list[str]) -> None:
    """The same rows by key; integers equal, floats within 1e-9 relative (NULL = NaN)."""
    assert sorted(mart.columns) == sorted(expected.columns)
    expected = normalised(expected[list(mart.columns)])
    for frame, name in ((mart, "mart"), (expected, "reference")):
        duplicated = frame[frame.duplicated(keys, keep=False)]
        assert duplicated.empty, f"{name} repeats keys:\n{duplicated.to_string()}"
    mart = mart.sort_values(keys).reset_index(drop=True)
    expected = expected.sort_values(keys).reset_index(drop=True)
    both = mart.merge(expected, on=keys, how="outer", suffixes=("", "_expected"), indicator=True)
    problems = [both[both["_merge"] != "both"]]
    matched = both[both["_merge"] == "both"]
    for column in (c for c in mart.columns if c not in keys):
        got, want = matched[column], matched[f"{column}_expected"]
        if pd.api.types.is_float_dtype(mart[column]) or pd.api.types.is_float_dtype(
            expected[column]
        ):
            same = np.isclose(
                got.astype(float), want.astype(float), rtol=1e-9, atol=0.0, equal_nan=True
            )
        else:
            same = got.astype("int64").to_numpy() == want.astype("int64").to_numpy()
        problems.append(matched[~same].assign(_column=column))
    wrong = pd.concat(problems)
    assert wrong.empty, (
        f"{len(wrong)} of {len(both)} rows differ (left_only: only in the mart, right_only:"
        f" only in the reference):\n{wrong.head(20).to_string()}"
    )


@pytest.mark.parametrize("mart", list(MART_KEYS))
def test_the_mart_holds_what_its_description_says(snapshot: Snapshot, mart: str) -> None:
    expected = MART_REFERENCES[mart](snapshot.inputs)
    assert not expected.empty
    assert_same_rows(snapshot.marts[mart], expected, MART_KEYS[mart])


# --- properties that hold whatever the data -----------------------------------------------------


def test_the_default_cohort_on_demand_is_the_retention_mart(
    snapshot: Snapshot, exported: Path
) -> None:
    """`herald report cohort` with its defaults gives the mart's cells that have activity (the
    mart also keeps the empty cells, with active 0)."""
    on_demand = read(exported / snapshot.engine, "cohort_on_demand")
    mart = snapshot.marts["report_cohort_retention"]
    assert not on_demand.empty
    active = mart[mart["active"] > 0][list(on_demand.columns)]
    assert_same_rows(active, on_demand, ["cohort", "period_index"])
    assert (mart[mart["active"] == 0]["retention"] == 0).all()


def test_communication_rates_are_shares(snapshot: Snapshot) -> None:
    """On generated messages, which are always sent, then delivered before any engagement (the
    hand-made ones include a message delivered with no sent event, on purpose)."""
    daily = snapshot.marts["report_communications_daily"]
    daily = daily[daily["campaign_id"].str.startswith("cmp-0", na=False)]
    assert len(daily) > 50
    assert (daily["delivered"] <= daily["sent"]).all()
    assert (daily["opened_unique"] <= daily["delivered"]).all()
    assert (daily["clicked_unique"] <= daily["clicked_total"]).all()
    rates = daily[
        ["delivery_rate", "open_rate", "click_rate", "unsubscribe_rate", "complaint_rate"]
    ]
    shares = rates.isna() | ((rates >= 0.0) & (rates <= 1.0))
    assert shares.all(axis=None), daily[~shares.all(axis=1)].to_string()


def test_every_cohort_is_whole_in_its_first_month(snapshot: Snapshot) -> None:
    retention = snapshot.marts["report_cohort_retention"]
    first_months = retention[retention["period_index"] == 0]
    assert len(first_months) == retention[["database", "cohort"]].drop_duplicates().shape[0]
    assert (first_months["retention"] == 1.0).all()
    assert (first_months["active"] == first_months["cohort_size"]).all()


def test_lifetime_value_never_falls(snapshot: Snapshot) -> None:
    ltv = snapshot.marts["report_ltv_cohort"].sort_values(
        ["database", "cohort", "months_since_first_order"]
    )
    for _, cohort in ltv.groupby(["database", "cohort"]):
        assert cohort["cumulative_revenue"].is_monotonic_increasing
        assert cohort["cumulative_orders"].is_monotonic_increasing
        assert cohort["months_since_first_order"].tolist() == list(range(len(cohort)))


@pytest.mark.parametrize("grain", ["day", "week", "month"])
def test_every_profile_is_new_once(snapshot: Snapshot, grain: str) -> None:
    growth = snapshot.marts["report_client_growth"]
    new = growth[growth["grain"] == grain].groupby("database")["new_profiles"].sum()
    profiles = snapshot.inputs.profiles.groupby("database").size()
    pd.testing.assert_series_equal(new, profiles, check_names=False)


def test_every_bounce_is_counted_once(snapshot: Snapshot) -> None:
    events = snapshot.inputs.message_events
    bounced = events[events["event_type"] == "bounced"]
    report = snapshot.marts["report_bounces"]
    assert len(bounced) > 0
    assert report["bounces"].sum() == len(bounced)
    per_day = bounced.groupby(bounced["occurred_at"].dt.floor("D")).size()
    pd.testing.assert_series_equal(
        report.groupby("report_date")["bounces"].sum(), per_day, check_names=False
    )


def test_every_session_is_counted_once(snapshot: Snapshot) -> None:
    events = snapshot.inputs.events
    traffic = snapshot.marts["report_traffic_daily"]
    assert traffic["sessions"].sum() == events["session_id"].nunique()
    assert (
        traffic["page_views"].sum()
        == (events["session_id"].notna() & (events["event_type"] == "page")).sum()
    )


# --- the hand-made rows -----------------------------------------------------------------------


def rows_of(frame: pd.DataFrame, **equal: Any) -> pd.DataFrame:
    chosen = frame
    for column, value in equal.items():
        chosen = chosen[chosen[column] == value]
    return chosen


def test_the_hand_made_rows_pass_every_data_check(snapshot: Snapshot) -> None:
    failed = [line for line in snapshot.materialize_output.splitlines() if "failed:" in line]
    assert failed == []


def test_a_complaint_counts_on_the_day_its_message_was_sent(snapshot: Snapshot) -> None:
    daily = rows_of(snapshot.marts["report_communications_daily"], campaign_id=HAND_CAMPAIGN)
    email = rows_of(daily, channel="email")
    assert email["report_date"].tolist() == [HAND_DAY]
    [row] = email.to_dict("records")
    assert (row["sent"], row["delivered"], row["opened_unique"], row["complaints"]) == (2, 1, 1, 1)
    assert row["complaint_rate"] == 1.0
    assert row["delivery_rate"] == 0.5


def test_a_message_never_sent_counts_on_the_day_of_its_first_event(snapshot: Snapshot) -> None:
    daily = rows_of(snapshot.marts["report_communications_daily"], campaign_id=HAND_CAMPAIGN)
    [row] = rows_of(daily, channel="push").to_dict("records")
    assert row["report_date"] == NEXT_DAY
    assert (row["sent"], row["delivered"], row["opened_unique"]) == (0, 1, 1)
    assert np.isnan(row["delivery_rate"])


def test_deferred_and_expired_messages_are_non_deliveries(snapshot: Snapshot) -> None:
    report = rows_of(snapshot.marts["report_non_deliveries"], campaign_id=HAND_CAMPAIGN)
    found = {
        (row.report_date, row.channel, row.outcome, row.smtp_status, row.reason): (
            row.events,
            row.messages,
        )
        for row in report.itertuples()
    }
    assert found == {
        (HAND_DAY, "email", "deferred", "4.2.2", "452 4.2.2 Mailbox full"): (2, 1),
        (NEXT_DAY, "email", "expired", "", "unknown"): (1, 1),
        (HAND_DAY, "sms", "deferred", "", "carrier busy"): (1, 1),
    }


def test_form_submitted_events_count_per_form(snapshot: Snapshot) -> None:
    forms = rows_of(snapshot.marts["report_form_submissions_daily"], report_date=HAND_DAY)
    found = {row.form: (row.submissions, row.visitors) for row in forms.itertuples()}
    assert found["contact"] == (3, 2)
    assert found[""] == (1, 1)


def test_clicks_of_no_campaign_are_shares_of_their_own(snapshot: Snapshot) -> None:
    links = rows_of(snapshot.marts["report_email_click_map"], url="https://example.com/contact")
    [row] = links.to_dict("records")
    assert (row["campaign_id"], row["link_position"], row["clicks"]) == ("", 1, 1)
    assert row["share_of_clicks"] == 1.0
    assert row["click_rate"] == 1.0
