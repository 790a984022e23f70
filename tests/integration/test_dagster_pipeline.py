"""The Dagster code location loads, and materialising it builds every asset with green checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from herald.settings import load_settings
from herald.store import create_store_engine, loaded_files, recent_runs
from pipelines.definitions import build_definitions
from pipelines.run import materialize
from tests.fixtures.landing import write_landing

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def herald_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    write_landing(home / "landing")
    monkeypatch.setenv("HERALD_HOME", str(home))
    monkeypatch.delenv("HERALD_WAREHOUSE", raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "unused"))
    return home


def test_definitions_are_loadable(herald_home: Path) -> None:
    defs = build_definitions(load_settings())
    dg.Definitions.validate_loadable(defs)
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {
        "raw_web_events",
        "stg_web__events",
        "events",
        "orders",
        "order_items",
        "message_events",
    } <= keys


def test_each_model_asset_shows_its_sql_and_engine(herald_home: Path) -> None:
    defs = build_definitions(load_settings())
    spec = next(
        spec for spec in defs.resolve_all_asset_specs() if spec.key.to_user_string() == "orders"
    )
    assert "duckdb" in spec.kinds and "sql" in spec.kinds
    assert spec.group_name == "marts"
    assert 'from "order_items"' in spec.metadata["sql"].value
    assert {dep.asset_key.to_user_string() for dep in spec.deps} >= {
        "stg_shop__orders",
        "order_items",
    }


def test_materialize_builds_everything_on_a_temporary_duckdb(herald_home: Path) -> None:
    outcome = materialize(load_settings())
    assert outcome.success
    by_name = {asset.name: asset for asset in outcome.assets}
    assert by_name["events"].rows == 9
    assert by_name["orders"].rows == 2
    assert all(not asset.checks_failed for asset in outcome.assets)
    assert sum(asset.checks_passed for asset in outcome.assets) > 30
    assert (herald_home / "warehouse.duckdb").exists()
    assert (herald_home / "dagster" / "dagster.yaml").read_text().count("default_limit: 1") == 1
    # The run is in the instance the Dagster UI reads.
    with dg.DagsterInstance.from_config(str(herald_home / "dagster")) as instance:
        assert instance.get_run_by_id(outcome.run_id) is not None
    # ... and in the operational store, with the import history of every landing file.
    store = create_store_engine(load_settings().database_url)
    [run] = recent_runs(store)
    assert (run.kind, run.status, run.run_id) == ("materialize", "succeeded", outcome.run_id)
    assert loaded_files(store, "web_events") == {
        (path.name, f"{path.stat().st_size}-{path.stat().st_mtime_ns}")
        for path in (herald_home / "landing" / "web_events").iterdir()
    }


def test_a_selection_runs_only_those_assets(herald_home: Path) -> None:
    materialize(load_settings())
    outcome = materialize(load_settings(), "key:order_items+")
    # Downstream of order_items: orders, the inputs segments read, and the reports over them.
    assert sorted(asset.name for asset in outcome.assets) == [
        "order_items",
        "orders",
        "profile_ltv_predicted",
        "report_client_growth",
        "report_cohort_retention",
        "report_communications_daily",
        "report_ltv_cohort",
        "segment_inputs",
    ]


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "herald.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=REPO,
        timeout=300,
    )


def test_cli_materialize_then_query(herald_home: Path, tmp_path: Path) -> None:
    env = {"HERALD_HOME": str(herald_home)}
    built = run_cli("materialize", env=env)
    assert built.returncode == 0, built.stderr
    assert "events" in built.stdout and "9 rows" in built.stdout
    assert "succeeded" in built.stdout
    counted = run_cli("sql", "select count(*) as n from events", "--format", "csv", env=env)
    assert counted.returncode == 0, counted.stderr
    assert counted.stdout.splitlines() == ["n", "9"]
    as_json = run_cli("sql", "select order_id from orders order by 1", "-f", "json", env=env)
    assert json.loads(as_json.stdout) == [{"order_id": "O-1"}, {"order_id": "O-2"}]


def test_cli_errors_are_one_clear_line(herald_home: Path) -> None:
    env = {"HERALD_HOME": str(herald_home)}
    bad_url = run_cli("sql", "select 1", env={**env, "HERALD_WAREHOUSE": "mysql://x"})
    assert bad_url.returncode == 1
    assert bad_url.stderr.strip().startswith("herald: HERALD_WAREHOUSE: unknown engine")
    assert "Traceback" not in bad_url.stderr
    missing = run_cli("sql", "select 1", env=env)
    assert missing.returncode == 1 and "run `herald materialize` first" in missing.stderr
    bad_selection = run_cli("materialize", "--select", "key:nothing_here", env=env)
    assert bad_selection.returncode == 1
    assert "matches no asset" in bad_selection.stderr
    assert "Traceback" not in bad_selection.stderr


def test_a_failing_model_fails_the_run_and_names_the_model(
    herald_home: Path, tmp_path: Path
) -> None:
    project = tmp_path / "sql"
    subprocess.run(["cp", "-r", str(REPO / "sql"), str(project)], check=True)
    (project / "marts" / "orders.sql").write_text(
        "select no_such_column from {{ ref('order_items') }}"
    )
    from herald.models.project import SqlProject

    defs = build_definitions(load_settings(), SqlProject.load(project))
    result = dg.materialize(
        list(defs.assets or []),  # type: ignore[arg-type]
        resources=defs.resources,
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
    failed = [event.step_key for event in result.all_events if event.is_step_failure]
    assert failed == ["orders"]


def test_an_unreadable_landing_file_is_rejected_with_its_reason(herald_home: Path) -> None:
    # A file the engine cannot read is rejected (kept aside with its reason), not loaded.
    (herald_home / "landing" / "orders" / "part-9.parquet").write_bytes(b"not parquet at all")
    env = {"HERALD_HOME": str(herald_home)}
    built = run_cli("materialize", env=env)
    assert built.returncode == 0, built.stdout + built.stderr
    rejected = herald_home / "landing" / "_rejected" / "orders"
    assert (rejected / "part-9.parquet").exists()
    assert (rejected / "part-9.parquet.reason.txt").read_text().strip()


def test_the_landing_sensor_requests_only_new_files_once(herald_home: Path) -> None:
    materialize(load_settings())
    defs = build_definitions(load_settings())
    sensor = defs.resolve_sensor_def("landing_sensor")
    with dg.DagsterInstance.ephemeral() as instance:
        first = sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(first, dg.SkipReason)  # everything was loaded by materialize
        source = herald_home / "landing" / "orders" / "part-1.parquet"
        (herald_home / "landing" / "orders" / "part-7.parquet").write_bytes(source.read_bytes())
        second = sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(second, dg.SensorResult)
        [request] = second.run_requests or []
        assert request.asset_selection == [dg.AssetKey("raw_orders")]
        third = sensor(dg.build_sensor_context(instance=instance, cursor=second.cursor))
        assert isinstance(third, dg.SkipReason)


def test_workspace_yaml_loads_in_dagster_the_way_the_ui_does(herald_home: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "HERALD_HOME": str(herald_home), "DAGSTER_HOME": str(herald_home)},
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "Validation successful" in completed.stdout + completed.stderr


def test_a_source_with_no_files_yet_still_builds_its_models(herald_home: Path) -> None:
    # Profile records arrive with the first import; until then their raw table is empty.
    subprocess.run(["rm", "-r", str(herald_home / "landing" / "profile_records")], check=True)
    outcome = materialize(load_settings())
    assert outcome.success, [asset.error for asset in outcome.assets if asset.error]
    by_name = {asset.name: asset for asset in outcome.assets}
    assert by_name["raw_profile_records"].rows == 0
