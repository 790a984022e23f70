"""Running assets in-process for `herald materialize` and `herald demo`."""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from herald.errors import HeraldError
from herald.settings import Settings
from herald.store import create_store_engine, migrate, record_run_finished, record_run_started
from pipelines.definitions import build_definitions

SEGMENT_ASSET = "segment_members"


@dataclass
class AssetOutcome:
    name: str
    rows: int | None = None
    seconds: float | None = None
    checks_passed: int = 0
    checks_failed: list[str] = field(default_factory=list)
    error: str | None = None
    skipped: bool = False
    metadata: dict[str, object] = field(default_factory=dict)


@dataclass
class RunOutcome:
    run_id: str
    success: bool
    seconds: float
    assets: list[AssetOutcome]


def prepare_instance(settings: Settings) -> Path:
    """Point DAGSTER_HOME at HERALD_HOME/dagster and give it Herald's instance settings."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    wanted = (
        "# Written by herald: warehouse writes run one at a time (DuckDB allows one writer).\n"
        "concurrency:\n"
        "  pools:\n"
        f"    default_limit: {settings.pool_limit}\n"
        "telemetry:\n"
        "  enabled: false\n"
    )
    if not config.exists() or config.read_text() != wanted:
        config.write_text(wanted)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def selection_from_text(text: str | None) -> dg.AssetSelection | None:
    """`events,orders` or Dagster's selection syntax (`key:events+`, `group:marts`)."""
    if not text:
        return None
    parts = [part.strip() for part in text.split(",") if part.strip()]
    expression = " or ".join(
        part if ":" in part or " " in part else f'key:"{part}"' for part in parts
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return dg.AssetSelection.from_string(expression)
    except Exception as exc:  # Dagster raises several kinds for a bad selection
        raise HeraldError(f"--select {text!r} is not a valid asset selection: {exc}") from None


def materialize(settings: Settings, selection: str | None = None) -> RunOutcome:
    prepare_instance(settings)
    defs = build_definitions(settings)
    chosen = selection_from_text(selection)
    assets = list(defs.assets or [])
    wants_segments = chosen is None
    if chosen is not None:
        graph = defs.resolve_asset_graph()
        keys = chosen.resolve(graph)
        if not keys:
            raise HeraldError(f"--select {selection!r} matches no asset")
        wants_segments = dg.AssetKey(SEGMENT_ASSET) in keys
    # Segments are partitioned (one partition per segment): they run after the rest.
    chosen = (chosen or dg.AssetSelection.all()) - dg.AssetSelection.assets(SEGMENT_ASSET)
    if not chosen.resolve(defs.resolve_asset_graph()):
        return materialize_segments(settings)
    store = create_store_engine(settings.database_url)
    migrate(store)
    run_record = record_run_started(store, "materialize", selection=selection)
    started = time.perf_counter()
    try:
        result = _execute(defs, assets, chosen)
    except BaseException as exc:
        record_run_finished(store, run_record, status="failed", error=str(exc))
        raise
    outcome = RunOutcome(
        run_id=result.run_id,
        success=result.success,
        seconds=time.perf_counter() - started,
        assets=_outcomes(result),
    )
    if wants_segments and outcome.success:
        segments = materialize_segments(settings)
        outcome.assets += segments.assets
        outcome.success = segments.success
        outcome.seconds = time.perf_counter() - started
    errors = [f"{asset.name}: {asset.error}" for asset in outcome.assets if asset.error]
    record_run_finished(
        store,
        run_record,
        status="succeeded" if outcome.success else "failed",
        run_id=outcome.run_id,
        rows_written=sum(asset.rows or 0 for asset in outcome.assets),
        error="\n".join(errors) or None,
        details={"seconds": round(outcome.seconds, 3), "assets": len(outcome.assets)},
    )
    return outcome


def materialize_segments(
    settings: Settings, names: list[str] | None = None, *, with_inputs: bool = False
) -> RunOutcome:
    """Refresh segments (all when `names` is None) in one Dagster run of `segment_members`,
    over the partitions (one per segment) it is given; `with_inputs` rebuilds
    `segment_inputs` first (in a run of its own)."""
    from herald.segments.catalog import list_segments

    prepare_instance(settings)
    store = create_store_engine(settings.database_url)
    migrate(store)
    every = [segment.name for segment in list_segments(store)]
    wanted = every if names is None else names
    missing = [name for name in wanted if name not in every]
    if missing:
        raise HeraldError(f"there is no segment {missing[0]!r} (herald segment list shows them)")
    started = time.perf_counter()
    outcomes: list[AssetOutcome] = []
    run_id, success = "", True
    if with_inputs:
        inputs = materialize(settings, "segment_inputs")
        outcomes += inputs.assets
        run_id, success = inputs.run_id, inputs.success
    if wanted and success:
        defs = build_definitions(settings)
        assets = list(defs.assets or [])
        with dg.DagsterInstance.get() as instance:
            partitions = "segments"
            known = set(instance.get_dynamic_partitions(partitions))
            instance.add_dynamic_partitions(partitions, [n for n in every if n not in known])
            order = instance.get_dynamic_partitions(partitions)
            chosen_keys = [key for key in order if key in set(wanted)]
            for first, last in _ranges(order, chosen_keys):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    result = dg.materialize(
                        assets,  # type: ignore[arg-type]
                        instance=instance,
                        resources=defs.resources,
                        selection=dg.AssetSelection.assets(SEGMENT_ASSET),
                        raise_on_error=False,
                        run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
                        tags={
                            "herald/command": "segment refresh",
                            "dagster/asset_partition_range_start": first,
                            "dagster/asset_partition_range_end": last,
                        },
                    )
                outcomes += _outcomes(result)
                run_id, success = result.run_id, success and result.success
    return RunOutcome(run_id, success, time.perf_counter() - started, outcomes)


def _ranges(order: list[str], chosen: list[str]) -> list[tuple[str, str]]:
    """The chosen partition keys as runs of neighbours in the partitions' order."""
    ranges: list[tuple[str, str]] = []
    positions = {key: index for index, key in enumerate(order)}
    for key in chosen:
        if ranges and positions[ranges[-1][1]] + 1 == positions[key]:
            ranges[-1] = (ranges[-1][0], key)
        else:
            ranges.append((key, key))
    return ranges


def _execute(
    defs: dg.Definitions, assets: list[Any], chosen: dg.AssetSelection | None
) -> dg.ExecuteInProcessResult:
    with dg.DagsterInstance.get() as instance, warnings.catch_warnings():
        warnings.simplefilter("ignore", category=dg.BetaWarning)
        result = dg.materialize(
            assets,  # type: ignore[arg-type]
            instance=instance,
            resources=defs.resources,
            selection=chosen,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
            tags={"herald/command": "materialize"},
        )
    return result


def _outcomes(result: dg.ExecuteInProcessResult) -> list[AssetOutcome]:
    by_step: dict[str, AssetOutcome] = {}
    for event in result.all_events:
        step = event.step_key
        if step is None:
            continue
        outcome = by_step.setdefault(step, AssetOutcome(step))
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.step_materialization_data.materialization
            outcome.name = materialization.asset_key.to_user_string()
            metadata = materialization.metadata
            outcome.metadata = {key: value.value for key, value in metadata.items()}
            if "dagster/row_count" in metadata:
                outcome.rows = int(metadata["dagster/row_count"].value)  # type: ignore[arg-type]
            if "duration_s" in metadata:
                outcome.seconds = float(metadata["duration_s"].value)  # type: ignore[arg-type]
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if evaluation.passed:  # type: ignore[union-attr]
                outcome.checks_passed += 1
            else:
                outcome.checks_failed.append(evaluation.check_name)  # type: ignore[union-attr]
        elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error
            outcome.error = _error_text(error)
        elif event.event_type == dg.DagsterEventType.STEP_SKIPPED:
            outcome.skipped = True
    return list(by_step.values())


def _error_text(error: object) -> str:
    """The innermost message of a Dagster error, without its stack trace."""
    message = "step failed"
    while error is not None:
        message = getattr(error, "message", message)
        error = getattr(error, "cause", None)
    return message.strip().splitlines()[-1] if message.strip() else "step failed"
