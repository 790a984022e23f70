"""Import kernel: read client files and pasted tables, normalise values, account for every row.

No Dagster and no warehouse here; the import pipeline is built around these pieces:

    reader = open_table("clients.csv")            # or open_pasted(text)
    normalise = RowNormalizer(fields, NormalizeOptions(region="RU", dayfirst=True))
    tally = ImportTally(rejects_path, reader.columns)
    for batch in reader.batches(10_000):
        for row in batch:
            clean, errors = normalise(dict(zip(reader.columns, row.values)))
            ...

A UTF-8 delimited file can instead be read and normalised by DuckDB with the same outcome
(`duckdb_csv.import_with_duckdb`, with the SQL of `sql_normalize.py`); `run_import` takes
that path where it can.
"""

from herald.imports.normalize import (
    FieldSpec,
    NormalizeOptions,
    RowNormalizer,
    normalize_row,
)
from herald.imports.readers import (
    ImportFileError,
    SourceRow,
    TableReader,
    open_pasted,
    open_rows,
    open_table,
)
from herald.imports.report import ImportOutcome, ImportTally, RejectWriter, spreadsheet_safe

__all__ = [
    "FieldSpec",
    "ImportFileError",
    "ImportOutcome",
    "ImportTally",
    "NormalizeOptions",
    "RejectWriter",
    "RowNormalizer",
    "SourceRow",
    "TableReader",
    "normalize_row",
    "open_pasted",
    "open_rows",
    "open_table",
    "spreadsheet_safe",
]
