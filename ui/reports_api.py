"""The reports part of the JSON API: funnels and cohort retention computed now, as
`herald report ...` computes them (semantics: herald/reports/funnel.py and cohort.py).

- `POST /api/v1/reports/funnel` — body: `steps` (each `{"event": .., "where": [{"property":
  .., "op": .., "value": ..}]}` or the CLI's text `"EVENT[prop=value, ...]"`), `window`
  ("7d"), `order` (ordered | strict | any), `breakdown`, `database`, `since`, `until` (a day:
  `until` includes it; or an ISO time), `segment` (only its current members).
- `GET /api/v1/reports/cohort?by=&period=&event=&database=&since=&until=&segment=`.

Bad input is a 422 with one line; a warehouse without report inputs a 409; a busy or
unreadable warehouse a 503. The warehouse is opened read-only for each request.

No `from __future__ import annotations` here: the routes use aliases local to
`add_report_routes`, which FastAPI could not resolve from strings.
"""

import contextlib
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query
from pydantic import BaseModel, Field

from herald.errors import HeraldError, WarehouseBusy, WarehouseError
from herald.reports.cohort import ORDER_ACTIVITY, timed_cohort_retention
from herald.reports.funnel import (
    MAX_STEPS,
    FunnelStep,
    ReportError,
    ReportInputsMissing,
    funnel,
    parse_moment,
    parse_step,
)
from herald.warehouse.base import Warehouse
from ui.errors import APIError


class StepFilter(BaseModel):
    property: str = Field(max_length=200, description="An event column or properties.<key>.")
    op: str = Field(max_length=20, description="equals, not_equals, in, greater, ... or = != >")
    value: Any = Field(default=None, description="A text, a number, or a list for in/not_in.")


class StepBody(BaseModel):
    event: str = Field(max_length=500)
    where: list[StepFilter] = Field(default_factory=list, max_length=50)


class FunnelRequest(BaseModel):
    steps: list[StepBody | str] = Field(
        max_length=MAX_STEPS * 4, description="The steps in order (1 to 30)."
    )
    window: str = Field(default="7d", max_length=20, description="30m, 12h, 7d or 2w.")
    order: str = Field(default="ordered", max_length=20, description="ordered, strict or any.")
    breakdown: str | None = Field(default=None, max_length=200)
    database: str | None = Field(default=None, max_length=200)
    since: str | None = Field(default=None, max_length=40)
    until: str | None = Field(default=None, max_length=40)
    segment: str | None = Field(default=None, max_length=200)


@contextlib.contextmanager
def report_errors() -> Iterator[None]:
    """Report errors as API errors: 409 no inputs yet, 422 bad input, 503 warehouse."""
    try:
        yield
    except ReportInputsMissing as exc:
        raise APIError(409, str(exc)) from None
    except WarehouseBusy as exc:
        raise APIError(503, str(exc)) from None
    except WarehouseError as exc:
        raise APIError(503, f"the warehouse cannot be read now: {exc}") from None
    except (ReportError, HeraldError) as exc:
        raise APIError(422, str(exc)) from None


def _step(entry: StepBody | str) -> FunnelStep:
    if isinstance(entry, str):
        return parse_step(entry)
    return FunnelStep(entry.event, [(item.property, item.op, item.value) for item in entry.where])


def add_report_routes(
    app: FastAPI,
    authorized: Callable[..., None],
    warehouse_factory: Callable[..., Iterator[Warehouse]],
) -> None:
    """Mount the report routes; `warehouse_factory` is a dependency that yields a read-only
    warehouse for one request."""
    options: dict[str, Any] = {"dependencies": [Depends(authorized)], "tags": ["reports"]}
    WarehouseDep = Annotated[Warehouse, Depends(warehouse_factory)]

    @app.post("/api/v1/reports/funnel", **options)
    def funnel_report(request: FunnelRequest, wh: WarehouseDep) -> dict[str, Any]:
        """A funnel: per step (and breakdown value) the profiles reaching it, conversion from
        the first and the previous step, drop-off, and median seconds to convert."""
        with report_errors():
            steps = [_step(entry) for entry in request.steps]
            result = funnel(
                wh,
                request.database,
                steps,
                request.window,
                order=request.order,
                breakdown=request.breakdown,
                since=parse_moment(request.since, "since", end=False),
                until=parse_moment(request.until, "until", end=True),
                segment=request.segment,
            )
            return result.to_dict()

    @app.get("/api/v1/reports/cohort", **options)
    def cohort_report(
        wh: WarehouseDep,
        by: Annotated[str, Query(max_length=20)] = "first_order",
        period: Annotated[str, Query(max_length=20)] = "month",
        event: Annotated[str | None, Query(max_length=500)] = None,
        database: Annotated[str | None, Query(max_length=200)] = None,
        since: Annotated[str | None, Query(max_length=40)] = None,
        until: Annotated[str | None, Query(max_length=40)] = None,
        segment: Annotated[str | None, Query(max_length=200)] = None,
    ) -> dict[str, Any]:
        """Cohort retention: per cohort and period index, cohort size, active profiles and
        retention (activity: orders, or `event`)."""
        with report_errors():
            activity = event if event is not None else ORDER_ACTIVITY
            document = timed_cohort_retention(
                wh,
                database=database,
                by=by,
                period=period,
                activity=activity,
                since=parse_moment(since, "since", end=False),
                until=parse_moment(until, "until", end=True),
                segment=segment,
            )
            return {"by": by, "period": period, "activity": activity, **document}
