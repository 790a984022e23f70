"""The sending part of the JSON API: the same queue management as `herald queue ...` and the
suppression list of `herald suppression ...`.

- `GET /api/v1/send-runs` — the latest runs with their counts; `GET /api/v1/send-runs/{id}`
  one run; `GET /api/v1/sending/queues` runs, queue depths and results per destination.
- `POST /api/v1/send-runs/{id}/pause|resume|cancel|retry` — as the CLI commands;
  `PUT /api/v1/send-runs/{id}/throttle` (`{"per_second": 50}` or `null` to lift it).
- `GET /api/v1/suppressions?channel=`, `POST /api/v1/suppressions`
  (`{"address": ..., "channel": "email", "reason": ...}`), `DELETE /api/v1/suppressions/
  {channel}/{address}`.

Unknown runs are 404, a state change the run does not allow is 409, RabbitMQ away is 503.
No `from __future__ import annotations`: FastAPI must see the route annotations.
"""

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import Depends, FastAPI, Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from herald.errors import HeraldError
from herald.sending import admin
from herald.sending.runs import (
    SendRunStateError,
    UnknownSendRun,
    list_runs,
    run_status,
    set_throttle,
)
from herald.sending.suppression import (
    SuppressionError,
    suppress_address,
    suppressed_addresses,
    unsuppress_address,
)
from herald.settings import Settings
from ui.errors import APIError


class ThrottleRequest(BaseModel):
    per_second: int | None = Field(None, ge=1, description="At most this many per second.")


class SuppressionRequest(BaseModel):
    address: str = Field(..., min_length=1, max_length=320)
    channel: str = Field("email", max_length=20)
    reason: str = Field("stop-list", max_length=500)


@contextlib.contextmanager
def sending_errors() -> Iterator[None]:
    try:
        yield
    except UnknownSendRun as exc:
        raise APIError(404, str(exc)) from None
    except SendRunStateError as exc:
        raise APIError(409, str(exc)) from None
    except admin.BrokerUnavailable as exc:
        raise APIError(503, str(exc)) from None
    except (SuppressionError, HeraldError) as exc:
        raise APIError(422, str(exc)) from None


def add_sending_routes(
    app: FastAPI, store: Engine, settings: Settings, authorized: Callable[..., None]
) -> None:
    options: dict[str, Any] = {"dependencies": [Depends(authorized)], "tags": ["sending"]}

    @app.get("/api/v1/send-runs", **options)
    def send_runs(limit: int = 50) -> list[dict[str, Any]]:
        """The latest runs, newest first, with their counts by state."""
        with sending_errors():
            return [run_status(store, run.id) for run in list_runs(store, min(limit, 500))]

    @app.get("/api/v1/send-runs/{run_id}", **options)
    def send_run(run_id: str) -> dict[str, Any]:
        with sending_errors():
            return run_status(store, run_id)

    @app.get("/api/v1/sending/queues", **options)
    def sending_queues(run: str | None = None) -> dict[str, Any]:
        """Runs, the depth of the sending queues, and results per destination group."""
        with sending_errors():
            return admin.queue_status(settings, store, run)

    @app.post("/api/v1/send-runs/{run_id}/pause", **options)
    def pause(run_id: str) -> dict[str, Any]:
        with sending_errors():
            return admin.pause_run(settings, store, run_id)

    @app.post("/api/v1/send-runs/{run_id}/resume", **options)
    def resume(run_id: str) -> dict[str, Any]:
        with sending_errors():
            return admin.resume_run(settings, store, run_id)

    @app.post("/api/v1/send-runs/{run_id}/cancel", **options)
    def cancel(run_id: str) -> dict[str, Any]:
        with sending_errors():
            return admin.cancel_run(settings, store, run_id)

    @app.post("/api/v1/send-runs/{run_id}/retry", **options)
    def retry(run_id: str) -> dict[str, Any]:
        """Send the run's failed messages again (not bounced or skipped ones)."""
        with sending_errors():
            return admin.retry_failed(settings, store, run_id)

    @app.put("/api/v1/send-runs/{run_id}/throttle", **options)
    def throttle(run_id: str, request: ThrottleRequest) -> dict[str, Any]:
        with sending_errors():
            return set_throttle(store, run_id, request.per_second).public()

    @app.get("/api/v1/suppressions", **options)
    def suppressions(channel: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        return suppressed_addresses(store, channel, min(limit, 10_000))

    @app.post("/api/v1/suppressions", status_code=201, **options)
    def add_suppression(request: SuppressionRequest) -> dict[str, Any]:
        with sending_errors():
            added = suppress_address(
                store, request.channel, request.address, reason=request.reason, source="api"
            )
        return {"address": request.address, "channel": request.channel, "added": added}

    @app.delete("/api/v1/suppressions/{channel}/{address}", status_code=204, **options)
    def remove_suppression(channel: str, address: str) -> Response:
        if not unsuppress_address(store, channel, address):
            raise APIError(404, f"{address} is not suppressed on {channel}")
        return Response(status_code=204)
