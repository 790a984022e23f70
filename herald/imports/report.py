"""The outcome of an import: what was received, accepted and rejected, and the rejected rows.

Every data row read from the source is either accepted or rejected, never lost:
`received == accepted + rejected` is checked whenever an outcome is built. Rejected rows go to
a CSV file a CRM manager opens in Excel (row_number, reason, then the original cells), with
cells that a spreadsheet would run as a formula made inert.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: str | None) -> str:
    """A cell as text that a spreadsheet shows as text: formula-like cells get a leading '."""
    if cell is None:
        return ""
    if cell.startswith(FORMULA_PREFIXES):
        return "'" + cell
    return cell


class ImportCountMismatch(AssertionError):
    """received != accepted + rejected: a row was lost or counted twice (a Herald bug)."""


@dataclass(frozen=True)
class ImportOutcome:
    """Counts of one import and where its rejected rows are; the counts always add up."""

    received: int
    accepted: int
    rejected: int
    rejects_path: Path | None = None
    warnings: tuple[str, ...] = ()
    reasons: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if min(self.received, self.accepted, self.rejected) < 0 or (
            self.received != self.accepted + self.rejected
        ):
            raise ImportCountMismatch(
                f"received {self.received} rows but accepted {self.accepted}"
                f" and rejected {self.rejected}"
            )


class RejectWriter:
    """Writes rejected rows as CSV (UTF-8 with BOM, so Excel shows Cyrillic right)."""

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        self.path = Path(path)
        self.columns = list(columns)
        self.count = 0
        self._file: IO[str] | None = None
        self._writer: csv._writer | None = None  # type: ignore[name-defined]

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("w", encoding="utf-8-sig", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow(
            ["row_number", "reason", *(spreadsheet_safe(name) for name in self.columns)]
        )

    def write(self, row_number: int, reason: str, cells: Sequence[str | None]) -> None:
        if self._writer is None:
            self._open()
        assert self._writer is not None
        self._writer.writerow(
            [row_number, spreadsheet_safe(reason), *(spreadsheet_safe(cell) for cell in cells)]
        )
        self.count += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            self._writer = None

    def __enter__(self) -> RejectWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class ImportTally:
    """Counts rows as they are accepted or rejected and writes the rejected ones.

    The rejects file is created on the first rejected row only.
    """

    def __init__(self, rejects_path: Path | None, columns: Sequence[str]) -> None:
        self.accepted = 0
        self.rejected = 0
        self.reasons: dict[str, int] = {}
        self._rejects = RejectWriter(rejects_path, columns) if rejects_path else None

    def accept(self, count: int = 1) -> None:
        self.accepted += count

    def reject(self, row_number: int, reason: str, cells: Sequence[str | None]) -> None:
        self.rejected += 1
        kind = reason.split(";")[0].split(":")[0].strip()
        self.reasons[kind] = self.reasons.get(kind, 0) + 1
        if self._rejects is not None:
            self._rejects.write(row_number, reason, cells)

    def finish(self, received: int, warnings: Sequence[str] = ()) -> ImportOutcome:
        """Close the rejects file and check that `received` rows were all accounted for."""
        path = None
        if self._rejects is not None:
            self._rejects.close()
            path = self._rejects.path if self._rejects.count else None
        return ImportOutcome(
            received=received,
            accepted=self.accepted,
            rejected=self.rejected,
            rejects_path=path,
            warnings=tuple(warnings),
            reasons=dict(self.reasons),
        )


__all__ = [
    "FORMULA_PREFIXES",
    "ImportCountMismatch",
    "ImportOutcome",
    "ImportTally",
    "RejectWriter",
    "spreadsheet_safe",
]
