"""The send log: exactly-once effect for messages carried at least once.

    log = SendLog(store, worker="host:1")
    claims = log.claim([Claim(key, run_id, profile_id, "email", address, "gmail"), ...])
    # claims[key].granted: deliver it; otherwise claims[key].state says why not
    log.record([Outcome(key, "sent", code=250, ...), ...])

One row per idempotency key. A worker claims keys before delivering them: a new key is
inserted as `sending`; a `deferred` or `released` key is taken back to `sending` (attempt + 1);
any other state means someone already did or is doing it, and the worker only acknowledges
the duplicate. Claims and outcomes are written in batches, each batch one transaction, so a
chunk of a hundred recipients costs two commits. Outcomes are written only by the worker
holding the claim.

Between a claim and its recorded outcome a worker may die; the worker's journal
(senders/journal.py) is what tells, when it starts again, which claimed messages were handed
to the server and which were not (those are `released` and delivered by the next redelivery).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, Table, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from herald.store.models import SendLogEntry, utc_now

LOG: Table = SendLogEntry.__table__  # type: ignore[assignment]
_BATCH = 500
REDELIVERABLE = ("deferred", "released")
FINAL = ("sent", "bounced", "failed", "skipped")


@dataclass(frozen=True, slots=True)
class Claim:
    key: str
    run_id: str
    profile_id: str
    channel: str
    recipient: str
    destination: str


@dataclass(frozen=True, slots=True)
class ClaimResult:
    granted: bool
    state: str  # the key's state now: `sending` when granted
    attempts: int
    worker: str | None
    first_attempt_at: datetime | None
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class Outcome:
    key: str
    state: str  # sent, deferred, bounced, failed, skipped, released
    code: int | None = None
    status: str | None = None
    bounce_type: str | None = None
    diagnostic: str | None = None
    message_id: str | None = None


class SendLog:
    def __init__(self, store: Engine, worker: str) -> None:
        self.store = store
        self.worker = worker
        self._insert = pg_insert if store.dialect.name == "postgresql" else sqlite_insert

    def claim(self, claims: Sequence[Claim]) -> dict[str, ClaimResult]:
        results: dict[str, ClaimResult] = {}
        for start in range(0, len(claims), _BATCH):
            results.update(self._claim(claims[start : start + _BATCH]))
        return results

    def _claim(self, claims: Sequence[Claim]) -> dict[str, ClaimResult]:
        now = utc_now()
        rows = [
            {
                "key": c.key,
                "run_id": c.run_id,
                "profile_id": c.profile_id[:255],
                "channel": c.channel,
                "recipient": c.recipient[:320],
                "destination": c.destination[:255],
                "state": "sending",
                "attempts": 1,
                "worker": self.worker,
                "first_attempt_at": now,
                "updated_at": now,
            }
            for c in {c.key: c for c in claims}.values()
        ]
        results: dict[str, ClaimResult] = {}
        with self.store.begin() as connection:
            inserted = connection.execute(
                self._insert(LOG)
                .on_conflict_do_nothing(index_elements=["key"])
                .returning(LOG.c.key),
                rows,
            )
            for (key,) in inserted:
                results[key] = ClaimResult(True, "sending", 1, self.worker, now, now)
            others = [row["key"] for row in rows if row["key"] not in results]
            if not others:
                return results
            existing = connection.execute(
                select(
                    LOG.c.key,
                    LOG.c.state,
                    LOG.c.attempts,
                    LOG.c.worker,
                    LOG.c.first_attempt_at,
                    LOG.c.updated_at,
                ).where(LOG.c.key.in_(others))
            ).all()
            for key, state, attempts, worker, first, updated in existing:
                if state in REDELIVERABLE:
                    taken = connection.execute(
                        update(LOG)
                        .where(LOG.c.key == key, LOG.c.state == state)
                        .values(
                            state="sending",
                            attempts=LOG.c.attempts + 1,
                            worker=self.worker,
                            first_attempt_at=func.coalesce(LOG.c.first_attempt_at, now),
                            updated_at=now,
                        )
                    ).rowcount
                    if taken:
                        results[key] = ClaimResult(
                            True, "sending", attempts + 1, self.worker, first or now, now
                        )
                        continue
                results[key] = ClaimResult(False, state, attempts, worker, first, updated)
        return results

    def record(self, outcomes: Iterable[Outcome]) -> None:
        """Record outcomes of keys this worker holds (others are left as they are)."""
        now = utc_now()
        rows = [
            {
                "k": o.key,
                "w": self.worker,
                "state": o.state,
                "code": o.code,
                "status": o.status[:16] if o.status else None,
                "bounce_type": o.bounce_type,
                "diagnostic": o.diagnostic[:500] if o.diagnostic else None,
                "message_id": o.message_id,
                "updated_at": now,
            }
            for o in outcomes
        ]
        if not rows:
            return
        statement = (
            update(LOG)
            .where(LOG.c.key == bindparam("k"), LOG.c.worker == bindparam("w"))
            .where(LOG.c.state == "sending")
            .values(
                state=bindparam("state"),
                code=bindparam("code"),
                status=bindparam("status"),
                bounce_type=bindparam("bounce_type"),
                diagnostic=bindparam("diagnostic"),
                message_id=bindparam("message_id"),
                updated_at=bindparam("updated_at"),
            )
        )
        with self.store.begin() as connection:
            connection.execute(statement.execution_options(synchronize_session=False), rows)

    def record_skipped(self, claims: Sequence[Claim], reasons: dict[str, str]) -> list[str]:
        """Record messages skipped before any attempt (consent, suppression, a cancelled
        run): inserted as `skipped` unless the key exists. Returns the keys recorded."""
        now = utc_now()
        rows = [
            {
                "key": c.key,
                "run_id": c.run_id,
                "profile_id": c.profile_id[:255],
                "channel": c.channel,
                "recipient": c.recipient[:320],
                "destination": c.destination[:255],
                "state": "skipped",
                "attempts": 0,
                "worker": self.worker,
                "diagnostic": reasons[c.key][:500],
                "updated_at": now,
            }
            for c in {c.key: c for c in claims}.values()
        ]
        if not rows:
            return []
        with self.store.begin() as connection:
            inserted = connection.execute(
                self._insert(LOG)
                .on_conflict_do_nothing(index_elements=["key"])
                .returning(LOG.c.key),
                rows,
            )
            return [key for (key,) in inserted]

    def held_by(self, worker: str) -> list[str]:
        """Keys a worker claimed and has no outcome for (what its journal must settle)."""
        with self.store.connect() as connection:
            return list(
                connection.execute(
                    select(LOG.c.key).where(LOG.c.worker == worker, LOG.c.state == "sending")
                ).scalars()
            )

    def settle(self, worker: str, outcomes: Sequence[Outcome]) -> None:
        """Record outcomes for keys a (dead) worker held, as that worker."""
        SendLog(self.store, worker).record(outcomes)


def states(store: Engine, keys: Sequence[str]) -> dict[str, str]:
    with store.connect() as connection:
        return dict(
            connection.execute(select(LOG.c.key, LOG.c.state).where(LOG.c.key.in_(keys))).all()
        )


def entries(store: Engine, keys: Sequence[str]) -> dict[str, dict[str, object]]:
    """Send-log rows of keys, with their run's profile database (what an event needs)."""
    from herald.store.models import SendRun

    found: dict[str, dict[str, object]] = {}
    with store.connect() as connection:
        for start in range(0, len(keys), _BATCH):
            rows = connection.execute(
                select(LOG, SendRun.database)
                .join(SendRun, SendRun.id == LOG.c.run_id, isouter=True)
                .where(LOG.c.key.in_(list(keys[start : start + _BATCH])))
            ).mappings()
            for row in rows:
                found[str(row["key"])] = dict(row)
    return found
