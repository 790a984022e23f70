"""Send runs in the operational store: what to send, to whom, and whether workers may.

    run = create_run(store, name="November news", kind="campaign", channel="email",
                     database="shop", spec=spec, snapshot=path, recipients=120_000)
    set_run_state(store, run.id, "paused")       # workers hold its chunks from now on
    run_status(store, run.id)                    # counts by send-log state, enqueued, ...

A run's state is read by every worker (cached for about a second): `paused` makes workers
move its chunks to a hold queue, `cancelled` makes them record its messages as skipped,
`running` again (resume) brings the held chunks back. `throttle_per_second` caps how fast
the run is sent, across workers.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select, update

from herald.errors import HeraldError
from herald.store import session_scope
from herald.store.models import SEND_RUN_STATES, SendLogEntry, SendRun, utc_now

TRANSITIONS = {
    "running": ("paused", "cancelled", "finished"),
    "paused": ("running", "cancelled"),
    "cancelled": (),
    "finished": (),
}
RUN_KINDS = ("campaign", "transactional", "test")
# The snapshot column that holds a channel's address, unless the run's spec names another.
DEFAULT_ADDRESS_FIELDS = {"email": "email", "sms": "phone", "telegram": "telegram_chat_id"}


class UnknownSendRun(HeraldError):
    def __init__(self, run_id: str) -> None:
        super().__init__(f"no send run {run_id!r}; `herald queue status` lists the runs")


class SendRunStateError(HeraldError):
    """A state change the run's state does not allow (e.g. resuming a cancelled run)."""


@dataclass(frozen=True)
class SendRunInfo:
    id: str
    name: str
    kind: str
    channel: str
    database: str | None
    spec: dict[str, Any]
    state: str
    snapshot: str | None
    recipients: int
    enqueued: int
    enqueue_finished_at: datetime | None
    throttle_per_second: int | None
    created_at: datetime

    @property
    def address_field(self) -> str:
        return str(
            self.spec.get("address_field") or DEFAULT_ADDRESS_FIELDS.get(self.channel, "address")
        )

    @property
    def topic(self) -> str:
        return str(self.spec.get("topic") or "*")

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "channel": self.channel,
            "database": self.database,
            "state": self.state,
            "snapshot": self.snapshot,
            "recipients": self.recipients,
            "enqueued": self.enqueued,
            "enqueue_finished": self.enqueue_finished_at is not None,
            "throttle_per_second": self.throttle_per_second,
            "created_at": self.created_at.isoformat(),
        }


def _info(run: SendRun) -> SendRunInfo:
    return SendRunInfo(
        id=run.id,
        name=run.name,
        kind=run.kind,
        channel=run.channel,
        database=run.database,
        spec=dict(run.spec or {}),
        state=run.state,
        snapshot=run.snapshot,
        recipients=run.recipients,
        enqueued=run.enqueued,
        enqueue_finished_at=run.enqueue_finished_at,
        throttle_per_second=run.throttle_per_second,
        created_at=run.created_at,
    )


def new_run_id(kind: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    return f"{kind}-{stamp}-{secrets.token_hex(3)}"


def create_run(
    store: Engine,
    *,
    name: str,
    kind: str,
    channel: str,
    spec: dict[str, Any],
    database: str | None = None,
    snapshot: str | None = None,
    recipients: int = 0,
    run_id: str | None = None,
) -> SendRunInfo:
    if kind not in RUN_KINDS:
        raise SendRunStateError(f"kind {kind!r} is not one of {', '.join(RUN_KINDS)}")
    now = utc_now()
    run = SendRun(
        id=run_id or new_run_id(kind),
        name=name[:200],
        kind=kind,
        channel=channel,
        database=database,
        spec=spec,
        state="running",
        snapshot=snapshot,
        recipients=recipients,
        enqueued=0,
        created_at=now,
        updated_at=now,
    )
    with session_scope(store) as session:
        session.add(run)
        session.flush()
        return _info(run)


def get_run(store: Engine, run_id: str) -> SendRunInfo:
    with session_scope(store) as session:
        run = session.get(SendRun, run_id)
        if run is None:
            raise UnknownSendRun(run_id)
        return _info(run)


def list_runs(store: Engine, limit: int = 50) -> list[SendRunInfo]:
    with session_scope(store) as session:
        runs = session.execute(
            select(SendRun).order_by(SendRun.created_at.desc()).limit(limit)
        ).scalars()
        return [_info(run) for run in runs]


def set_run_state(store: Engine, run_id: str, state: str) -> SendRunInfo:
    if state not in SEND_RUN_STATES:
        raise SendRunStateError(f"state {state!r} is not one of {', '.join(SEND_RUN_STATES)}")
    with session_scope(store) as session:
        run = session.get(SendRun, run_id)
        if run is None:
            raise UnknownSendRun(run_id)
        if state != run.state and state not in TRANSITIONS[run.state]:
            raise SendRunStateError(f"run {run_id!r} is {run.state}: it cannot become {state}")
        run.state = state
        run.updated_at = utc_now()
        session.flush()
        return _info(run)


def set_throttle(store: Engine, run_id: str, per_second: int | None) -> SendRunInfo:
    if per_second is not None and per_second < 1:
        raise SendRunStateError("a throttle is at least 1 message per second (or none)")
    with session_scope(store) as session:
        run = session.get(SendRun, run_id)
        if run is None:
            raise UnknownSendRun(run_id)
        run.throttle_per_second = per_second
        run.updated_at = utc_now()
        session.flush()
        return _info(run)


def record_enqueued(store: Engine, run_id: str, enqueued: int, *, finished: bool) -> None:
    values: dict[str, Any] = {"enqueued": enqueued, "updated_at": utc_now()}
    if finished:
        values["enqueue_finished_at"] = utc_now()
    with store.begin() as connection:
        connection.execute(update(SendRun).where(SendRun.id == run_id).values(**values))


def run_states(store: Engine, run_ids: list[str]) -> dict[str, tuple[str, int | None]]:
    """The state and throttle of runs (what workers poll)."""
    with store.connect() as connection:
        rows = connection.execute(
            select(SendRun.id, SendRun.state, SendRun.throttle_per_second).where(
                SendRun.id.in_(run_ids)
            )
        )
        return {run_id: (state, throttle) for run_id, state, throttle in rows}


def state_counts(store: Engine, run_id: str) -> dict[str, int]:
    with store.connect() as connection:
        rows = connection.execute(
            select(SendLogEntry.state, func.count())
            .where(SendLogEntry.run_id == run_id)
            .group_by(SendLogEntry.state)
        )
        return {state: int(count) for state, count in rows}


def destination_counts(store: Engine, run_id: str | None = None) -> dict[str, dict[str, int]]:
    """Messages by delivery-rules group and state (per destination depth and results)."""
    query = select(SendLogEntry.destination, SendLogEntry.state, func.count()).group_by(
        SendLogEntry.destination, SendLogEntry.state
    )
    if run_id:
        query = query.where(SendLogEntry.run_id == run_id)
    counts: dict[str, dict[str, int]] = {}
    with store.connect() as connection:
        for destination, state, count in connection.execute(query):
            counts.setdefault(destination, {})[state] = int(count)
    return counts


def run_status(store: Engine, run_id: str) -> dict[str, Any]:
    """A run with its send-log counts; `waiting` = enqueued recipients without an outcome."""
    info = get_run(store, run_id).public()
    counts = state_counts(store, run_id)
    done = sum(n for state, n in counts.items() if state not in ("sending", "deferred", "released"))
    info["counts"] = counts
    info["waiting"] = max(0, info["enqueued"] - done)
    return info
