"""The DuckDB path of an import gives exactly what the Python path gives: the same accepted rows
with the same row numbers, keys and `fields` text, the same rejected rows with the same reasons
and report bytes, the same counts, warnings and landing files — whatever the file holds."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from herald.imports import open_table
from herald.imports.duckdb_csv import DuckDBPathUnavailable, import_with_duckdb
from herald.profiles import importing
from herald.profiles.databases import create_database
from herald.profiles.importing import ImportRequest, run_import
from herald.profiles.schema import load_schema
from herald.store import create_store_engine, migrate

REPO = Path(__file__).resolve().parents[2]
HEADER = [
    "id",
    "email",
    "phone",
    "given_name",
    "family_name",
    "date_of_birth",
    "city",
    "level",
    "bonus_points",
    "average_order",
    "email_opt_in",
    "first_order_at",
    "tags",
    "extra",
]


@pytest.fixture(params=["cell by cell", "by distinct value"])
def decided(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways the DuckDB path decides a column: every cell in place, or each distinct value
    once and joined back (chosen by the column's number of distinct values)."""
    from herald.imports import duckdb_csv

    if request.param == "by distinct value":
        monkeypatch.setattr(duckdb_csv, "BY_VALUE_MIN_ROWS", 0)
        monkeypatch.setattr(duckdb_csv, "BY_VALUE_SHARE", 0)
    else:
        monkeypatch.setattr(duckdb_csv, "BY_VALUE_MIN_ROWS", 10**12)
    return str(request.param)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("store")
    engine = create_store_engine(f"sqlite:///{folder / 'store.sqlite'}")
    migrate(engine)
    create_database(engine, load_schema(REPO / "docs" / "schemas" / "shop.yml"))
    return engine


def outcome(result: Any) -> dict[str, Any]:
    """Everything an import produced, with its import id taken out."""
    import_id = result.import_id
    rows = []
    for path in result.landing_files:
        for row in pq.read_table(path).to_pylist():
            assert row.pop("import_id") == import_id
            row.pop("imported_at")
            row["record_key"] = row["record_key"].replace(import_id, "IMPORT")
            rows.append(row)
    report = result.outcome.rejects_path
    return {
        "rows": rows,
        "files": [path.name.replace(import_id, "IMPORT") for path in result.landing_files],
        "received": result.outcome.received,
        "accepted": result.outcome.accepted,
        "rejected": result.outcome.rejected,
        "reasons": result.outcome.reasons,
        "warnings": result.outcome.warnings,
        "report": report.read_bytes() if report else None,
        "mapping": result.mapping,
    }


PATHS_TAKEN: list[str] = []


@pytest.fixture(autouse=True)
def paths_taken(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The path each import of a test took ("duckdb" or "python"), in order."""
    PATHS_TAKEN.clear()
    read = importing._read_with_duckdb

    def spied(*args: Any, **kwargs: Any) -> Any:
        fast = read(*args, **kwargs)
        PATHS_TAKEN.append("python" if fast is None else "duckdb")
        return fast

    monkeypatch.setattr(importing, "_read_with_duckdb", spied)
    return PATHS_TAKEN


def import_outcome(
    store: Any, home: Path, path: Path, request: ImportRequest, duckdb_path: bool, **options: Any
) -> dict[str, Any]:
    """The import's outcome, or the error it failed with."""
    try:
        reader = open_table(path, **options)
        result = run_import(store, home, reader, request, duckdb_path=duckdb_path, workers=0)
    except Exception as error:
        return {"error": type(error).__name__, "message": str(error)}
    return outcome(result)


def both_paths(
    store: Any, home: Path, path: Path, request: ImportRequest, **reader_options: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    fast = import_outcome(store, home, path, request, True, **reader_options)
    slow = import_outcome(store, home, path, request, False, **reader_options)
    return fast, slow


def takes_duckdb_path(path: Path, **reader_options: Any) -> bool:
    reader = open_table(path, **reader_options)
    try:
        with import_with_duckdb(reader, [], importing.NormalizeOptions(), [], None, None, "x", 10):
            return True
    except DuckDBPathUnavailable:
        return False


REQUEST = ImportRequest(database="shop", source="crm", key_column="id")

# Values of each column that sit on the edges of what SQL decides and what Python decides.
TRICKY: dict[str, list[str]] = {
    "id": ["1", "", " 7 ", "\u30007", "a b", "x\ty", "7", "\u00a0", "\u2028k\u2029"],
    "email": [
        "User.1@Mail.RU",
        " a@b.ru ",
        "<a@b.ru>",
        "mailto:A@B.ru",
        "ivan@пример.рф",
        "Ivan@Пример.РФ",
        "a..b@x.ru",
        "a@x--y.ru",
        "a@xn--e1afmkfd.xn--p1ai",
        "a@host.local",
        "a@b.onion",
        "a@b.TEST",
        "\u212a@x.com",
        "a@b",
        "a@b.c0m",
        "a@-x.ru",
        "x" * 65 + "@a.ru",
        "x" * 64 + "@a.ru",
        "a@" + "b" * 63 + ".ru",
        "a@" + "b" * 64 + ".ru",
        "user+tag@gmail.com",
        "o'brien@x.ie",
        "a@b.ru\u00a0",
        "\ta@b.ru",
        "A@B.R",
        "not-an-email",
    ],
    "phone": [
        "+7 916 123-45-67",
        "8 (916) 123-45-67",
        "89161234567",
        "79161234567",
        "9161234567",
        "+79161234567",
        "+44 20 7946 0958",
        "123",
        "8 800 555 35 35",
        "+7 (495) 123-45-67",
        "84951234567",
        "\u00a0+7 916 1234567",
        "8 916 123 45 67\u00a0",
        "+7-916-123-45-67",
        "007916123456",
        "+",
        "++79161234567",
        "+7 916 123-45-67 доб. 5",
        "7 7012345678",
        "+7 701 234 56 78",
        "87012345678",
        "8 (9161) 23-45-67",
        "+49 160 1234567",
        "49 160 1234567",
        "0 916 123 45 67",
        "9" * 65,
        "+1 650 253 0000",
        "1 650 253 0000",
    ],
    "given_name": [
        "Иван",
        " Anna  Lee ",
        "e\u0301",
        "Zoë",
        "a\tb",
        "a\nb",
        "x\u200by",
        "\u00a0Anna",
        "O'Brien",
        'He said"hi"',
        "=cmd|calc",
        "ǅ",
        "𝔘",
        "Ё ё",
        "a\\b",
        "Anna\u2028Lee",
        "\x1fA",
        "A\x7f",
        "Ångström",
        "I\u0307",
        "\u0418\u0306",
        "Ō",
        "«Ромашка» — №1…",
        "€5",
        "\u00ad",
    ],
    "date_of_birth": [
        "01.02.1990",
        "1990-02-01",
        "31.13.1990",
        "29.02.2023",
        "29.02.2024",
        "2024/2/3",
        "3/4/2024",
        "13/04/2024",
        "04/13/2024",
        "13/13/2024",
        "1.2.24",
        "20240305",
        "20241305",
        "5 марта 2024",
        "March 5, 2024",
        "2024-03-05T10:00:00",
        "2024-03-05 10:00",
        "0999-01-01",
        "1000-01-01",
        "2024-3-5",
        "2024.03.05",
        "2024-03.05",
        "٢٠٢٤-٠٣-٠٥",
        "12-31-2024",
        "31-12-2024",
        "00.01.2024",
        "2024-00-10",
        "9999-12-31",
        " 01.02.1990 ",
    ],
    "first_order_at": [
        "2024-03-05 13:22:00",
        "2024-03-05T13:22",
        "2024-03-05 24:00",
        "2024-03-05 23:59:59",
        "2024-03-05 13:60",
        "2024-03-05 13:22:60",
        "2024-02-30 10:00",
        "2024-03-05T13:22:00Z",
        "2024-03-05 13:22:00.123",
        "05.03.2024 13:22",
        "2024-03-05",
        "2024-03-05t13:22",
        "0999-03-05 13:22",
        "2024-03-05 13:22:00+03:00",
    ],
    "bonus_points": [
        "100",
        "1 000",
        "1,000",
        "1.5",
        "12.0",
        "-0",
        "+5",
        "007",
        "1e3",
        "99999999999999999999",
        "999999999999999999",
        " 5 ",
        "−5",
        "5\u00a0000",
        "- 5",
        "+-5",
    ],
    "average_order": [
        "1 234,56",
        "1234.56",
        "0,0001",
        "0.00001",
        "0.0001",
        "-0,00",
        "1.234.567,89",
        "1,234.5",
        "12",
        "1e10",
        "123456789012345678",
        "123456789012345",
        "12345678901234.5",
        "0.1",
        ".5",
        "5.",
        "€5",
        "000.5000",
        "-0",
        "+3,10",
        "1,234",
        "1 234 567",
        "999999999999999.9",
        "0,000000000000001",
    ],
    "email_opt_in": [
        *("да", "нет", "Yes", "NO", "1", "0", "TRUE", "✓", "–", "ДА", "İ", "x", "Д"),
        *("maybe", " y ", "ok", "Ok", "false", "F", "+", "-", "ложь", "Истина", "2"),
    ],
    "level": ["gold", "GOLD", " Silver ", "tin", "Gold  ", "bronze", "brONze", "silver\u00a0"],
    "city": ["Москва", "Санкт-Петербург", " Казань", "Нью  Йорк", "Köln", "東京"],
    "family_name": ["Иванов", "Smith", "", "van der Berg", "O’Neil"],
    "tags": ["a, b; c", "x", ",,", "a\nb", " ;"],
    "extra": ['{"b":[1,"й"],"a":null}', '{"a": 1}', "{bad", "[]", "1", '"x"'],
}

cell_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\r\x00"),
    max_size=12,
)


def column_values(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from(TRICKY[name]) | st.just("") | cell_text


rows_strategy = st.lists(
    st.tuples(*(column_values(name) for name in HEADER)), min_size=1, max_size=25
)


def write_csv(
    path: Path,
    rows: list[tuple[str, ...]],
    delimiter: str = ",",
    line_end: str = "\r\n",
    encoding: str = "utf-8",
) -> None:
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter, lineterminator=line_end)
    writer.writerow(HEADER)
    writer.writerows(rows)
    path.write_text(text.getvalue(), encoding=encoding, newline="")


def test_every_tricky_value_comes_out_the_same(store, tmp_path: Path, decided: str) -> None:  # type: ignore[no-untyped-def]
    longest = max(len(values) for values in TRICKY.values())
    rows = [
        tuple(
            TRICKY[name][(number + shift) % len(TRICKY[name])] for shift, name in enumerate(HEADER)
        )
        for number in range(longest * 2)
    ]
    path = tmp_path / "tricky.csv"
    write_csv(path, rows)
    assert takes_duckdb_path(path)

    fast, slow = both_paths(store, tmp_path, path, REQUEST)

    assert PATHS_TAKEN == ["duckdb"]
    assert fast == slow
    assert fast["accepted"] and fast["rejected"]


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=rows_strategy,
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    line_end=st.sampled_from(["\r\n", "\n"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig"]),
    keyed=st.booleans(),
)
def test_generated_files_come_out_the_same(  # type: ignore[no-untyped-def]
    store,
    tmp_path: Path,
    decided: str,
    rows: list[tuple[str, ...]],
    delimiter: str,
    line_end: str,
    encoding: str,
    keyed: bool,
) -> None:
    path = tmp_path / "generated.csv"
    write_csv(path, rows, delimiter, line_end, encoding)
    request = REQUEST if keyed else ImportRequest(database="shop", source="crm")
    try:
        readable = takes_duckdb_path(path)
    except Exception:  # the file cannot be opened: both paths fail alike, checked below
        readable = False
    PATHS_TAKEN.clear()  # one test function, many examples

    fast, slow = both_paths(store, tmp_path, path, request)

    if readable:  # DuckDB reads it, so nothing in normalising may make it give up
        assert PATHS_TAKEN == ["duckdb"]
    assert fast == slow
    if "error" not in fast:
        assert fast["received"] == fast["accepted"] + fast["rejected"]


def test_generated_client_lists_take_the_duckdb_path_and_come_out_the_same(
    store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, decided: str
) -> None:  # type: ignore[no-untyped-def]
    from tests.benchmarks.bench_import_read import write_clients

    monkeypatch.setattr(importing, "BATCH_ROWS", 700)
    path = tmp_path / "clients.csv"
    write_clients(path, 3000)
    mapping = {
        "first_name": "given_name",
        "last_name": "family_name",
        "birth_date": "date_of_birth",
        "registered_at": "first_order_at",
        "orders": "bonus_points",
        "total_spent": "average_order",
        "subscribed": "email_opt_in",
        "tier": "level",
    }
    request = ImportRequest(database="shop", source="crm", key_column="client_id", mapping=mapping)
    assert takes_duckdb_path(path)

    fast, slow = both_paths(store, tmp_path, path, request)

    assert PATHS_TAKEN == ["duckdb"]
    assert fast == slow
    assert len(fast["files"]) == 5
    assert fast["received"] == 3000


# Files the DuckDB path must leave to Python, and files it reads although they look odd.
ODD_FILES: dict[str, tuple[bytes, bool]] = {
    "blank line": (b"id,email\n1,a@b.ru\n\n2,c@d.ru\n", False),
    "blank line crlf": (b"id,email\r\n1,a@b.ru\r\n\r\n2,c@d.ru\r\n", False),
    "blank lines at the end": (b"id,email\n1,a@b.ru\n\n\n", False),
    "empty cells only": (b"id,email\n1,a@b.ru\n,\n2,c@d.ru\n", True),
    "quoted empty cells only": (b'id,email\n1,a@b.ru\n"",""\n2,c@d.ru\n', True),
    "ragged short": (b"id,email\n1\n2,c@d.ru\n", False),
    "ragged long": (b"id,email\n1,a@b.ru,x\n2,c@d.ru\n", False),
    "space before a quote": (b'id,email\n1, "a@b.ru"\n', False),
    "space after a quote": (b'id,email\n1,"a@b.ru" \n', False),
    "text after a quote": (b'id,email\n1,"a@b"x.ru\n', False),
    "quote inside a cell": (b'id,given_name\n1,a"b\n', True),
    "lone carriage return": (b"id,email\r1,a@b.ru\r2,c@d.ru\r", False),
    "carriage return in a quoted cell": (b'id,given_name\n1,"a\rb"\n', False),
    "line break in a quoted cell": (b'id,given_name\n1,"a\nb"\n2,c\n', True),
    "header spanning lines": (b'"i\nd",email\n1,a@b.ru\n', False),
    "bad utf-8": (b"id,email\n1,a@b.ru\n2,\xff\xfe@x.ru\n", False),
    "utf-8 bom": (b"\xef\xbb\xbfid,email\n1,a@b.ru\n", True),
    "no final line break": (b"id,email\n1,a@b.ru", True),
    "unclosed quote": (b'id,email\n1,"a@b.ru\n2,c@d.ru\n', False),
    "nul byte after the sample": (
        b"id,given_name\n" + b"1,abc\n" * 200_000 + b"2,a\x00b\n",
        True,
    ),
    "ctrl-z at the end": (b"id,email\n1,a@b.ru\n\x1a", False),
    "duplicate and empty headers": (b"id,email,email,\n1,a@b.ru,c@d.ru,x\n", True),
    "duplicate keys": (b"id,email\n1,a@b.ru\n1,c@d.ru\n 1 ,e@f.ru\n", True),
    "header only": (b"id,email\n", True),
    "no header": (b"1,a@b.ru\n2,c@d.ru\n", True),
    "one column": (b"email\na@b.ru\n\nc@d.ru\n", False),
    "semicolons": (b"id;email;phone\n1;A@B.RU;8 916 123-45-67\n", True),
    "utf-8 surrogate": (b"id,given_name\n1,x\xed\xa0\x80y\n", False),
    "utf-8 overlong": (b"id,given_name\n1,x\xc0\xafy\n", False),
    "utf-8 beyond unicode": (b"id,given_name\n1,x\xf4\x90\x80\x80y\n", False),
    "noncharacter": (b"id,given_name\n1,x\xef\xbf\xbfy\n", True),
    "crlf in a quoted cell": (b'id,given_name\r\n1,"x\r\ny"\r\n2,z\r\n', True),
    "null-like words": (b"id,given_name\n1,NULL\n2,\\N\n3,null\n", True),
    "utf-8 bom without header": (b"\xef\xbb\xbf1,a@b.ru\n2,c@d.ru\n", True),
    "tab before a quote": (b'id;given_name\n1;\t"a"\n', True),
}


@pytest.mark.parametrize("name", sorted(ODD_FILES))
def test_odd_files_come_out_the_same(store, tmp_path: Path, name: str, decided: str) -> None:  # type: ignore[no-untyped-def]
    content, duckdb_reads_it = ODD_FILES[name]
    path = tmp_path / "odd.csv"
    path.write_bytes(content)
    request = ImportRequest(database="shop", source="crm")
    assert takes_duckdb_path(path) == duckdb_reads_it

    fast, slow = both_paths(store, tmp_path, path, request)

    expected_path = "duckdb" if duckdb_reads_it else "python"
    if "error" not in fast:
        assert [expected_path] == PATHS_TAKEN
    assert fast == slow


def test_a_cell_over_the_size_limit_is_left_to_python(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "wide.csv"
    path.write_text("id,given_name\n1,Anna\n2," + "x" * 50 + "\n", encoding="utf-8")
    assert not takes_duckdb_path(path, max_cell_chars=20)

    fast, slow = both_paths(store, tmp_path, path, REQUEST, max_cell_chars=20)

    assert fast == slow
    assert fast["rejected"] == 1


def test_a_one_megabyte_cell_comes_out_the_same(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "big.csv"
    path.write_text("id,given_name\n1,Anna\n2," + "й" * 1_000_000 + "\n", encoding="utf-8")

    fast, slow = both_paths(store, tmp_path, path, REQUEST)

    assert fast == slow
    assert fast["accepted"] == 2


def test_cp1251_takes_the_python_path_with_the_same_outcome(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "cp1251.csv"
    path.write_text("id;given_name;city\n1;Иван;Москва\n2;Анна;\n", encoding="cp1251")
    assert not takes_duckdb_path(path)

    fast, slow = both_paths(store, tmp_path, path, REQUEST)

    assert fast == slow
    assert fast["accepted"] == 2


def test_explicit_utf8_keeps_the_bom_as_python_does(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf1,a@b.ru\n2,c@d.ru\n")
    options = {"encoding": "utf-8", "has_header": False}
    assert not takes_duckdb_path(path, **options)
    request = ImportRequest(database="shop", source="crm", mapping={"column_2": "email"})

    fast, slow = both_paths(store, tmp_path, path, request, **options)

    assert fast == slow
