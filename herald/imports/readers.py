"""Read an import file or pasted text as a header and rows of text, streaming, losing nothing.

`open_table(path)` looks at the start of a file to settle its format, encoding, delimiter and
header, then `TableReader.batches(size)` reads the whole source in row batches without loading
it into memory. Every row keeps its 1-based row number in the source as a spreadsheet shows it
(the header is row 1 of a CSV; a sheet's rows keep their sheet numbers). Empty cells are `None`.

A row the reader cannot take as it is (too few or too many cells, a cell over the size limit)
is still yielded, with `problem` saying what is wrong; only rows with no text at all are skipped
(they are counted in `skipped_blank_rows`). Problems with the file as a whole raise
`ImportFileError` before or while rows are read.

CSV and TXT stream in constant memory. Workbooks go through python-calamine, which decodes the
chosen sheet whole in native memory (XLSX holds at most 1,048,576 rows) and hands rows to
Python one at a time.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import gc
import io
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from herald.errors import HeraldError
from herald.i18n import N_

DELIMITERS = (",", ";", "\t", "|")
SPREADSHEET_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"})
DEFAULT_MAX_CELL_CHARS = 4 * 1024 * 1024
CSV_FIELD_SIZE_LIMIT = 16 * 1024 * 1024
SAMPLE_BYTES = 1024 * 1024
SAMPLE_ROWS = 200

# The csv module refuses fields above its limit (128 KiB by default) by raising mid-file; a
# 1 MB cell is legitimate in a notes column, so the limit is raised process-wide, never lowered.
if csv.field_size_limit() < CSV_FIELD_SIZE_LIMIT:
    csv.field_size_limit(CSV_FIELD_SIZE_LIMIT)

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive (an XLSX or ODS workbook?)"),
    (b"\xd0\xcf\x11\xe0", "an OLE2 document (an XLS workbook?)"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
)
_CONTROL_BYTES = bytes(sorted(set(range(0, 32)) - {9, 10, 12, 13}))
_DATA_LIKE = re.compile(r"^[\s\d.,:;/+\-()%$€₽]+$|@|^(true|false)$", re.IGNORECASE)


class ImportFileError(HeraldError):
    """An import file or pasted text cannot be read at all; the message says why."""


@dataclass(slots=True)
class SourceRow:
    """One row of the source: its 1-based row number, its cells, and what is wrong, if anything.

    `values` has one cell per column; a row with too many cells keeps the extra cells at the
    end (and a `problem`), a row with too few is padded with `None` (and a `problem`).
    Not frozen: a million frozen instances cost a second more to build.
    """

    row_number: int
    values: list[str | None]
    problem: str | None = None


# A source's rows from its first row, as lists of text ("" for an empty cell); a row's position
# in this iterator (from 1) is its row number.
RawRows = Callable[[], Iterator[list[str]]]


@dataclass
class TableReader:
    """A source opened for reading: its columns, how it was decoded, and a way to stream it.

    `batches()` may be called more than once; each call reads the source from the start.
    """

    source: str
    columns: list[str]
    has_header: bool
    encoding: str | None
    delimiter: str | None
    sheet: str | None
    warnings: list[str]
    max_cell_chars: int
    _raw_rows: RawRows = field(repr=False)
    first_row_number: int = 1
    """The row number of the header (or of the first data row without one)."""
    skipped_blank_rows: int = 0
    """Rows with no text at all, counted by the last full pass of `rows()`."""
    path: Path | None = None
    """The delimited text file being read (None for workbooks, pasted text and rows)."""

    def rows(self) -> Iterator[SourceRow]:
        """Every data row of the source, in order (the header is not a data row)."""
        for batch in self.batches():
            yield from batch

    def _irregular_row(self, row_number: int, cells: list[str]) -> SourceRow | None:
        """A row with a problem, or None for a blank row."""
        problems: list[str] = []
        if cells and cells[-1] is UNDECODABLE_MARK:
            cells = cells[:-1]
            problems.append(
                N_("some bytes are not valid {encoding}").format(encoding=self.encoding)
            )
        if not any(cells):
            return None
        width = len(self.columns)
        values: list[str | None] = [cell or None for cell in cells]
        if len(values) != width:
            problems.append(
                N_("row has {cells} cells, the header has {width}").format(
                    cells=len(values), width=width
                )
            )
            values.extend([None] * (width - len(values)))
        longest = max(map(len, cells))
        if longest > self.max_cell_chars:
            problems.append(
                N_("a cell has {length} characters, above the limit of {limit}").format(
                    length=longest, limit=self.max_cell_chars
                )
            )
        return SourceRow(row_number, values, "; ".join(problems) if problems else None)

    def batches(self, size: int = 10_000) -> Iterator[list[SourceRow]]:
        """The data rows in lists of at most `size` rows, read from the start of the source."""
        if size < 1:
            raise ValueError("batch size must be at least 1")
        width = len(self.columns)
        limit = self.max_cell_chars
        raw_rows = self._raw_rows()
        row_number = 0
        for _ in range(self.first_row_number - 1):  # blank rows above the table
            next(raw_rows, None)
            row_number += 1
        if self.has_header:
            next(raw_rows, None)
            row_number += 1
        self.skipped_blank_rows = 0
        batch: list[SourceRow] = []
        append = batch.append
        # The cyclic garbage collector is paused while a batch fills (never while the caller
        # holds it): rows make no reference cycles, and the collector's passes over millions
        # of young lists cost 13% of reading time.
        collecting = gc.isenabled()
        try:
            if collecting:
                gc.disable()
            for cells in raw_rows:
                row_number += 1
                # The common case: one length check and one pass over the cells in C. This
                # loop is the reader's cost per row on top of the csv module's: keep it short.
                if len(cells) == width and 0 < max(map(len, cells)) <= limit:
                    append(SourceRow(row_number, [cell or None for cell in cells]))
                else:
                    row = self._irregular_row(row_number, cells)
                    if row is None:
                        self.skipped_blank_rows += 1
                        continue
                    append(row)
                if len(batch) >= size:
                    if collecting:
                        gc.enable()
                    yield batch
                    if collecting:
                        gc.disable()
                    batch = []
                    append = batch.append
        finally:
            if collecting:
                gc.enable()
        if batch:
            yield batch


# ---------------------------------------------------------------------------------------------
# Entry points


def open_table(
    path: str | Path,
    *,
    sheet: str | int | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    has_header: bool | None = None,
    max_cell_chars: int = DEFAULT_MAX_CELL_CHARS,
) -> TableReader:
    """Open a CSV/TXT file or a workbook (XLSX, XLS, XLSB, ODS) for streaming its rows.

    `None` options are detected from the start of the file; `sheet` is a name or a 0-based
    index (default: the first sheet) and applies to workbooks only.
    """
    path = Path(path)
    if not path.is_file():
        raise ImportFileError(f"{path.name}: no such file")
    if path.stat().st_size == 0:
        raise ImportFileError(f"{path.name}: the file is empty")
    if path.suffix.lower() in SPREADSHEET_SUFFIXES:
        return _open_workbook(path, sheet, has_header, max_cell_chars)
    return _open_delimited(path, encoding, delimiter, has_header, max_cell_chars)


def open_rows(
    columns: list[str],
    rows: Callable[[], Iterator[list[str]]],
    *,
    source: str,
    max_cell_chars: int = DEFAULT_MAX_CELL_CHARS,
) -> TableReader:
    """Rows that are already cells of text (another database's profiles, say), given as a
    function that starts them from the beginning each time; rows are numbered from 1."""
    return TableReader(
        source=source,
        columns=list(columns),
        has_header=False,
        encoding=None,
        delimiter=None,
        sheet=None,
        warnings=[],
        max_cell_chars=max_cell_chars,
        _raw_rows=rows,
    )


def open_pasted(
    text: str,
    *,
    has_header: bool | None = None,
    max_cell_chars: int = DEFAULT_MAX_CELL_CHARS,
) -> TableReader:
    """Read text copied from Excel or Google Sheets: tab-separated, Excel-style quoting.

    Cells holding tabs, line breaks or quotes arrive quoted with doubled inner quotes, which is
    what the csv module's Excel dialect reads.
    """
    if not text.strip():
        raise ImportFileError("the pasted text is empty")
    text = text.removeprefix("\ufeff")

    def raw_rows() -> Iterator[list[str]]:
        return csv.reader(io.StringIO(text, newline=""), delimiter="\t")

    return _finish(
        source="pasted text",
        raw_rows=raw_rows,
        has_header=has_header,
        encoding=None,
        delimiter="\t",
        sheet=None,
        warnings=[],
        max_cell_chars=max_cell_chars,
    )


# ---------------------------------------------------------------------------------------------
# Delimited text


def _open_delimited(
    path: Path,
    encoding: str | None,
    delimiter: str | None,
    has_header: bool | None,
    max_cell_chars: int,
) -> TableReader:
    name = path.name
    with path.open("rb") as stream:
        sample = stream.read(SAMPLE_BYTES)
        complete = not stream.read(1)
    warnings: list[str] = []
    if encoding is None:
        encoding = detect_encoding(sample, name)
    else:
        try:
            codecs.lookup(encoding)
        except LookupError as error:
            raise ImportFileError(f"{name}: unknown encoding {encoding!r}") from error
    text = _decode_sample(sample, encoding, complete, name)
    if not text.strip():
        raise ImportFileError(f"{name}: the file is empty")
    if delimiter is None:
        delimiter = detect_delimiter(text, complete)
    elif len(delimiter) != 1:
        raise ImportFileError(f"{name}: the delimiter must be one character, not {delimiter!r}")

    def raw_rows() -> Iterator[list[str]]:
        return _read_delimited(path, encoding, delimiter)

    return _finish(
        source=name,
        raw_rows=raw_rows,
        has_header=has_header,
        encoding=encoding,
        delimiter=delimiter,
        sheet=None,
        warnings=warnings,
        max_cell_chars=max_cell_chars,
        path=path,
    )


def _count_undecodable(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: replace undecodable bytes with U+FFFD and count that it happened."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    _UNDECODABLE[0] += 1
    return "\ufffd", error.end


_UNDECODABLE = [0]
codecs.register_error("herald-import", _count_undecodable)


def _read_delimited(path: Path, encoding: str, delimiter: str) -> Iterator[list[str]]:
    """Rows of a delimited file; bytes the encoding cannot decode turn into U+FFFD, and once
    that has happened rows holding U+FFFD are marked (see `UNDECODABLE_MARK`)."""
    seen = _UNDECODABLE[0]
    with path.open("r", encoding=encoding, errors="herald-import", newline="") as text:
        rows_read = 0
        try:
            for cells in csv.reader(text, delimiter=delimiter):
                rows_read += 1
                if _UNDECODABLE[0] != seen and any("\ufffd" in cell for cell in cells):
                    cells.append(UNDECODABLE_MARK)
                yield cells
        except csv.Error as error:
            raise ImportFileError(
                f"{path.name}: row {rows_read + 1} cannot be read ({error}); a cell over"
                f" {CSV_FIELD_SIZE_LIMIT // (1024 * 1024)} MB usually means an unclosed quote"
            ) from error


class _UndecodableMark(str):
    """Appended to a raw row whose bytes did not decode; `TableReader.rows` turns it into a
    problem. A distinct object, so no cell text can be mistaken for it."""

    __slots__ = ()


UNDECODABLE_MARK = _UndecodableMark("")


def detect_encoding(sample: bytes, name: str = "the file") -> str:
    """The encoding of a text file from its first bytes: BOM, strict UTF-8, Cyrillic, guess."""
    for bom, encoding in _BOMS:
        if sample.startswith(bom):
            return encoding
    for magic, what in _MAGIC:
        if sample.startswith(magic):
            raise ImportFileError(f"{name}: this is {what}, not a text file")
    head = sample[:65536]
    controls = sum(head.count(byte) for byte in _CONTROL_BYTES)
    # A NUL is never text; a few other control characters are (Excel writes a vertical tab
    # for a line break in a cell, old tools end files with Ctrl-Z).
    if b"\0" in head or controls > max(8, len(head) // 100):
        utf16 = _utf16_without_bom(sample)
        if utf16:
            return utf16
        raise ImportFileError(f"{name}: the file holds binary data, not text")
    try:
        _incremental_decode(sample, "utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    cyrillic = _cyrillic_single_byte(sample)
    if cyrillic:
        return cyrillic
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is None:
        raise ImportFileError(
            f"{name}: the text encoding cannot be recognised; choose it explicitly"
        )
    return str(best.encoding)


def _utf16_without_bom(sample: bytes) -> str | None:
    """UTF-16 text without a BOM shows NUL in every other byte of its ASCII characters."""
    even, odd = sample[0::2], sample[1::2]
    if len(sample) >= 4 and odd.count(0) > 0.4 * len(odd) and even.count(0) == 0:
        encoding = "utf-16-le"
    elif len(sample) >= 4 and even.count(0) > 0.4 * len(even) and odd.count(0) == 0:
        encoding = "utf-16-be"
    else:
        return None
    try:
        _incremental_decode(sample[: len(sample) // 2 * 2], encoding)
    except UnicodeDecodeError:
        return None
    return encoding


def _cyrillic_single_byte(sample: bytes) -> str | None:
    """cp1251 or KOI8-R when nearly every non-ASCII character decodes to a Cyrillic letter.

    Statistical detectors mistake short Russian cp1251 text for cp1250; both single-byte
    Cyrillic encodings map the high bytes to letters, and the right one gives mostly
    lower-case letters (KOI8-R read as cp1251 inverts the case, and vice versa).
    """
    high = bytes(byte for byte in sample if byte >= 0x80)
    if not high:
        return None
    best: tuple[float, str] | None = None
    for encoding in ("cp1251", "koi8_r"):
        try:
            text = high.decode(encoding)
        except UnicodeDecodeError:
            continue
        letters = sum(1 for char in text if "\u0400" <= char <= "\u04ff")
        lower = sum(1 for char in text if "\u0430" <= char <= "\u044f" or char == "ё")
        if letters >= 0.9 * len(text) and lower > 0.5 * letters:
            score = lower / len(text)
            if best is None or score > best[0]:
                best = (score, encoding)
    return best[1] if best else None


def _incremental_decode(sample: bytes, encoding: str, final: bool = False) -> str:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    return decoder.decode(sample, final=final)


def _decode_sample(sample: bytes, encoding: str, complete: bool, name: str) -> str:
    try:
        return _incremental_decode(sample, encoding, final=complete)
    except UnicodeDecodeError as error:
        raise ImportFileError(
            f"{name}: the bytes are not valid {encoding} ({error.reason} at byte"
            f" {error.start}); choose the file's encoding explicitly"
        ) from error


def detect_delimiter(text: str, complete: bool = True) -> str:
    """The delimiter among , ; tab | that splits the sample's rows most consistently.

    Each candidate parses the sample's rows (the last, possibly cut, row is left out of a
    partial sample); the winner has most rows agreeing on one cell count above one, ties going
    to the candidate order. A file with one column reads as comma-separated.
    """
    lines = text.splitlines(keepends=True)
    if not complete and len(lines) > 1:
        lines = lines[:-1]
    lines = lines[: SAMPLE_ROWS * 4]
    best_delimiter, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        counts: dict[int, int] = {}
        try:
            for index, cells in enumerate(csv.reader(lines, delimiter=delimiter)):
                if index >= SAMPLE_ROWS:
                    break
                if cells:
                    counts[len(cells)] = counts.get(len(cells), 0) + 1
        except csv.Error:
            continue
        agreeing, width = max(((n, w) for w, n in counts.items() if w > 1), default=(0, 0))
        score = (agreeing, width)
        if score > best_score:
            best_delimiter, best_score = delimiter, score
    return best_delimiter


# ---------------------------------------------------------------------------------------------
# Workbooks


def _open_workbook(
    path: Path, sheet: str | int | None, has_header: bool | None, max_cell_chars: int
) -> TableReader:
    import python_calamine as calamine

    name = path.name
    try:
        workbook = calamine.CalamineWorkbook.from_path(str(path))
        sheet_names = list(workbook.sheet_names)
    except calamine.PasswordError as error:
        raise ImportFileError(f"{name}: the workbook is password-protected") from error
    except (calamine.CalamineError, OSError, ValueError) as error:
        raise ImportFileError(f"{name}: the workbook cannot be opened ({error})") from error
    except BaseException as error:
        if _is_rust_panic(error):  # a malformed file can make calamine's Rust code panic
            raise ImportFileError(f"{name}: the workbook cannot be opened ({error})") from error
        raise
    workbook.close()
    if not sheet_names:
        raise ImportFileError(f"{name}: the workbook has no sheets")
    if sheet is None:
        sheet_name = sheet_names[0]
    elif isinstance(sheet, int):
        if not 0 <= sheet < len(sheet_names):
            raise ImportFileError(
                f"{name}: there is no sheet number {sheet}; the sheets are {sheet_names}"
            )
        sheet_name = sheet_names[sheet]
    elif sheet in sheet_names:
        sheet_name = sheet
    else:
        raise ImportFileError(f"{name}: there is no sheet {sheet!r}; the sheets are {sheet_names}")

    def raw_rows() -> Iterator[list[str]]:
        try:
            book = calamine.CalamineWorkbook.from_path(str(path))
            worksheet = book.get_sheet_by_name(sheet_name)
            # Rows come from the sheet's row 1; columns start at the first used column.
            for cells in worksheet.iter_rows():
                yield [_cell_text(cell) for cell in cells]
        except calamine.CalamineError as error:
            raise ImportFileError(
                f"{name}: sheet {sheet_name!r} cannot be read ({error})"
            ) from error
        except BaseException as error:
            if _is_rust_panic(error):
                raise ImportFileError(
                    f"{name}: sheet {sheet_name!r} cannot be read ({error})"
                ) from error
            raise

    return _finish(
        source=f"{name} [{sheet_name}]",
        raw_rows=raw_rows,
        has_header=has_header,
        encoding=None,
        delimiter=None,
        sheet=sheet_name,
        warnings=[],
        max_cell_chars=max_cell_chars,
    )


def _is_rust_panic(error: BaseException) -> bool:
    """pyo3 turns a Rust panic into `PanicException`, a BaseException outside Exception."""
    return type(error).__name__ == "PanicException"


def _cell_text(cell: Any) -> str:
    """A workbook cell as text: whole numbers without '.0', dates and times as ISO text."""
    if cell is None:
        return ""
    if isinstance(cell, str):
        return cell
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, float):
        if cell.is_integer() and abs(cell) < 1e16:
            return str(int(cell))
        return repr(cell)
    if isinstance(cell, dt.datetime):
        if cell.time() == dt.time(0) and cell.tzinfo is None:
            return cell.date().isoformat()
        return cell.isoformat()
    if isinstance(cell, dt.date | dt.time):
        return cell.isoformat()
    if isinstance(cell, dt.timedelta):
        return str(cell)
    return str(cell)


# ---------------------------------------------------------------------------------------------
# Shared: header detection and naming


def _finish(
    *,
    source: str,
    raw_rows: RawRows,
    has_header: bool | None,
    encoding: str | None,
    delimiter: str | None,
    sheet: str | None,
    warnings: list[str],
    max_cell_chars: int,
    path: Path | None = None,
) -> TableReader:
    """Look at the first rows to name the columns, and build the reader."""
    sample: list[list[str]] = []
    first_number: int | None = None
    rows = raw_rows()
    try:
        for row_number, cells in enumerate(rows, start=1):
            if cells and cells[-1] is UNDECODABLE_MARK:
                cells = cells[:-1]
            if not any(cells):
                continue
            if first_number is None:
                first_number = row_number
            sample.append(cells)
            if len(sample) >= SAMPLE_ROWS:
                break
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()
    if not sample:
        raise ImportFileError(f"{source}: there are no rows")
    if has_header is None:
        has_header = looks_like_header(sample)
    if has_header:
        columns = unique_column_names(sample[0], warnings)
    else:
        width = max(len(cells) for cells in sample)
        columns = [f"column_{index}" for index in range(1, width + 1)]

    return TableReader(
        source=source,
        columns=columns,
        has_header=has_header,
        encoding=encoding,
        delimiter=delimiter,
        sheet=sheet,
        warnings=warnings,
        max_cell_chars=max_cell_chars,
        _raw_rows=raw_rows,
        first_row_number=first_number or 1,
        path=path,
    )


def looks_like_header(sample: Sequence[Sequence[str | None]]) -> bool:
    """Whether the first row names columns rather than holding data.

    A header row has a non-empty text in most cells and none that looks like data (a number,
    date, phone, e-mail, true/false). A table of plain text with no header is taken for one
    with a header: pass `has_header=False` for it.
    """
    first = sample[0]
    filled = [cell.strip() for cell in first if cell and cell.strip()]
    if not filled:
        return False
    if any(_DATA_LIKE.search(cell) for cell in filled):
        return False
    if len(sample) == 1:
        return True
    if len(filled) < len(first) / 2:
        return False
    return len(set(filled)) == len(filled) or len(filled) > 2


def unique_column_names(cells: Sequence[str | None], warnings: list[str]) -> list[str]:
    """Header cells as column names: stripped, empty ones `column_<n>`, repeats `<name>_<k>`."""
    stripped = [" ".join(cell.split()) if cell else "" for cell in cells]
    taken = {name for name in stripped if name}
    names: list[str] = []
    seen: set[str] = set()
    for index, name in enumerate(stripped, start=1):
        if not name:
            candidate = f"column_{index}"
            suffix = 2
            while candidate in taken or candidate in seen:
                candidate = f"column_{index}_{suffix}"
                suffix += 1
            warnings.append(f"column {index} has no name; it is called {candidate!r}")
            name = candidate
        elif name in seen:
            suffix = 2
            candidate = f"{name}_{suffix}"
            while candidate in taken or candidate in seen:
                suffix += 1
                candidate = f"{name}_{suffix}"
            warnings.append(f"column {index} repeats the name {name!r}; it is called {candidate!r}")
            name = candidate
        seen.add(name)
        names.append(name)
    return names


__all__ = [
    "ImportFileError",
    "SourceRow",
    "TableReader",
    "detect_delimiter",
    "detect_encoding",
    "looks_like_header",
    "open_pasted",
    "open_table",
    "unique_column_names",
]
