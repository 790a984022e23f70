"""Recording the runs Herald starts (materialize, generate, demo, ...) in `pipeline_runs`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from herald.errors import HeraldError
from herald.store.engine import session_scope
from herald.store.models import RUN_STATUSES, PipelineRun, RunStatus, utc_now


class UnknownRun(HeraldError):
    """No pipeline run has the given id."""


def record_run_started(
    engine: Engine,
    kind: str,
    *,
    selection: str | None = None,
    run_id: str | None = None,
    details: Mapping[str, Any] | None = None,
    started_at: datetime | None = None,
) -> int:
    """Record that a run started; returns its id for `record_run_finished`."""
    run = PipelineRun(
        kind=kind,
        selection=selection,
        run_id=run_id,
        status="started",
        started_at=started_at or utc_now(),
        rows_written=0,
        details=dict(details) if details is not None else None,
    )
    with session_scope(engine) as session:
        session.add(run)
        session.flush()
        return run.id


def record_run_finished(
    engine: Engine,
    id: int,
    *,
    status: RunStatus = "succeeded",
    rows_written: int | None = None,
    error: str | None = None,
    run_id: str | None = None,
    details: Mapping[str, Any] | None = None,
    finished_at: datetime | None = None,
) -> PipelineRun:
    """Record how run `id` ended. `details` are merged into those given at the start."""
    if status not in RUN_STATUSES or status == "started":
        raise ValueError(f"a run finishes as 'succeeded' or 'failed', not {status!r}")
    with session_scope(engine) as session:
        run = session.get(PipelineRun, id, with_for_update=True)
        if run is None:
            raise UnknownRun(f"no pipeline run with id {id}")
        run.status = status
        run.finished_at = finished_at or utc_now()
        if rows_written is not None:
            run.rows_written = rows_written
        if error is not None:
            run.error = error
        if run_id is not None:
            run.run_id = run_id
        if details:
            run.details = {**(run.details or {}), **details}
        return run


def get_run(engine: Engine, id: int) -> PipelineRun:
    """The run with this id (detached: read its attributes freely)."""
    with session_scope(engine) as session:
        run = session.get(PipelineRun, id)
        if run is None:
            raise UnknownRun(f"no pipeline run with id {id}")
        return run


def recent_runs(engine: Engine, limit: int = 20) -> list[PipelineRun]:
    """The newest runs first."""
    with session_scope(engine) as session:
        query = select(PipelineRun).order_by(PipelineRun.started_at.desc(), PipelineRun.id.desc())
        return list(session.scalars(query.limit(limit)))
