"""Every report mart holds what its .yml says, on DuckDB and on chdb: the mart's rows equal a
pandas reading of its description (tests.support.mart_reference) computed from the tables it
reads, on generated data with a few hand-made rows the generator never writes (complaints,
deferred and expired messages, a click with no campaign, Form Submitted events).

The home is the run's shared report home (tests.support.report_home: 500 profiles, seed 7,
the hand-made rows, materialised on both engines once for every xdist worker); this module
saves both engines' tables as Parquet and reads them with pandas.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.support.mart_reference import MART_REFERENCES, MartInputs
from tests.support.report_home import (
    COHORT_ON_DEMAND,
    HAND_CAMPAIGN,
    HAND_DAY,
    NEXT_DAY,
    ReportHome,
    export_parquet,
)

pytestmark = pytest.mark.slow

ENGINES = ("duckdb", "chdb")

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

# --- reading the shared report home -----------------------------------------------------------


@pytest.fixture(scope="session")
def exported(report_home: ReportHome, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of both engines' tables as Parquet, read from the shared report home (by
    subprocesses, side by side: this worker may hold another chdb path)."""
    root = tmp_path_factory.mktemp("report-marts")
    tables = [*INPUT_TABLES.values(), *MART_KEYS]
    with ThreadPoolExecutor(len(ENGINES)) as pool:
        outcomes = [
            pool.submit(export_parquet, report_home, engine, tables, root / engine)
            for engine in ENGINES
        ]
        for outcome in outcomes:
            outcome.result()
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
def snapshot(request: pytest.FixtureRequest, exported: Path, report_home: ReportHome) -> Snapshot:
    folder = exported / request.param
    inputs = MartInputs(**{name: read(folder, table) for name, table in INPUT_TABLES.items()})
    marts = {mart: read(folder, mart) for mart in MART_KEYS}
    output = report_home.materialize_output(request.param)
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
    on_demand = read(exported / snapshot.engine, COHORT_ON_DEMAND)
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
