"""Importing into a profile database: every row accepted or rejected with its reason, the
accepted ones loaded into the warehouse by a Dagster run."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from herald.errors import HeraldError
from herald.imports import FieldSpec, open_pasted, open_table
from herald.profiles.databases import create_database
from herald.profiles.importing import ImportRequest, ImportSetupError, run_import
from herald.profiles.records import field_json, fields_json, fields_json_rows
from herald.profiles.schema import load_schema
from herald.store import ProfileImport, create_store_engine, migrate, session_scope
from tests.support.cli import run_herald as run_cli

REPO = Path(__file__).resolve().parents[2]
CLIENTS = (
    "id;E-mail;Phone;given_name;date_of_birth;level;Bonus\n"
    "1;Ivan.Petrov@Mail.RU;8 916 123-45-67;Иван;01.02.1990;gold;100\n"
    "2;not-an-email;+44 20 7946 0958;Anna;1985-07-15;silver;5\n"
    "3;x@y.ru;;Sean;31.13.1990;bronze;\n"
    "4;=cmd|calc;;Eve;;platinum;1\n"
    "5;anna@example.com;+44 20 7946 0958;Anna;15.07.1985;silver;7\n"
)
MAPPING = {"E-mail": "email", "Phone": "phone", "Bonus": "bonus_points"}


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = create_store_engine(f"sqlite:///{tmp_path / 'store.sqlite'}")
    migrate(engine)
    create_database(engine, load_schema(REPO / "docs" / "schemas" / "shop.yml"))
    return engine


def test_every_row_is_accepted_or_rejected_with_its_reason(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "clients.csv"
    path.write_text(CLIENTS, encoding="cp1251")
    request = ImportRequest(database="shop", source="crm", key_column="id", mapping=MAPPING)

    result = run_import(store, tmp_path, open_table(path), request)

    assert (result.outcome.received, result.outcome.accepted, result.outcome.rejected) == (5, 2, 3)
    report = result.outcome.rejects_path
    assert report is not None
    lines = report.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "row_number,reason,id,E-mail,Phone,given_name,date_of_birth,level,Bonus"
    assert lines[1].startswith("3,email: invalid email")
    assert lines[2].startswith("4,date_of_birth: invalid date")
    assert "'=cmd|calc" in lines[3]  # a formula is neutralised in the report
    with session_scope(store) as session:
        entry = session.query(ProfileImport).filter_by(import_id=result.import_id).one()
        assert (entry.status, entry.received, entry.accepted, entry.rejected) == (
            "succeeded",
            5,
            2,
            3,
        )
        assert entry.report_path == str(report)


def test_accepted_records_carry_lineage_and_normalised_fields(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "clients.csv"
    path.write_text(CLIENTS, encoding="utf-8")
    request = ImportRequest(database="shop", source="crm", key_column="id", mapping=MAPPING)
    result = run_import(store, tmp_path, open_table(path), request)
    import pyarrow.parquet as pq

    [landing] = result.landing_files
    rows = pq.read_table(landing).to_pylist()
    assert [(row["record_key"], row["row_number"]) for row in rows] == [("1", 2), ("5", 6)]
    ivan = json.loads(rows[0]["fields"])
    assert ivan == {
        "bonus_points": 100,
        "date_of_birth": "1990-02-01",
        "email": "ivan.petrov@mail.ru",
        "given_name": "Иван",
        "level": "gold",
        "phone": "+79161234567",
    }
    assert {row["import_id"] for row in rows} == {result.import_id}
    assert {row["database"] for row in rows} == {"shop"}


def test_pasted_text_imports_with_row_keys_from_the_import(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pasted = "email\tphone\tlevel\nA@B.RU\t89161112233\tgold\n"
    result = run_import(
        store, tmp_path, open_pasted(pasted), ImportRequest(database="shop", source="paste")
    )
    assert (result.outcome.accepted, result.outcome.rejected) == (1, 0)
    import pyarrow.parquet as pq

    [row] = pq.read_table(result.landing_files[0]).to_pylist()
    assert row["record_key"] == f"{result.import_id}:2"


@pytest.mark.parametrize(
    ("request_args", "message"),
    [
        ({"mapping": {"nope": "email"}}, "--map names columns the file does not have: nope"),
        ({"mapping": {"email": "mail"}}, "--map names fields the database does not have: mail"),
        ({"key_column": "missing"}, "--key 'missing' is not a column"),
        ({"match_fields": ("email", "shoe_size")}, "--match names unknown fields: shoe_size"),
    ],
)
def test_a_mapping_that_does_not_fit_the_schema_is_refused_before_reading(
    store,
    tmp_path: Path,
    request_args: dict,
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    reader = open_pasted("email\tlevel\na@b.ru\tgold\n")
    with pytest.raises(ImportSetupError, match=message.replace("(", r"\(")):
        run_import(
            store, tmp_path, reader, ImportRequest(database="shop", source="x", **request_args)
        )
    with session_scope(store) as session:
        assert session.query(ProfileImport).count() == 0


def test_a_required_field_without_a_column_is_refused(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from herald.profiles.databases import apply_schema
    from herald.profiles.schema import parse_schema_yaml

    apply_schema(
        store,
        parse_schema_yaml(
            "database: b2b\nfields:\n"
            "  - {name: inn, type: string, identifier: external_id, required: true}\n"
        ),
    )
    with pytest.raises(ImportSetupError, match="required fields have no column: inn"):
        run_import(
            store,
            tmp_path,
            open_pasted("email\na@b.ru\n"),
            ImportRequest(database="b2b", source="x"),
        )


def test_cli_import_reads_reports_and_loads_into_the_warehouse(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run_cli(["db", "apply", "--schema", "docs/schemas/shop.yml"], home).returncode == 0
    path = tmp_path / "clients.csv"
    path.write_text(CLIENTS, encoding="utf-8")
    args = ["import", str(path), "--db", "shop", "--source", "crm", "--key", "id"]
    args += [f"--map={column}={target}" for column, target in MAPPING.items()]
    done = run_cli(args, home)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["received"], summary["accepted"], summary["rejected"]) == (5, 2, 3)
    assert summary["loaded"] is True and Path(summary["report"]).exists()
    counted = run_cli(
        ["sql", "select count(*) as n from stg_profiles__records", "--format", "csv"], home
    )
    assert counted.stdout.splitlines() == ["n", "2"]
    pasted = run_cli(["import", "--paste", "--db", "shop"], home, stdin="email\na@b.ru\n")
    assert json.loads(pasted.stdout)["accepted"] == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\x00\x01\x02PK\x03\x04binary", ""),
    ],
)
def test_cli_import_of_a_bad_file_is_one_clear_line(
    tmp_path: Path, content: bytes, message: str
) -> None:
    home = tmp_path / "home"
    run_cli(["db", "apply", "--schema", "docs/schemas/shop.yml"], home)
    path = tmp_path / "clients.csv"
    path.write_bytes(content)
    done = run_cli(["import", str(path), "--db", "shop"], home)
    assert done.returncode == 1
    assert done.stderr.startswith("herald: ") and message in done.stderr
    assert "Traceback" not in done.stderr
    unknown = run_cli(["import", str(path), "--db", "nope"], home)
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr


def test_herald_error_is_the_base_of_setup_errors() -> None:
    assert issubclass(ImportSetupError, HeraldError)


# --- speed without changes: batches, column-wise normalising, worker processes ----------------


def many_clients(rows: int = 400) -> str:
    """A client list with good and bad cells of every kind, an empty key and a wide row."""
    lines = ["id;E-mail;Phone;given_name;date_of_birth;level;Bonus;extra"]
    for number in range(1, rows + 1):
        cells = [
            "" if number == 17 else str(number),
            ["User.{0}@Mail.RU", "bad-{0}", "", "u{0}@x.ru"][number % 4].format(number),
            ["8 916 123-45-{0:02d}", "+44 20 7946 0958", "123", ""][number % 4].format(
                number % 100
            ),
            ["Иван", " Anna  Lee ", ""][number % 3],
            ["01.02.1990", "1985-07-15", "31.13.1990", ""][number % 5 % 4],
            ["gold", "Silver", "tin", ""][number % 7 % 4],
            ["100", "1 000", "1.5", ""][number % 6 % 4],
            ['{"b": [1, "й"], "a": null}', "", "{bad"][number % 11 % 3],
        ]
        lines.append(";".join(cell.replace(";", ",") for cell in cells))
        if number == 23:
            lines.append("23b;too;many;cells;;;;;;")
    return "\n".join(lines) + "\n"


MANY_CLIENTS = many_clients()
MANY_MAPPING = {"E-mail": "email", "Phone": "phone", "Bonus": "bonus_points"}


def landing_rows(result) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    import pyarrow.parquet as pq

    rows = []
    for path in result.landing_files:
        for row in pq.read_table(path).to_pylist():
            row.pop("import_id"), row.pop("imported_at")
            rows.append(row)
    return rows


@pytest.mark.parametrize("workers", [0, 2])
def test_an_import_in_batches_gives_what_rows_normalised_one_by_one_give(
    store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:  # type: ignore[no-untyped-def]
    from herald.imports import NormalizeOptions, RowNormalizer
    from herald.profiles import importing
    from herald.profiles.databases import get_database

    monkeypatch.setattr(importing, "BATCH_ROWS", 37)
    path = tmp_path / "clients.csv"
    path.write_text(MANY_CLIENTS, encoding="utf-8")
    request = ImportRequest(database="shop", source="crm", key_column="id", mapping=MANY_MAPPING)

    result = run_import(store, tmp_path, open_table(path), request, workers=workers)

    # The reference: every row normalised on its own, its fields written by json.dumps.
    reader = open_table(path)
    mapping = result.mapping
    fields = [
        FieldSpec(
            item.name,
            item.type,
            item.identifier,
            item.required,
            item.default,
            tuple(item.values or ()),
        )
        for item in get_database(store, "shop").schema.fields
        if item.name in mapping.values()
    ]
    normalise = RowNormalizer(fields, NormalizeOptions())
    accepted, rejected = [], []
    for row in reader.rows():
        if row.problem:
            rejected.append([str(row.row_number), row.problem])
            continue
        values = {
            mapping[c]: v for c, v in zip(reader.columns, row.values, strict=True) if c in mapping
        }
        clean, errors = normalise(values)
        key = (row.values[0] or "").strip()
        if not key:
            errors.append("empty key column 'id'")
        if errors:
            rejected.append([str(row.row_number), "; ".join(errors)])
            continue
        text = json.dumps(
            {
                name: value.isoformat() if hasattr(value, "isoformat") else value
                for name, value in clean.items()
            },
            ensure_ascii=False,
            sort_keys=True,
        )
        accepted.append(
            {
                "database": "shop",
                "source": "crm",
                "row_number": row.row_number,
                "record_key": key,
                "mode": "upsert",
                "fields": text,
            }
        )
    assert len(result.landing_files) > 5
    assert landing_rows(result) == accepted
    assert result.outcome.received == len(accepted) + len(rejected) == 401
    report = result.outcome.rejects_path
    assert report is not None
    with report.open(encoding="utf-8-sig", newline="") as stream:
        assert [line[:2] for line in list(csv.reader(stream))[1:]] == rejected
    assert sum(result.outcome.reasons.values()) == len(rejected)


def test_worker_processes_change_nothing(store, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from herald.profiles import importing

    monkeypatch.setattr(importing, "BATCH_ROWS", 50)
    path = tmp_path / "clients.csv"
    path.write_text(MANY_CLIENTS, encoding="utf-8")
    request = ImportRequest(database="shop", source="crm", key_column="id", mapping=MANY_MAPPING)

    alone = run_import(store, tmp_path, open_table(path), request, workers=0)
    pooled = run_import(store, tmp_path, open_table(path), request, workers=2)

    assert landing_rows(alone) == landing_rows(pooled)
    assert alone.outcome.reasons == pooled.outcome.reasons
    assert alone.outcome.rejects_path is not None and pooled.outcome.rejects_path is not None
    assert alone.outcome.rejects_path.read_bytes() == pooled.outcome.rejects_path.read_bytes()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    fields=st.dictionaries(
        st.text(max_size=10),
        json_values | st.dates() | st.datetimes(timezones=st.none() | st.just(dt.UTC)),
        max_size=8,
    )
)
def test_fields_json_is_what_json_dumps_writes(fields: dict[str, object]) -> None:
    expected = json.dumps(
        {
            name: value.isoformat() if isinstance(value, dt.date) else value
            for name, value in fields.items()
        },
        ensure_ascii=False,
        sort_keys=True,
    )

    assert fields_json(fields) == expected
    members = {name: [field_json(name, value)] for name, value in fields.items()}
    assert fields_json_rows(members, 1) == [expected]
