"""Exports are safe to open in a spreadsheet and keep every value."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook

from herald.profiles.export import ExportError, export_profiles

PROFILES = pa.table(
    {
        "profile_id": ["p_shop:crm:1", "p_shop:crm:2"],
        "given_name": ['=HYPERLINK("http://evil","x")', "Анна"],
        "phone": ["+79161234567", None],
        "balance": [-5, 10],
        "date_of_birth": pa.array([date(1990, 2, 1), None], pa.date32()),
        "updated_at": pa.array([datetime(2025, 6, 1, 12, 0), None], pa.timestamp("ms")),
        "tags": [["vip", "@home"], []],
    }
)


def test_csv_neutralises_formulas_and_keeps_numbers(tmp_path: Path) -> None:
    out = tmp_path / "profiles.csv"
    assert export_profiles(PROFILES, "csv", out) == 2
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["given_name"] == '\'=HYPERLINK("http://evil","x")'
    assert rows[0]["phone"] == "'+79161234567"
    assert rows[0]["balance"] == "-5"  # a number, not text: nothing to neutralise
    assert rows[0]["date_of_birth"] == "1990-02-01"
    assert rows[0]["tags"] == '["vip", "@home"]'
    assert rows[1]["given_name"] == "Анна" and rows[1]["phone"] == ""


def test_xlsx_writes_formula_like_text_as_text_cells(tmp_path: Path) -> None:
    out = tmp_path / "profiles.xlsx"
    export_profiles(PROFILES, "xlsx", out)
    sheet = load_workbook(out)["profiles"]
    header = [cell.value for cell in sheet[1]]
    name = sheet.cell(row=2, column=header.index("given_name") + 1)
    assert name.data_type == "s"
    assert name.value == '=HYPERLINK("http://evil","x")'
    balance = sheet.cell(row=2, column=header.index("balance") + 1)
    assert (balance.value, balance.data_type) == (-5, "n")
    born = sheet.cell(row=2, column=header.index("date_of_birth") + 1).value
    assert born.date() == date(1990, 2, 1)


def test_parquet_keeps_types(tmp_path: Path) -> None:
    out = tmp_path / "profiles.parquet"
    export_profiles(PROFILES, "parquet", out)
    assert pq.read_table(out).equals(PROFILES)


def test_an_unknown_format_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="unknown export format"):
        export_profiles(PROFILES, "pdf", tmp_path / "profiles.pdf")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
