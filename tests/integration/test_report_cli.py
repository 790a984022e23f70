"""`herald report funnel|cohort` as a user runs them, and the same reports through the JSON
API, over the run's shared report home (tests.support.report_home: 500 persons, materialised
on DuckDB and on chdb): tables, JSON and CSV out; the same figures on both engines; one-line
errors for bad input.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from herald.settings import load_settings
from tests.support.cli import run_herald
from tests.support.report_home import ReportHome
from ui.api import create_app

FUNNEL = [
    "--step",
    "Product Viewed",
    "--step",
    "Product Added",
    "--step",
    "Checkout Started",
    "--step",
    "Order Completed",
    "--window",
    "7d",
]


class Home:
    """`herald` as a user runs it on the shared report home; `env=home.chdb` reads chdb."""

    def __init__(self, shared: ReportHome) -> None:
        self.shared = shared
        self.home = shared.home
        self.chdb = shared.chdb_env

    def run(self, *args: str, env: dict[str, str] | None = None) -> Any:
        if env and env.get("HERALD_WAREHOUSE", "").startswith("chdb:"):
            with self.shared.chdb_held():
                return run_herald(list(args), self.home, env=env)
        return run_herald(list(args), self.home, env=env)

    def ok(self, *args: str, env: dict[str, str] | None = None) -> str:
        completed = self.run(*args, env=env)
        assert completed.returncode == 0, completed.stderr[-3000:]
        return str(completed.stdout)

    def json(self, *args: str, env: dict[str, str] | None = None) -> Any:
        return json.loads(self.ok(*args, "--format", "json", env=env))

    def fails(self, *args: str) -> str:
        completed = self.run(*args)
        assert completed.returncode != 0
        assert "Traceback" not in completed.stderr
        return str(completed.stderr)


@pytest.fixture(scope="module")
def home(report_home: ReportHome) -> Home:
    return Home(report_home)


def without_timing(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "seconds"}


def test_a_funnel_narrows_step_by_step(home: Home) -> None:
    document = home.json("report", "funnel", *FUNNEL)
    entered = [row["entered"] for row in document["rows"]]
    assert document["database"] == "customers"
    assert entered[0] > 0
    assert entered == sorted(entered, reverse=True)
    assert [row["event"] for row in document["rows"]][-1] == "Order Completed"


def test_funnels_and_cohorts_are_the_same_on_duckdb_and_chdb(home: Home) -> None:
    for order in ("ordered", "strict", "any"):
        args = ("report", "funnel", *FUNNEL, "--order", order, "--breakdown", "category")
        duckdb = without_timing(home.json(*args))
        chdb = without_timing(home.json(*args, env=home.chdb))
        assert duckdb == chdb, order
    for by, period in (("first_order", "month"), ("first_seen", "week"), ("sign_up", "day")):
        args = ("report", "cohort", "--by", by, "--period", period)
        assert home.json(*args)["rows"] == home.json(*args, env=home.chdb)["rows"]


def test_step_filters_and_csv(home: Home) -> None:
    out = home.ok(
        "report", "funnel",
        "--step", "Product Viewed[category=Smartphones|Laptops|Headphones|Tablets]",
        "--step", "Order Completed",
        "--window", "30d", "--since", "2024-01-01", "--until", "2026-11-01",
        "--format", "csv",
    )  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [row["step"] for row in rows] == ["1", "2"]
    everyone = home.json("report", "funnel", "--step", "Product Viewed", "--window", "30d")
    assert 0 < int(rows[0]["entered"]) <= everyone["rows"][0]["entered"]


def test_a_table_is_printed_by_default(home: Home) -> None:
    out = home.ok("report", "funnel", *FUNNEL, "--breakdown", "category")
    assert out.splitlines()[0].split(" | ")[0].strip() == "breakdown"
    assert "Checkout Started" in out


def test_the_default_cohort_starts_every_cohort_at_full_retention(home: Home) -> None:
    rows = home.json("report", "cohort")["rows"]
    assert rows
    assert all(row["retention"] == 1.0 for row in rows if row["period_index"] == 0)
    weekly = home.json("report", "cohort", "--period", "week", "--event", "Page Viewed")["rows"]
    assert all(row["active"] <= row["cohort_size"] for row in weekly)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "funnel", "--step", "Page Viewed", "--window", "7x"], "not a duration"),
        (["report", "funnel", "--step", "Page Viewed[colour=red]"], "not an event property"),
        (["report", "funnel", "--step", "Page Viewed[colour]"], "is not EVENT or EVENT["),
        (["report", "funnel", "--step", "A", "--db", "nope"], "no profile database 'nope'"),
        (["report", "funnel", "--step", "A", "--since", "yesterday"], "is not a date like"),
        (["report", "cohort", "--event", " "], "the activity is empty"),
    ],
)
def test_bad_input_is_one_line(home: Home, args: list[str], message: str) -> None:
    stderr = home.fails(*args)
    assert message in stderr
    assert len(stderr.strip().splitlines()) == 1


# --- the JSON API -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(home: Home) -> Iterator[TestClient]:
    with pytest.MonkeyPatch.context() as patch:
        for name in ("HERALD_WAREHOUSE", "HERALD_DATABASE", "HERALD_API_TOKEN"):
            patch.delenv(name, raising=False)
        patch.setenv("HERALD_HOME", str(home.home))
        yield TestClient(create_app(load_settings()))


def test_the_api_funnel_is_the_cli_funnel(home: Home, client: TestClient) -> None:
    body = {
        "steps": [
            {"event": "Product Viewed", "where": [{"property": "price", "op": ">=", "value": 0}]},
            "Product Added",
            {"event": "Checkout Started"},
            "Order Completed",
        ],
        "window": "7d",
        "order": "ordered",
        "breakdown": "category",
    }
    filtered = client.post("/api/v1/reports/funnel", json=body)
    assert filtered.status_code == 200, filtered.text
    assert [row["event"] for row in filtered.json()["rows"][:4]] == [
        "Product Viewed",
        "Product Added",
        "Checkout Started",
        "Order Completed",
    ]
    as_text = {**body, "steps": ["Product Viewed", "Product Added", "Checkout Started",
                                 "Order Completed"]}  # fmt: skip
    response = client.post("/api/v1/reports/funnel", json=as_text)
    assert response.status_code == 200, response.text
    cli = home.json("report", "funnel", *FUNNEL, "--breakdown", "category")
    assert without_timing(response.json()) == without_timing(cli)


def test_the_api_cohort(home: Home, client: TestClient) -> None:
    response = client.get("/api/v1/reports/cohort", params={"by": "first_seen", "period": "week"})
    assert response.status_code == 200, response.text
    cli = home.json("report", "cohort", "--by", "first_seen", "--period", "week")
    assert response.json()["rows"] == cli["rows"]


@pytest.mark.parametrize(
    ("method", "url", "body", "message"),
    [
        ("post", "/api/v1/reports/funnel", {"steps": [], "window": "7d"}, "at least one step"),
        ("post", "/api/v1/reports/funnel", {"steps": ["A"], "window": "7x"}, "not a duration"),
        ("post", "/api/v1/reports/funnel", {"steps": ["A[colour=red]"]}, "not an event property"),
        ("post", "/api/v1/reports/funnel", {"steps": ["A"], "order": "sideways"}, "not one of"),
        (
            "post",
            "/api/v1/reports/funnel",
            {"steps": [{"event": "A", "where": [{"property": "price", "op": ">", "value": []}]}]},
            "not a value for greater",
        ),
        ("post", "/api/v1/reports/funnel", {"window": "7d"}, "steps"),
        ("post", "/api/v1/reports/funnel", {"steps": "A"}, "steps"),
        ("get", "/api/v1/reports/cohort?by=last_order", None, "not one of"),
        ("get", "/api/v1/reports/cohort?period=year", None, "not one of"),
        ("get", "/api/v1/reports/cohort?since=soon", None, "not a date like"),
    ],
)
def test_bad_api_input_is_a_422_with_one_line(
    client: TestClient, method: str, url: str, body: Any, message: str
) -> None:
    response = client.post(url, json=body) if method == "post" else client.get(url)
    assert response.status_code == 422, response.text
    text = json.dumps(response.json())
    assert message in text
