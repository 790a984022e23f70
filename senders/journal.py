"""A worker's journal: which claimed messages it handed to a server, and what came of them.

    journal = Journal.open(home / "sender" / "journal", "host:1")
    journal.handed(key)                  # the body is with the kernel, on its way
    journal.result(key, "sent")          # the server's answer, before the store knows it
    journal.committed(keys)              # the store has these outcomes now
    outcomes = recover(directory, worker, held_keys)  # after a crash: what to record

The send log in the store is written in batches, so between a delivery and its recorded
outcome there is a window; a worker killed in it would leave keys `sending` with nothing
saying whether they left. The journal closes that window: an append-only file per worker,
written with one `os.write` per line (no fsync: a killed process's writes are in the page
cache and survive it; a lost machine is what the store's lease rule is for). When the worker
starts again it settles its keys before taking new work:

- a result on record: that result;
- handed but no answer: `sent` (the body had left when the worker died, and an SMTP server
  that has the whole message delivers it; RFC 1047's duplicate-or-lose window is decided on
  the side of no duplicate);
- claimed but never handed: `released`, so the redelivered chunk sends it.

The file is truncated whenever every line in it is committed to the store.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from herald.sending.send_log import Outcome

ASSUMED_SENT = (
    "handed to the server before the worker stopped; taken as accepted, not sent again "
    "(to avoid a duplicate)"
)
NEVER_HANDED = "claimed by a worker that stopped before sending it"
_TRUNCATE_BYTES = 1 << 20


def journal_path(directory: Path, worker: str) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in worker)
    return directory / f"{safe}.journal"


@dataclass
class Journal:
    path: Path
    fd: int
    pending: set[str] = field(default_factory=set)
    size: int = 0

    @classmethod
    def open(cls, directory: Path, worker: str) -> Journal:
        directory.mkdir(parents=True, exist_ok=True)
        path = journal_path(directory, worker)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return cls(path, fd, size=os.fstat(fd).st_size)

    def handed(self, key: str, message_id: str = "") -> None:
        self._write(f"H\t{key}\t{message_id}\n")
        self.pending.add(key)

    def result(
        self, key: str, state: str, code: int | None = None, bounce_type: str | None = None
    ) -> None:
        code_text = code if code is not None else ""
        self._write(f"R\t{key}\t{state}\t{code_text}\t{bounce_type or ''}\n")
        self.pending.add(key)

    def committed(self, keys: Iterable[str]) -> None:
        self.pending.difference_update(keys)
        if not self.pending and self.size > _TRUNCATE_BYTES:
            os.ftruncate(self.fd, 0)
            self.size = 0

    def clear(self) -> None:
        self.pending.clear()
        os.ftruncate(self.fd, 0)
        self.size = 0

    def close(self) -> None:
        os.close(self.fd)

    def _write(self, line: str) -> None:
        data = line.encode()
        os.write(self.fd, data)
        self.size += len(data)


def read_journal(
    path: Path,
) -> tuple[dict[str, str], dict[str, tuple[str, int | None, str | None]]]:
    """Keys handed over (with their Message-ID), and the result of each key's last attempt
    (state, code, bounce type), in file order: a hand-over after a result starts afresh."""
    handed: dict[str, str] = {}
    results: dict[str, tuple[str, int | None, str | None]] = {}
    if not path.exists():
        return handed, results
    for raw in path.read_bytes().split(b"\n"):
        parts = raw.decode("utf-8", "replace").split("\t")
        if parts[0] == "H" and len(parts) in (2, 3):
            # a later attempt: what an earlier one came to (a deferral) no longer counts
            handed[parts[1]] = parts[2] if len(parts) == 3 else ""
            results.pop(parts[1], None)
        elif parts[0] == "R" and len(parts) in (4, 5):
            bounce_type = parts[4] if len(parts) == 5 and parts[4] else None
            results[parts[1]] = (
                parts[2],
                int(parts[3]) if parts[3].isdigit() else None,
                bounce_type,
            )
    return handed, results


def recover(directory: Path, worker: str, held: Iterable[str]) -> list[Outcome]:
    """Outcomes for the keys a worker holds (`sending` in the store), from its journal."""
    handed, results = read_journal(journal_path(directory, worker))
    outcomes = []
    for key in held:
        if key in results:
            state, code, bounce_type = results[key]
            if state == "deferred":  # the retry was not queued for sure: redeliver
                outcomes.append(Outcome(key, "released", code=code, diagnostic=NEVER_HANDED))
            else:
                outcomes.append(
                    Outcome(
                        key,
                        state,
                        code=code,
                        diagnostic="recovered from the journal",
                        message_id=handed.get(key) or None,
                        bounce_type=bounce_type,
                    )
                )
        elif key in handed:
            outcomes.append(
                Outcome(key, "sent", diagnostic=ASSUMED_SENT, message_id=handed[key] or None)
            )
        else:
            outcomes.append(Outcome(key, "released", diagnostic=NEVER_HANDED))
    return outcomes
