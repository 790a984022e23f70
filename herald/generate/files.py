"""Writing generated files: whole, under a temporary name, then renamed into place."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

# Fixed writer settings, so identical tables give identical bytes.
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 1,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
    "data_page_version": "1.0",
}
ROW_GROUP_ROWS = 1_000_000
CSV_LINE_END = "\r\n"
_NEEDS_QUOTES = r'[",\r\n]'


def file_name(seed: int, chunk: int, file_format: str) -> str:
    return f"gen-s{seed}-{chunk:05d}.{file_format}"


def temporary_path(path: Path) -> Path:
    """A name in the same folder that readers globbing *.parquet / *.csv do not see."""
    return path.with_name(f".{path.name}.tmp")


def write_parquet(table: pa.Table, path: Path, dictionary: list[str] | None = None) -> None:
    """Write with the fixed settings; `dictionary` limits dictionary encoding to those columns
    (trying it on unique long texts costs time and saves nothing)."""
    temporary = temporary_path(path)
    options = (
        PARQUET_OPTIONS if dictionary is None else {**PARQUET_OPTIONS, "use_dictionary": dictionary}
    )
    pq.write_table(table, temporary, row_group_size=ROW_GROUP_ROWS, **options)
    os.replace(temporary, path)


def csv_bytes(table: pa.Table) -> bytes:
    """RFC 4180 CSV: header, CRLF line ends, quotes only around fields that need them,
    null written as an empty field. Every column must be text."""
    fields = []
    for column in table.columns:
        values = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        needs = pc.fill_null(pc.match_substring_regex(values, _NEEDS_QUOTES), False)
        if pc.any(needs).as_py():
            quoted = pc.binary_join_element_wise(
                '"', pc.replace_substring(values, '"', '""'), '"', ""
            )
            values = pc.if_else(needs, quoted, values)
        fields.append(values)
    header = ",".join(_quote(name) for name in table.column_names) + CSV_LINE_END
    if table.num_rows == 0:
        return header.encode()
    # The last argument is the separator.
    lines = pc.binary_join_element_wise(*fields, ",", null_handling="replace", null_replacement="")
    lines = pc.binary_join_element_wise(lines, CSV_LINE_END, "")
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[
        lines.offset : lines.offset + len(lines) + 1
    ]
    data = lines.buffers()[2]
    body = data.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
    return header.encode() + body.to_pybytes()


def _quote(field: str) -> str:
    if any(char in field for char in '",\r\n'):
        return '"' + field.replace('"', '""') + '"'
    return field


def write_csv(table: pa.Table, path: Path) -> None:
    temporary = temporary_path(path)
    temporary.write_bytes(csv_bytes(table))
    os.replace(temporary, path)


def remove_generated(folder: Path) -> None:
    """Delete earlier generated files (and leftovers of an interrupted run) in a folder."""
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if path.is_file() and (
            path.name.startswith("gen-")
            or (path.name.startswith(".gen-") and path.name.endswith(".tmp"))
        ):
            path.unlink()
