"""The landing-file ledger: which files a loader already put into the warehouse raw tables.

Transport is at-least-once (a file may be offered again); the ledger makes the effect
exactly-once: a loader skips what `loaded_files` reports and records each file it loads.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from herald.errors import HeraldError
from herald.store.engine import session_scope
from herald.store.models import LandingFile, utc_now


class LandingFileAlreadyLoaded(HeraldError):
    """The ledger already has this (source, file name, fingerprint)."""

    def __init__(self, source: str, file_name: str, fingerprint: str) -> None:
        self.source = source
        self.file_name = file_name
        self.fingerprint = fingerprint
        super().__init__(f"{source}: {file_name} ({fingerprint}) is already loaded")


def loaded_files(engine: Engine, source: str) -> set[tuple[str, str]]:
    """(file name, fingerprint) of every file of `source` already loaded."""
    query = select(LandingFile.file_name, LandingFile.fingerprint).where(
        LandingFile.source == source
    )
    with session_scope(engine) as session:
        return {(file_name, fingerprint) for file_name, fingerprint in session.execute(query)}


def record_loaded_file(
    engine: Engine,
    source: str,
    file_name: str,
    fingerprint: str,
    *,
    size_bytes: int,
    rows: int,
    run_id: str | None = None,
    loaded_at: datetime | None = None,
) -> int:
    """Record that a file was loaded; returns the ledger row's id.

    Raises LandingFileAlreadyLoaded if the same file with the same fingerprint is already
    recorded (for instance by a concurrent loader), so the caller can tell a repeat.
    """
    entry = LandingFile(
        source=source,
        file_name=file_name,
        fingerprint=fingerprint,
        size_bytes=size_bytes,
        rows=rows,
        run_id=run_id,
        loaded_at=loaded_at or utc_now(),
    )
    try:
        with session_scope(engine) as session:
            session.add(entry)
            session.flush()
            return entry.id
    except IntegrityError as exc:
        if _is_duplicate(exc):
            raise LandingFileAlreadyLoaded(source, file_name, fingerprint) from None
        raise


def _is_duplicate(exc: IntegrityError) -> bool:
    message = str(exc.orig)
    return (
        "uq_landing_files_source_file_name_fingerprint" in message  # PostgreSQL
        or "UNIQUE constraint failed: landing_files." in message  # SQLite
    )
