"""Reading landing files into Arrow, for engines that cannot read the files themselves."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from herald.errors import WarehouseError


def read_landing_file(path: Path, file_format: str) -> pa.Table:
    """Read one landing file. CSV columns are all read as text; staging models cast them."""
    if file_format == "parquet":
        return pq.read_table(path)
    if file_format == "csv":
        header = pacsv.read_csv(path, read_options=pacsv.ReadOptions(skip_rows_after_names=10**9))
        types = dict.fromkeys(header.column_names, pa.string())
        # An empty field is NULL, as DuckDB's and ClickHouse's CSV readers take it.
        options = pacsv.ConvertOptions(column_types=types, strings_can_be_null=True)
        return pacsv.read_csv(path, convert_options=options)
    raise WarehouseError(f"unknown landing file format {file_format!r} for {path}")
