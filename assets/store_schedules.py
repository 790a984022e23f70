"""Dagster schedules made from rows of the operational store (SQL sources, segment syncs).

The rows are read when the definitions load; if the store cannot be read, or a row's cron is
not valid, a warning is logged and the definitions still load without those schedules.
"""

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

import dagster as dg
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from herald.errors import HeraldError
from herald.settings import Settings

Row = TypeVar("Row")
log = logging.getLogger(__name__)


def schedules_from_store(
    settings: Settings,
    what: str,
    read: Callable[[Engine], Sequence[Row]],
    schedule: Callable[[Row], dg.ScheduleDefinition],
    name: Callable[[Row], str],
) -> list[dg.ScheduleDefinition]:
    """One schedule per row `read` returns; `what` names the rows in warnings."""
    from herald.store import create_store_engine

    try:
        engine = create_store_engine(settings.database_url)
        try:
            rows = read(engine)
        finally:
            engine.dispose()
    except (HeraldError, SQLAlchemyError) as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        log.warning("%s schedules are not loaded: the store cannot be read (%s)", what, first_line)
        return []
    schedules: list[dg.ScheduleDefinition] = []
    for row in rows:
        try:
            schedules.append(schedule(row))
        except dg.DagsterInvalidDefinitionError as exc:
            log.warning("%s %s is not scheduled: %s", what, name(row), exc)
    return schedules
