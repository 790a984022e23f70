"""Import a delimited UTF-8 file through DuckDB, with the same outcome as the Python reader.

DuckDB (a private in-memory connection, not the warehouse) reads the file with the delimiter,
header and encoding the Python reader settled, SQL decides the values it can be sure of
(`sql_normalize.py`), and the Python normalisers decide only the distinct values SQL left
undecided; their outcomes are joined back. Accepted rows come out as Arrow columns in source
order and rejected rows with their reasons and cells, which `run_import` writes as it does
on the Python path (landing files per reading batch, the rejects CSV through `ImportTally`).
tests/integration/test_import_duckdb_path.py runs both paths on the same files.

The DuckDB path is taken only where DuckDB's CSV parser and Python's csv module read the same
cells from the same bytes; otherwise `DuckDBPathUnavailable` says why, before anything is
written, and the caller reads the file in Python:

- UTF-8 (with or without a BOM) only; a row DuckDB cannot take (bad UTF-8, too few or too
  many cells, an unclosed quote, text after a closing quote) fails the read;
- no blank lines (DuckDB skips them, which would shift row numbers), no carriage return
  outside a CRLF pair, no space next to a quote (DuckDB trims ` "a"` and `"a" ` where Python
  keeps the spaces), no header cell spanning lines;
- no cell longer in bytes than the reader's limit in characters, no file over 1 GiB;
- anything else DuckDB fails at.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import mmap
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from herald.errors import HeraldError
from herald.i18n import N_
from herald.imports.normalize import FieldSpec, NormalizeOptions, _FieldColumn
from herald.imports.readers import DELIMITERS, TableReader
from herald.imports.sql_normalize import SqlValue, sql_text, stepped_query, strip_sql, value_sql

FAST_ENCODINGS = frozenset({"utf-8", "utf-8-sig"})
# A column is decided once per distinct value (and joined back) where it has at most one
# distinct value in BY_VALUE_SHARE rows; in smaller files every field is decided in place.
BY_VALUE_SHARE = 8
BY_VALUE_MIN_ROWS = 20_000
SCAN_CHUNK_BYTES = 1 << 20
# The DuckDB path holds the whole file and its outcome in memory (about seven times the file's
# size at its peak); a larger file takes the Python path, which streams.
MAX_FILE_BYTES = 1 << 30
_QUOTE, _LF, _CR, _SPACE = 0x22, 0x0A, 0x0D, 0x20


class DuckDBPathUnavailable(HeraldError):
    """The file cannot take the DuckDB path; the message says why (the Python path reads it).
    `unexpected` is true where DuckDB failed at what it should have done (worth a warning)."""

    def __init__(self, reason: str, *, unexpected: bool = False) -> None:
        super().__init__(reason)
        self.unexpected = unexpected


@dataclass
class DuckDBImport:
    """The normalised rows of a file read by DuckDB, ready to be written.

    `received` counts the rows read (blank rows are not rows, as on the Python path);
    `outcome` has one row per received row in source order: rid (the row's position in the
    raw table), row_number, reason (NULL where accepted), record_key, fields and batch (the
    Python path's reading batch of the row).
    """

    received: int
    columns: list[str]
    outcome: pa.Table
    _connection: duckdb.DuckDBPyConnection

    def accepted_batches(
        self,
    ) -> Iterator[tuple[pa.ChunkedArray, pa.ChunkedArray, pa.ChunkedArray]]:
        """Row numbers, record keys and `fields` texts of the accepted rows, grouped as the
        Python path's reading batches group them (only batches with accepted rows)."""
        table = self.outcome
        if table.column("reason").null_count != table.num_rows:
            table = table.filter(pc.is_null(table.column("reason")))
        if table.num_rows == 0:
            return
        batches = table.column("batch").to_numpy()
        starts = np.flatnonzero(np.diff(batches)) + 1
        bounds = [0, *starts.tolist(), table.num_rows]
        for start, end in itertools.pairwise(bounds):
            part = table.slice(start, end - start)
            yield part.column("row_number"), part.column("record_key"), part.column("fields")

    def rejected_rows(self) -> Iterator[tuple[int, str, list[str | None]]]:
        """Row number, reason and original cells of each rejected row, in source order."""
        rejected = self.outcome.filter(pc.is_valid(self.outcome.column("reason")))
        if rejected.num_rows == 0:
            return
        self._connection.register("rejected_rows", rejected.select(["rid", "row_number", "reason"]))
        cells = ", ".join(f"r.{_column(index)}" for index in range(len(self.columns)))
        # The rejected rows as the join's build side (the join order is as written here).
        cursor = self._connection.execute(
            f"select j.row_number, j.reason, {cells} from raw r"
            " join rejected_rows j on j.rid = r.rowid order by j.row_number"
        )
        while chunk := cursor.fetchmany(10_000):
            for row in chunk:
                yield int(row[0]), str(row[1]), list(row[2:])

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> DuckDBImport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _run(connection: duckdb.DuckDBPyConnection, statement: str) -> None:
    """Run a statement to its end (a CTAS leaves a result to drain in this DuckDB client)."""
    connection.execute(statement).fetchall()


def _column(index: int) -> str:
    return f"c{index}"


def check_reader(reader: TableReader) -> Path:
    """The file behind the reader, if DuckDB can read it as the reader would."""
    if reader.path is None:
        raise DuckDBPathUnavailable("not a delimited text file")
    if reader.encoding not in FAST_ENCODINGS:
        raise DuckDBPathUnavailable(f"encoding {reader.encoding}")
    if reader.delimiter not in DELIMITERS:
        raise DuckDBPathUnavailable(f"delimiter {reader.delimiter!r}")
    if reader.first_row_number != 1:
        raise DuckDBPathUnavailable("blank rows above the table")
    if reader.path.stat().st_size > MAX_FILE_BYTES:
        raise DuckDBPathUnavailable("a file this large is streamed in Python, in bounded memory")
    return reader.path


def scan_for_differences(path: Path, encoding: str) -> None:
    """Raise DuckDBPathUnavailable where DuckDB's CSV parser could read other cells than
    Python's csv module: blank lines, a lone carriage return, a space next to a quote, a BOM
    that Python keeps (explicit `utf-8`). A scan of the bytes in C (numpy), in two threads."""
    with path.open("rb") as stream, mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as view:
        data = np.frombuffer(view, dtype=np.uint8)
        try:
            reason = _scan(data, encoding)
        finally:
            del data
    if reason:
        raise DuckDBPathUnavailable(reason)


def _scan(data: np.ndarray, encoding: str) -> str | None:
    size = len(data)
    if size == 0:
        return "empty file"
    if encoding == "utf-8" and bytes(data[:3]) == codecs.BOM_UTF8:
        return "a BOM read as text"
    if data[0] in (_LF, _CR):
        return "a blank first line"

    def chunk(start: int) -> str | None:
        end = min(start + SCAN_CHUNK_BYTES, size)
        part = data[start:end]
        quotes = np.flatnonzero(part == _QUOTE) + start
        if len(quotes):
            before = quotes[quotes > 0] - 1
            after = quotes[quotes < size - 1] + 1
            if (data[before] == _SPACE).any() or (data[after] == _SPACE).any():
                return "a space next to a quote"
        feeds = np.flatnonzero(part == _LF) + start
        feeds = feeds[feeds > 0]
        previous = data[feeds - 1]
        if (previous == _LF).any():
            return "a blank line"
        crlf = feeds[previous == _CR]
        crlf = crlf[crlf > 1]
        if (data[crlf - 2] == _LF).any():
            return "a blank line"
        # Every carriage return must be followed by a line feed: count both.
        returns = int(np.count_nonzero(part == _CR))
        paired = int(np.count_nonzero(previous == _CR))
        if end < size and data[end - 1] == _CR:
            paired += int(data[end] == _LF)  # the pair straddles the chunk boundary
        if start > 0 and data[start] == _LF and data[start - 1] == _CR:
            paired -= 1  # counted in the chunk before
        if returns != paired:
            return "a carriage return without a line feed"
        return None

    with ThreadPoolExecutor(2) as pool:
        for reason in pool.map(chunk, range(0, size, SCAN_CHUNK_BYTES)):
            if reason:
                return reason
    return None


def _header_spans_lines(path: Path, reader: TableReader) -> bool:
    if not reader.has_header:
        return False
    with path.open("r", encoding=reader.encoding, errors="replace", newline="") as stream:
        sample = stream.read(1 << 20)
    first = next(csv.reader(io.StringIO(sample, newline=""), delimiter=reader.delimiter or ","))
    return any("\n" in cell or "\r" in cell for cell in first)


def import_with_duckdb(
    reader: TableReader,
    specs: Sequence[FieldSpec],
    options: NormalizeOptions,
    mapped_columns: Sequence[tuple[int, str]],
    key_index: int | None,
    key_column: str | None,
    import_id: str,
    batch_rows: int,
) -> DuckDBImport:
    """Read and normalise the reader's file in DuckDB; raise DuckDBPathUnavailable (before
    anything is written) where the file needs the Python path."""
    path = check_reader(reader)
    if _header_spans_lines(path, reader):
        raise DuckDBPathUnavailable("the header spans lines")
    scan_for_differences(path, str(reader.encoding))
    fields = _plan_fields(specs, options, mapped_columns)
    connection = duckdb.connect(":memory:")
    try:
        rows, blank_rows = _load(connection, path, reader, fields)
        outcome = _normalise(
            connection,
            reader,
            fields,
            key_index,
            key_column,
            import_id,
            batch_rows,
            blank_rows,
        )
    except duckdb.Error as error:  # whatever DuckDB cannot do, Python does
        connection.close()
        raise DuckDBPathUnavailable(f"DuckDB failed: {error}", unexpected=True) from error
    except BaseException:
        connection.close()
        raise
    return DuckDBImport(rows - blank_rows, list(reader.columns), outcome, connection)


@dataclass
class _PlannedField:
    spec: FieldSpec
    column: _FieldColumn
    number: int
    index: int | None
    """The position of the column holding the field's cells (None: every cell is empty)."""
    raw: str | None
    """That column's name in `raw`."""
    plan: SqlValue | None
    """How SQL decides the field's cells (None: it decides nothing, Python decides all)."""
    by_value: bool = True
    """Decide each distinct value once and join (few distinct values), or decide every cell
    where it is (many)."""


def _plan_fields(
    specs: Sequence[FieldSpec],
    options: NormalizeOptions,
    mapped_columns: Sequence[tuple[int, str]],
) -> list[_PlannedField]:
    source_of = {target: index for index, target in mapped_columns}  # the last column wins
    planned = []
    for number, spec in enumerate(specs):
        index = source_of.get(spec.name)
        raw = _column(index) if index is not None else None
        plan = value_sql(raw, f"f{number}", spec, options) if raw is not None else None
        planned.append(_PlannedField(spec, _FieldColumn(spec, options), number, index, raw, plan))
    return planned


def _load(
    connection: duckdb.DuckDBPyConnection,
    path: Path,
    reader: TableReader,
    fields: Sequence[_PlannedField],
) -> tuple[int, int]:
    """Read the file into the table `raw` (c0, c1, ...; rowid = position in the file);
    return how many rows it has and how many of them are blank. A field SQL decides is
    decided by distinct value where its column has at most one distinct value in
    BY_VALUE_SHARE rows (an estimate), cell by cell otherwise; only Python decides the rest,
    by distinct value."""
    width = len(reader.columns)
    columns = ", ".join(f"'{_column(index)}': 'VARCHAR'" for index in range(width))
    read = (
        f"read_csv({sql_text(str(path))}, delim = {sql_text(str(reader.delimiter))},"
        " quote = '\"', escape = '\"', header = false,"
        f" skip = {1 if reader.has_header else 0}, columns = {{{columns}}},"
        " auto_detect = false, strict_mode = true, null_padding = false,"
        " encoding = 'utf-8')"
    )
    try:
        _run(connection, f"create table raw as select * from {read}")
    except duckdb.Error as error:
        raise DuckDBPathUnavailable(f"DuckDB cannot read the file: {error}") from error
    cells = ", ".join(_column(index) for index in range(width))
    candidates = [item for item in fields if item.raw is not None and item.plan is not None]
    (rows,) = connection.execute("select count(*) from raw").fetchall()[0]
    rows = int(rows or 0)
    stats = _column_stats(connection, width)
    if stats is not None:
        # The statistics DuckDB keeps of a table cost nothing to read: the longest cell in
        # bytes, whether a column has an empty cell, and an estimate of distinct values.
        wide = max(item.longest_bytes for item in stats)
        blank = 0
        if all(item.has_null for item in stats):
            (blank,) = connection.execute(
                f"select count(*) from raw where coalesce({cells}) is null"
            ).fetchall()[0]
        estimates = [stats[item.index or 0].distinct_estimate for item in candidates]
    else:
        longest = ", ".join(f"coalesce(strlen({_column(index)}), 0)" for index in range(width))
        distinct = "".join(f", approx_count_distinct({item.raw})" for item in candidates)
        blank, wide, *estimates = connection.execute(
            f"select count(*) filter (where coalesce({cells}) is null),"
            f" max(greatest({longest}, 0)){distinct} from raw"
        ).fetchall()[0]
    if int(wide or 0) > reader.max_cell_chars:
        raise DuckDBPathUnavailable("a cell may be over the size limit")
    for item, estimate in zip(candidates, estimates, strict=True):
        item.by_value = rows >= BY_VALUE_MIN_ROWS and int(estimate or 0) * BY_VALUE_SHARE <= rows
    return rows, int(blank or 0)


@dataclass(frozen=True)
class _ColumnStats:
    longest_bytes: int
    has_null: bool
    distinct_estimate: int


def _column_stats(connection: duckdb.DuckDBPyConnection, width: int) -> list[_ColumnStats] | None:
    """DuckDB's statistics of each column of `raw`, or None where they cannot be read (an
    empty table; DuckDB before 2.0 gives them as text)."""
    if width == 0:
        return None
    try:
        rows = connection.execute(
            "select "
            + ", ".join(f"stats({_column(index)})" for index in range(width))
            + " from raw limit 1"
        ).fetchall()
    except duckdb.Error:
        return None
    stats = []
    for item in rows[0] if rows else ():
        if not isinstance(item, dict):
            return None
        longest, has_null, distinct = (
            item.get("max_string_length"),
            item.get("has_null"),
            item.get("approx_unique"),
        )
        if longest is None or has_null is None or distinct is None:
            return None
        stats.append(_ColumnStats(int(longest), bool(has_null), int(distinct)))
    return stats or None


def _normalise(
    connection: duckdb.DuckDBPyConnection,
    reader: TableReader,
    fields: Sequence[_PlannedField],
    key_index: int | None,
    key_column: str | None,
    import_id: str,
    batch_rows: int,
    blank_rows: int,
) -> pa.Table:
    """Every received row's number, reason, record key, `fields` text and batch.

    A field with few distinct values is decided once per value (SQL, then Python for what
    SQL left undecided) and joined in; the others are decided cell by cell into the table
    `decided`, and Python decides their distinct undecided values, joined in likewise.
    """
    empty = {item.number: _empty_outcome(item.column) for item in fields}
    by_value = {
        item.number: _value_table(connection, item)
        for item in fields
        if item.raw is not None and item.by_value
    }
    in_place = [item for item in fields if item.raw is not None and not item.by_value]
    decided: dict[int, tuple[str, str | None]] = {}
    rows_from = "(select rowid as rid, * from raw) r"
    if in_place:
        # Kept in a table, not decided inside the query that builds the rows: that query
        # runs a third slower with the decisions in it.
        values = ", ".join(
            f"(CASE WHEN {item.raw} IS NULL THEN {empty[item.number][0]}"
            f" ELSE {item.plan.value if item.plan else 'NULL'} END) as v{item.number}"
            for item in in_place
        )
        plans = [item.plan for item in in_place if item.plan is not None]
        # Joined to `raw` by position. (A copy of the cells beside the decisions, to build
        # the rows from one table on both cores, costs more than it saves.)
        source = stepped_query("select * from raw", plans)
        _run(connection, f"create table decided as select {values} from ({source})")
        for item in in_place:
            decided[item.number] = (f"d.v{item.number}", _leftover_table(connection, item))
        rows_from += " positional join decided d"
    # The joins as written: small value tables as build sides. The join-order optimiser
    # takes the filtered scan of the file for the smaller side and builds million-row hash
    # tables instead (a third of this query's time).
    _run(connection, "set disabled_optimizers = 'join_order,build_side_probe_side'")
    return _rows(
        connection,
        reader,
        fields,
        empty,
        by_value,
        decided,
        rows_from,
        key_index,
        key_column,
        import_id,
        batch_rows,
        blank_rows,
    )


def _rows(
    connection: duckdb.DuckDBPyConnection,
    reader: TableReader,
    fields: Sequence[_PlannedField],
    empty: dict[int, tuple[str, str]],
    by_value: dict[int, tuple[str, bool]],
    in_place: dict[int, tuple[str, str | None]],
    rows_from: str,
    key_index: int | None,
    key_column: str | None,
    import_id: str,
    batch_rows: int,
    blank_rows: int,
) -> pa.Table:
    """The outcome rows: rid, row_number, reason, record_key, fields, batch."""
    width = len(reader.columns)
    joins: list[str] = []
    values_sql: list[tuple[str, str]] = []
    errors: list[str] = []
    for item in fields:
        if item.raw is None:
            continue
        empty_value, empty_error = empty[item.number]
        raw = f"r.{item.raw}"
        alias = f"l{item.number}"
        error = "NULL"
        if item.number in by_value:
            table, has_errors = by_value[item.number]
            joins.append(f" left join {table} {alias} on {alias}.raw = {raw}")
            # A NULL value comes with an error (the row is rejected) or an empty cell.
            value = f"coalesce({alias}.value, {empty_value})"
            if has_errors:
                error = f"{alias}.error"
        else:
            value, leftovers = in_place[item.number]
            if leftovers is not None:
                joins.append(f" left join {leftovers} {alias} on {alias}.raw = {raw}")
                value = f"coalesce({value}, {alias}.value)"
                error = f"{alias}.error"
        values_sql.append((item.spec.name, value))
        if empty_error != "NULL":
            errors.append(f"(CASE WHEN {raw} IS NULL THEN {empty_error} ELSE {error} END)")
        elif error != "NULL":
            errors.append(error)

    from herald.profiles.records import _json_string

    # concat() takes NULL for '', unlike ||; a NULL value only comes with an error, and the
    # `fields` of a rejected row are never used.
    members = [
        f"{sql_text(str(_json_string(name)) + ': ')}, v{index}"
        for index, (name, _) in sorted(enumerate(values_sql), key=lambda pair: pair[1][0])
    ]
    fields_text = "concat('{', " + ", ', ', ".join(members) + ", '}')" if members else "'{}'"
    first_row = 2 if reader.has_header else 1
    error_names = [f"e{index}" for index in range(len(errors))]
    key = "NULL"
    record_key = f"concat({sql_text(import_id + ':')}, row_number)"
    if key_index is not None:
        key = strip_sql(f"r.{_column(key_index)}")
        empty_key = N_("empty key column {column}").format(column=repr(key_column))
        error_names.append(f"(CASE WHEN coalesce(k, '') = '' THEN {sql_text(empty_key)} END)")
        record_key = f"(CASE WHEN coalesce(k, '') <> '' THEN k ELSE {record_key} END)"
    reason = (
        f"nullif(concat_ws('; ', {', '.join(error_names)}), '')"
        if error_names
        else "CAST(NULL AS VARCHAR)"
    )
    cells = ", ".join(f"r.{_column(index)}" for index in range(width))
    batch = (
        f"(r.rid // {batch_rows})"
        if not blank_rows
        else f"((row_number() over (order by r.rid) - 1) // {batch_rows})"
    )
    inner = ", ".join(
        [
            "r.rid as rid",
            f"(r.rid + {first_row}) as row_number",
            f"{key} as k",
            f"{batch} as batch",
            *(f"{value} as v{index}" for index, (_, value) in enumerate(values_sql)),
            *(f"{error} as e{index}" for index, error in enumerate(errors)),
        ]
    )
    query = (
        f"select rid, row_number, {reason} as reason, {record_key} as record_key,"
        f" {fields_text} as fields, batch"
        f" from (select {inner} from {rows_from}{''.join(joins)}"
        f" where coalesce({cells}) is not null)"
    )
    table = connection.sql(query).to_arrow_table()
    order = table.column("rid").to_numpy()
    if len(order) > 1 and not bool(np.all(order[1:] > order[:-1])):
        table = table.take(pc.sort_indices(table, [("rid", "ascending")]))
    return table


def _empty_outcome(column: _FieldColumn) -> tuple[str, str]:
    """SQL literals for an empty cell's value JSON and error (or NULL)."""
    from herald.profiles.records import field_value_json

    value, error = column.outcome(None)
    if error is not None:
        return "NULL", sql_text(error)
    return sql_text(field_value_json(value)), "NULL"


def _python_outcomes(column: _FieldColumn, raws: Sequence[str]) -> pa.Table:
    """Each raw value's value JSON text (NULL where in error) and error, decided in Python."""
    from herald.profiles.records import field_value_json

    values: list[str | None] = []
    errors: list[str | None] = []
    for text in raws:
        value, error = column.outcome(text)
        values.append(field_value_json(value) if error is None else None)
        errors.append(error)
    return pa.table(
        {
            "raw": pa.array(raws, pa.string()),
            "value": pa.array(values, pa.string()),
            "error": pa.array(errors, pa.string()),
        }
    )


def _value_table(connection: duckdb.DuckDBPyConnection, item: _PlannedField) -> tuple[str, bool]:
    """A table of the field's distinct non-empty values with their value JSON and error:
    decided in SQL where it can, in Python for the rest; and whether any is in error."""
    raw = str(item.raw)
    distinct = f"select distinct {raw} from raw where {raw} is not null"
    name = f"values_{item.number}"
    if item.plan is None:
        undecided = [text for (text,) in connection.execute(distinct).fetchall()]
        outcomes = _python_outcomes(item.column, undecided)
        connection.register(f"python_{item.number}", outcomes)
        _run(
            connection, f"create table {name} as select raw, value, error from python_{item.number}"
        )
        return name, outcomes.column("error").null_count < outcomes.num_rows
    query = stepped_query(distinct, [item.plan])
    _run(
        connection,
        f"create table sql_{item.number} as select {raw} as raw, {item.plan.value} as value"
        f" from ({query})",
    )
    undecided = [
        text
        for (text,) in connection.execute(
            f"select raw from sql_{item.number} where value is null"
        ).fetchall()
    ]
    if not undecided:
        _run(
            connection,
            f"create table {name} as select raw, value, CAST(NULL AS VARCHAR) as error"
            f" from sql_{item.number}",
        )
        return name, False
    outcomes = _python_outcomes(item.column, undecided)
    connection.register(f"python_{item.number}", outcomes)
    _run(
        connection,
        f"create table {name} as select s.raw, coalesce(s.value, p.value) as value, p.error"
        f" from sql_{item.number} s left join python_{item.number} p on p.raw = s.raw",
    )
    return name, outcomes.column("error").null_count < outcomes.num_rows


def _leftover_table(connection: duckdb.DuckDBPyConnection, item: _PlannedField) -> str | None:
    """The Python outcomes of the distinct values SQL left undecided in a field decided
    cell by cell, or None where there are none."""
    raw = str(item.raw)
    undecided = [
        text
        for (text,) in connection.execute(
            f"select distinct r.{raw} from raw r positional join decided d"
            f" where r.{raw} is not null and d.v{item.number} is null"
        ).fetchall()
    ]
    if not undecided:
        return None
    name = f"python_{item.number}"
    connection.register(name, _python_outcomes(item.column, undecided))
    return name


__all__ = ["DuckDBImport", "DuckDBPathUnavailable", "import_with_duckdb", "scan_for_differences"]
