"""Reading import files and pasted tables: formats, encodings, and every way a file goes wrong."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import gc
import io
import struct
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from herald.imports.normalize import FieldSpec, RowNormalizer
from herald.imports.readers import (
    ImportFileError,
    SourceRow,
    TableReader,
    detect_encoding,
    open_pasted,
    open_table,
)
from herald.imports.report import ImportCountMismatch, ImportOutcome, ImportTally, spreadsheet_safe

CLIENTS = [
    ["id", "name", "email", "phone"],
    ["1", "Иванов Иван", "ivan@mail.ru", "+7 916 123-45-67"],
    ["2", "Пётр Щукин", "petr@yandex.ru", "8 (903) 765-43-21"],
]


def write_csv(
    path: Path, rows: list[list[str]], encoding: str = "utf-8", delimiter: str = ","
) -> Path:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def all_rows(reader: TableReader, size: int = 1000) -> list[SourceRow]:
    return [row for batch in reader.batches(size) for row in batch]


def values(reader: TableReader) -> list[list[str | None]]:
    return [row.values for row in all_rows(reader)]


# --- encodings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("cp1251", "cp1251"),
        ("koi8_r", "koi8_r"),
        ("utf-16", "utf-16"),
    ],
)
def test_encodings_are_detected_and_cyrillic_reads_right(
    tmp_path: Path, encoding: str, expected: str
) -> None:
    reader = open_table(write_csv(tmp_path / "clients.csv", CLIENTS, encoding))

    assert reader.encoding == expected
    assert reader.columns == CLIENTS[0]
    assert values(reader) == CLIENTS[1:]


def test_short_cp1251_text_is_not_taken_for_cp1250(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    path.write_bytes("name,city\nЁлкин,Москва\n".encode("cp1251"))

    assert values(open_table(path)) == [["Ёлкин", "Москва"]]


def test_utf16_without_bom_is_detected() -> None:
    assert detect_encoding("id,name\n1,Анна\n".encode("utf-16-le")) == "utf-16-le"


def test_explicit_encoding_wins(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", CLIENTS, "cp1251")

    reader = open_table(path, encoding="cp1251")

    assert values(reader)[0][1] == "Иванов Иван"


def test_wrong_explicit_encoding_is_a_file_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", CLIENTS, "cp1251")

    with pytest.raises(ImportFileError, match="not valid utf-8"):
        open_table(path, encoding="utf-8")


def test_unknown_encoding_name_is_a_file_error(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="unknown encoding"):
        open_table(write_csv(tmp_path / "c.csv", CLIENTS), encoding="klingon")


def test_undecodable_bytes_after_the_sample_flag_their_row_only(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    head = "id,name\n" + "".join(f"{i},name{i}\n" for i in range(200_000))
    path.write_bytes(head.encode() + "999,Ёлкин\n1000,ok\n".encode("cp1251"))

    rows = all_rows(open_table(path))

    flagged = [row for row in rows if row.problem]
    assert len(rows) == 200_002
    assert [row.row_number for row in flagged] == [200_002]
    assert "not valid utf-8" in (flagged[0].problem or "")
    assert flagged[0].values[0] == "999"


# --- delimiters, quoting, header -----------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_are_detected(tmp_path: Path, delimiter: str) -> None:
    reader = open_table(write_csv(tmp_path / "c.txt", CLIENTS, delimiter=delimiter))

    assert reader.delimiter == delimiter
    assert values(reader) == CLIENTS[1:]


def test_quoted_cells_keep_delimiters_quotes_and_newlines(tmp_path: Path) -> None:
    rows = [["name", "note"], ['Ann "the boss"', "line 1\nline 2; with, commas"]]

    reader = open_table(write_csv(tmp_path / "q.csv", rows, delimiter=";"))

    assert reader.delimiter == ";"
    assert values(reader) == [rows[1]]


def test_row_numbers_count_source_rows_with_the_header_as_row_1(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text('id,note\n1,"two\nlines"\n\n3,x\n', encoding="utf-8")

    reader = open_table(path)

    assert [row.row_number for row in all_rows(reader)] == [2, 4]
    assert reader.skipped_blank_rows == 1


def test_file_without_header_gets_numbered_columns(tmp_path: Path) -> None:
    reader = open_table(write_csv(tmp_path / "c.csv", CLIENTS[1:]))

    assert reader.has_header is False
    assert reader.columns == ["column_1", "column_2", "column_3", "column_4"]
    assert [row.row_number for row in all_rows(reader)] == [1, 2]


def test_has_header_can_be_forced(tmp_path: Path) -> None:
    rows = [["Ann", "Smith"], ["Bob", "Jones"]]

    reader = open_table(write_csv(tmp_path / "c.csv", rows), has_header=False)

    assert values(reader) == rows


def test_empty_and_duplicate_header_names_become_unique_with_warnings(tmp_path: Path) -> None:
    rows = [["email", "", "email", " Name "], ["a@b.ru", "x", "c@d.ru", "Ann"]]

    reader = open_table(write_csv(tmp_path / "c.csv", rows))

    assert reader.columns == ["email", "column_2", "email_2", "Name"]
    assert len(reader.warnings) == 2


def test_header_only_file_has_no_rows(tmp_path: Path) -> None:
    reader = open_table(write_csv(tmp_path / "c.csv", CLIENTS[:1]))

    assert reader.columns == CLIENTS[0]
    assert all_rows(reader) == []


def test_ragged_rows_are_kept_and_flagged(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("a,b,c\n1,2,3\n4,5\n6,7,8,9\n", encoding="utf-8")

    rows = all_rows(open_table(path))

    assert [row.values for row in rows] == [
        ["1", "2", "3"],
        ["4", "5", None],
        ["6", "7", "8", "9"],
    ]
    assert [row.problem is None for row in rows] == [True, False, False]
    assert "2 cells" in (rows[1].problem or "")


def test_a_one_megabyte_cell_is_read(tmp_path: Path) -> None:
    big = "x" * 1_000_000
    reader = open_table(write_csv(tmp_path / "big.csv", [["id", "note"], ["1", big]]))

    (row,) = all_rows(reader)

    assert row.values == ["1", big]
    assert row.problem is None


def test_a_cell_over_the_limit_is_a_row_problem_not_a_crash(tmp_path: Path) -> None:
    rows = [["id", "note"], ["1", "x" * 5000], ["2", "ok"]]

    reader = open_table(write_csv(tmp_path / "big.csv", rows), max_cell_chars=1000)
    first, second = all_rows(reader)

    assert "above the limit" in (first.problem or "")
    assert second.problem is None


def test_an_unclosed_quote_swallowing_the_file_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text('id,note\n1,"never closed\n' + "x\n" * 9_000_000, encoding="utf-8")

    with pytest.raises(ImportFileError, match="row 2 cannot be read"):
        all_rows(open_table(path))


def test_garbage_collection_is_back_on_after_reading_or_abandoning(tmp_path: Path) -> None:
    rows = [["id"], *[[str(i)] for i in range(25)]]
    reader = open_table(write_csv(tmp_path / "c.csv", rows), has_header=True)

    batches = reader.batches(10)
    next(batches)
    assert gc.isenabled()
    batches.close()
    assert gc.isenabled()
    assert len(list(reader.rows())) == 25
    assert gc.isenabled()


def test_batches_have_the_requested_size(tmp_path: Path) -> None:
    rows = [["id"], *[[str(i)] for i in range(25)]]
    reader = open_table(write_csv(tmp_path / "c.csv", rows), has_header=True)

    sizes = [len(batch) for batch in reader.batches(10)]

    assert sizes == [10, 10, 5]


# --- bad files -------------------------------------------------------------------------------


def test_empty_file_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")

    with pytest.raises(ImportFileError, match="empty"):
        open_table(path)


def test_whitespace_only_file_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_bytes(b"\xef\xbb\xbf\r\n \r\n")

    with pytest.raises(ImportFileError, match="empty"):
        open_table(path)


def test_missing_file_is_a_file_error(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="no such file"):
        open_table(tmp_path / "nope.csv")


def test_binary_data_in_a_csv_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(bytes(range(256)) * 10)

    with pytest.raises(ImportFileError, match="binary"):
        open_table(path)


def test_a_few_control_characters_are_text_not_binary(tmp_path: Path) -> None:
    path = tmp_path / "vt.csv"
    path.write_bytes(b"id,note\n1,line one\x0bline two\n2,ok\n\x1a")

    assert values(open_table(path))[0] == ["1", "line one\x0bline two"]


def test_a_workbook_renamed_to_csv_is_named(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    workbook.save(tmp_path / "book.xlsx")
    path = tmp_path / "book.csv"
    path.write_bytes((tmp_path / "book.xlsx").read_bytes())

    with pytest.raises(ImportFileError, match="XLSX"):
        open_table(path)


# --- workbooks -------------------------------------------------------------------------------


@pytest.fixture
def workbook_path(tmp_path: Path) -> Path:
    workbook = openpyxl.Workbook()
    clients = workbook.active
    assert clients is not None
    clients.title = "Clients"
    clients.append(["id", "name", "born", "phone", "vip", "score", "visited"])
    clients.append([1, "Анна", dt.date(1990, 5, 1), 79161234567, True, 1.5, None])
    clients.append([2, "Bob", dt.datetime(1985, 1, 2), "+7 903 765-43-21", False, 3, None])
    clients.append([3, "Cy", None, None, None, None, dt.datetime(2024, 3, 5, 10, 20, 30)])
    orders = workbook.create_sheet("Orders")
    orders["B3"] = "order_id"
    orders["C3"] = "total"
    orders["B4"] = "A-1"
    orders["C4"] = 99.9
    path = tmp_path / "clients.xlsx"
    workbook.save(path)
    return path


def test_xlsx_first_sheet_by_default_with_dates_as_iso_text(workbook_path: Path) -> None:
    reader = open_table(workbook_path)

    assert reader.sheet == "Clients"
    assert reader.columns == ["id", "name", "born", "phone", "vip", "score", "visited"]
    assert values(reader) == [
        ["1", "Анна", "1990-05-01", "79161234567", "true", "1.5", None],
        ["2", "Bob", "1985-01-02", "+7 903 765-43-21", "false", "3", None],
        ["3", "Cy", None, None, None, None, "2024-03-05T10:20:30"],
    ]
    assert [row.row_number for row in all_rows(reader)] == [2, 3, 4]


@pytest.mark.parametrize("sheet", ["Orders", 1])
def test_xlsx_sheet_by_name_or_index_keeps_sheet_row_numbers(
    workbook_path: Path, sheet: str | int
) -> None:
    reader = open_table(workbook_path, sheet=sheet)

    assert reader.columns == ["order_id", "total"]
    assert [(row.row_number, row.values) for row in all_rows(reader)] == [(4, ["A-1", "99.9"])]


@pytest.mark.parametrize("sheet", ["Nope", 5])
def test_unknown_sheet_is_a_file_error_listing_the_sheets(
    workbook_path: Path, sheet: str | int
) -> None:
    with pytest.raises(ImportFileError, match="Clients"):
        open_table(workbook_path, sheet=sheet)


def test_broken_xlsx_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04this is not really a zip")

    with pytest.raises(ImportFileError, match="cannot be opened"):
        open_table(path)


def test_empty_sheet_is_a_file_error(tmp_path: Path) -> None:
    openpyxl.Workbook().save(tmp_path / "empty.xlsx")

    with pytest.raises(ImportFileError, match="no rows"):
        open_table(tmp_path / "empty.xlsx")


def test_text_file_named_xls_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "fake.xls"
    path.write_text("id,name\n1,Ann\n")

    with pytest.raises(ImportFileError):
        open_table(path)


def test_xls_sheets_are_read_by_calamine(tmp_path: Path) -> None:
    rows: list[list[XlsCell]] = [
        ["id", "name", "born", "vip"],
        [1.0, "Анна", dt.date(1990, 5, 1), True],
        [2.5, "Bob", None, False],
    ]
    path = write_xls(tmp_path / "clients.xls", {"Клиенты": rows, "Other": [["x"], ["y"]]})

    reader = open_table(path)

    assert reader.sheet == "Клиенты"
    assert values(reader) == [["1", "Анна", "1990-05-01", "true"], ["2.5", "Bob", None, "false"]]
    assert values(open_table(path, sheet="Other", has_header=False)) == [["x"], ["y"]]


# --- pasted text ---------------------------------------------------------------------------------


def test_pasted_excel_cells_with_tabs_newlines_and_quotes() -> None:
    text = 'name\tnote\r\nAnn\t"two\nlines"\r\nBob\t"has\ttab and ""quotes"""\r\n'

    reader = open_pasted(text)

    assert reader.columns == ["name", "note"]
    assert values(reader) == [["Ann", "two\nlines"], ["Bob", 'has\ttab and "quotes"']]


def test_pasted_data_without_header() -> None:
    reader = open_pasted("ivan@mail.ru\t+79161234567\npetr@ya.ru\t+79037654321")

    assert reader.columns == ["column_1", "column_2"]
    assert len(values(reader)) == 2


def test_empty_paste_is_a_file_error() -> None:
    with pytest.raises(ImportFileError):
        open_pasted(" \n\t\n")


# --- outcome and rejects ------------------------------------------------------------------------


def test_rejects_file_defuses_formulas_and_counts_add_up(tmp_path: Path) -> None:
    tally = ImportTally(tmp_path / "rejects.csv", ["name", "note"])
    tally.accept(3)
    tally.reject(5, "email: invalid email: x", ['=HYPERLINK("x")', "+1"])
    tally.reject(6, "phone: invalid phone", ["Ann", None])

    outcome = tally.finish(received=5)

    assert (outcome.accepted, outcome.rejected) == (3, 2)
    assert outcome.rejects_path is not None
    with outcome.rejects_path.open(encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.reader(stream))
    assert rows == [
        ["row_number", "reason", "name", "note"],
        ["5", "email: invalid email: x", '\'=HYPERLINK("x")', "'+1"],
        ["6", "phone: invalid phone", "Ann", ""],
    ]


def test_every_row_of_a_file_is_accepted_or_rejected(tmp_path: Path) -> None:
    path = tmp_path / "clients.csv"
    path.write_text(
        "email;phone\nivan@mail.ru;+7 916 123-45-67\nnot-an-email;8 903 765 43 21\n"
        "anna@ya.ru;123\nbob@ya.ru\n;\nolga@bk.ru;89161112233\n",
        encoding="utf-8",
    )
    reader = open_table(path)
    normalise = RowNormalizer(
        [FieldSpec("email", identifier="email", required=True), FieldSpec("phone", "phone")]
    )
    tally = ImportTally(tmp_path / "rejects.csv", reader.columns)
    received = 0
    for batch in reader.batches(2):
        for row in batch:
            received += 1
            _clean, errors = normalise(dict(zip(reader.columns, row.values, strict=False)))
            problems = [row.problem] if row.problem else []
            if problems or errors:
                tally.reject(row.row_number, "; ".join(problems + errors), row.values)
            else:
                tally.accept()

    outcome = tally.finish(received, reader.warnings)

    assert (outcome.received, outcome.accepted, outcome.rejected) == (5, 2, 3)
    assert reader.skipped_blank_rows == 1
    assert outcome.rejects_path is not None
    rejected = list(csv.reader(outcome.rejects_path.open(encoding="utf-8-sig", newline="")))
    assert [row[0] for row in rejected[1:]] == ["3", "4", "5"]


def test_outcome_counts_that_do_not_add_up_are_refused() -> None:
    with pytest.raises(ImportCountMismatch):
        ImportOutcome(received=10, accepted=7, rejected=2)


@pytest.mark.parametrize("cell", ["=1+1", "+7", "-3", "@SUM(A1)", "\tx", "\rx"])
def test_formula_like_cells_are_prefixed(cell: str) -> None:
    assert spreadsheet_safe(cell) == "'" + cell


# --- fuzz ------------------------------------------------------------------------------------


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=2000))
def test_arbitrary_bytes_read_or_fail_with_import_file_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.csv"
    path.write_bytes(data)
    try:
        reader = open_table(path)
        for row in all_rows(reader, 7):
            assert row.row_number >= 1
    except ImportFileError:
        pass


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=2000))
def test_arbitrary_bytes_as_xlsx_fail_only_with_import_file_error(
    tmp_path: Path, data: bytes
) -> None:
    path = tmp_path / "fuzz.xlsx"
    path.write_bytes(data)
    with contextlib.suppress(ImportFileError):
        all_rows(open_table(path))


def _small_xlsx_bytes() -> bytes:
    buffer = io.BytesIO()
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["id", "name", "born"])
    sheet.append([1, "Анна", dt.date(1990, 5, 1)])
    workbook.save(buffer)
    return buffer.getvalue()


SMALL_XLSX = _small_xlsx_bytes()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cut=st.integers(min_value=0, max_value=len(SMALL_XLSX)),
    flips=st.lists(
        st.tuples(st.integers(min_value=0, max_value=len(SMALL_XLSX) - 1), st.integers(0, 255)),
        max_size=8,
    ),
)
def test_damaged_xlsx_fails_only_with_import_file_error(
    tmp_path: Path, cut: int, flips: list[tuple[int, int]]
) -> None:
    damaged = bytearray(SMALL_XLSX)
    for position, byte in flips:
        damaged[position] = byte
    path = tmp_path / "damaged.xlsx"
    path.write_bytes(bytes(damaged[: max(cut, 1)]))

    with contextlib.suppress(ImportFileError):
        all_rows(open_table(path))


cell_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=12,
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    table=st.integers(min_value=1, max_value=5).flatmap(
        lambda width: st.lists(st.lists(cell_text, min_size=width, max_size=width), max_size=8)
    ),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
)
def test_text_tables_round_trip_through_csv(
    tmp_path: Path, table: list[list[str]], delimiter: str, encoding: str
) -> None:
    width = len(table[0]) if table else 1
    header = [f"field_{index}" for index in range(width)]
    path = write_csv(tmp_path / "rt.csv", [header, *table], encoding, delimiter)

    reader = open_table(path, delimiter=delimiter, has_header=True, encoding=encoding)

    expected = [[cell or None for cell in row] for row in table if any(row)]
    assert reader.columns == header
    assert values(reader) == expected


printable_cell = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), whitelist_characters="\t\n"),
    max_size=12,
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    table=st.lists(st.lists(printable_cell, min_size=3, max_size=3), min_size=1, max_size=8),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32"]),
)
def test_text_tables_round_trip_with_detected_encoding(
    tmp_path: Path, table: list[list[str]], delimiter: str, encoding: str
) -> None:
    header = ["first", "second", "third"]
    path = write_csv(tmp_path / "rt.csv", [header, *table], encoding, delimiter)

    reader = open_table(path, delimiter=delimiter, has_header=True)

    assert values(reader) == [[cell or None for cell in row] for row in table if any(row)]


# --- a minimal BIFF8 .xls writer (no xlwt here; calamine's .xls path needs a real file) -----

XlsCell = str | float | bool | dt.date | None


def _record(kind: int, body: bytes) -> bytes:
    return struct.pack("<HH", kind, len(body)) + body


def _bof(sheet_type: int) -> bytes:
    return _record(0x0809, struct.pack("<HHHHII", 0x0600, sheet_type, 0x0DBB, 0x07CC, 0, 6))


def _xf(number_format: int, style: bool) -> bytes:
    flags = 0xFFF5 if style else 0x0001
    return _record(0x00E0, struct.pack("<HHH", 0, number_format, flags) + bytes(14))


def _cell(row: int, column: int, value: XlsCell) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bool):
        return _record(0x0205, struct.pack("<HHHBB", row, column, 15, int(value), 0))
    if isinstance(value, dt.date):
        serial = (value - dt.date(1899, 12, 30)).days
        return _record(0x0203, struct.pack("<HHHd", row, column, 16, float(serial)))
    if isinstance(value, int | float):
        return _record(0x0203, struct.pack("<HHHd", row, column, 15, float(value)))
    text = value.encode("utf-16-le")
    return _record(0x0204, struct.pack("<HHHHB", row, column, 15, len(value), 1) + text)


def _sheet(rows: list[list[XlsCell]]) -> bytes:
    width = max((len(row) for row in rows), default=0)
    body = _bof(0x0010)
    body += _record(0x0200, struct.pack("<IIHHH", 0, len(rows), 0, width, 0))
    for row_index, row in enumerate(rows):
        for column_index, value in enumerate(row):
            body += _cell(row_index, column_index, value)
    return body + _record(0x000A, b"")


def _workbook_stream(sheets: dict[str, list[list[XlsCell]]]) -> bytes:
    head = _bof(0x0005) + _record(0x0042, struct.pack("<H", 1200))
    head += _record(0x0022, struct.pack("<H", 0))
    # 15 style XFs and the cell XF 15 (General), then XF 16 with built-in format 14 (a date).
    head += b"".join(_xf(0, True) for _ in range(15)) + _xf(0, False) + _xf(14, False)
    sheet_bodies = [_sheet(rows) for rows in sheets.values()]
    bound_sizes = [4 + 8 + len(name.encode("utf-16-le")) for name in sheets]
    offset = len(head) + sum(bound_sizes) + 4  # + the globals' EOF record
    bound = b""
    for name, body in zip(sheets, sheet_bodies, strict=True):
        encoded = name.encode("utf-16-le")
        bound += _record(0x0085, struct.pack("<IBBBB", offset, 0, 0, len(name), 1) + encoded)
        offset += len(body)
    return head + bound + _record(0x000A, b"") + b"".join(sheet_bodies)


def _directory_entry(name: str, kind: int, child: int, start: int, size: int) -> bytes:
    encoded = (name + "\0").encode("utf-16-le") if name else b""
    nostream = 0xFFFFFFFF
    return (
        encoded.ljust(64, b"\0")
        + struct.pack("<HBB", len(encoded), kind, 1 if name else 0)
        + struct.pack("<III", nostream, nostream, child)
        + bytes(16 + 4 + 16)
        + struct.pack("<IQ", start, size)
    )


def write_xls(path: Path, sheets: dict[str, list[list[XlsCell]]]) -> Path:
    """An .xls (BIFF8 in a version-3 compound file) holding `sheets` (name → rows)."""
    stream = _workbook_stream(sheets)
    stream = stream.ljust(max(len(stream), 4096), b"\0")  # above the mini-stream cut-off
    stream_sectors = -(-len(stream) // 512)
    if stream_sectors > 126:
        raise ValueError("this writer holds up to 64 KB of workbook")
    end_of_chain, free, fat_sector = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    fat = [fat_sector, end_of_chain]
    fat += [2 + index + 1 for index in range(stream_sectors - 1)] + [end_of_chain]
    fat += [free] * (128 - len(fat))
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16)
    header += struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + bytes(6)
    header += struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, end_of_chain, 0, end_of_chain, 0)
    header += struct.pack("<109I", 0, *([free] * 108))
    directory = _directory_entry("Root Entry", 5, 1, end_of_chain, 0)
    directory += _directory_entry("Workbook", 2, 0xFFFFFFFF, 2, len(stream))
    directory += _directory_entry("", 0, 0xFFFFFFFF, 0, 0) * 2
    body = struct.pack("<128I", *fat) + directory + stream.ljust(stream_sectors * 512, b"\0")
    path.write_bytes(header + body)
    return path
