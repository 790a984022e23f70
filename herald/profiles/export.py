"""Exporting a profile database: CSV, XLSX or Parquet, safe to open in a spreadsheet.

A text cell that a spreadsheet would run as a formula (starting with = + - @, tab or CR) is
neutralised: in CSV it gets a leading apostrophe (OWASP's advice), in XLSX it is written as
a text cell, which Excel never evaluates. Numbers, dates and booleans keep their types.
"""

from __future__ import annotations

import csv
import json
import os
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from herald.errors import HeraldError
from herald.imports.report import spreadsheet_safe
from herald.profiles.build import view_name
from herald.warehouse import Warehouse

ExportFormat = Literal["csv", "xlsx", "parquet"]
XLSX_MAX_ROWS = 1_048_575  # one row of the sheet's 1,048,576 is the header


class ExportError(HeraldError):
    """The export cannot be made (no such database built yet, too many rows for XLSX, ...)."""


def read_profiles(warehouse: Warehouse, database: str) -> pa.Table:
    view = view_name(database)
    if not warehouse.exists(view):
        raise ExportError(
            f"no profiles of {database!r} in the warehouse yet: import into it and run "
            "`herald unify`"
        )
    return warehouse.query_arrow(f"select * from {warehouse.qualify(view)} order by profile_id")


def export_profiles(table: pa.Table, export_format: ExportFormat, out: Path) -> int:
    """Write the profiles whole to a temporary file beside `out`, then rename it into place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.tmp")
    if export_format == "parquet":
        pq.write_table(table, temporary)
    elif export_format == "csv":
        _write_csv(table, temporary)
    elif export_format == "xlsx":
        if table.num_rows > XLSX_MAX_ROWS:
            raise ExportError(
                f"{table.num_rows:,} profiles do not fit in one XLSX sheet "
                f"({XLSX_MAX_ROWS:,} at most): export CSV or Parquet"
            )
        _write_xlsx(table, temporary)
    else:
        raise ExportError(f"unknown export format {export_format!r}: use csv, xlsx or parquet")
    os.replace(temporary, out)
    return table.num_rows


def _plain(value: Any) -> Any:
    """Lists and JSON documents as JSON text; everything else as it is."""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def _write_csv(table: pa.Table, path: Path) -> None:
    # UTF-8 with BOM so that Excel shows Cyrillic right.
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(table.column_names)
        for batch in table.to_batches(50_000):
            for row in batch.to_pylist():
                writer.writerow([_csv_cell(_plain(value)) for value in row.values()])


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str):
        return spreadsheet_safe(value)
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return value


def _write_xlsx(table: pa.Table, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("profiles")
    sheet.append(table.column_names)
    for batch in table.to_batches(50_000):
        for row in batch.to_pylist():
            cells = []
            for value in row.values():
                value = _plain(value)
                if isinstance(value, datetime) and value.tzinfo is not None:
                    value = value.replace(tzinfo=None)  # Excel has no time zones; UTC
                cell = WriteOnlyCell(sheet, value=value)
                if isinstance(value, str):
                    cell.data_type = "s"  # text, never a formula, whatever it starts with
                cells.append(cell)
            sheet.append(cells)
    workbook.save(path)
