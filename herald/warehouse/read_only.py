"""What a read-only warehouse connection accepts: one query, nothing that writes.

DuckDB enforces read-only itself when the file is opened read-only; ClickHouse (chdb runs
several `;`-separated statements in one call) needs this check, and the server also gets
`readonly=1`.
"""

from __future__ import annotations

import sqlglot
from sqlglot.errors import TokenError

from herald.errors import WarehouseError

_QUERY_STARTS = {"select", "with", "show", "describe", "desc", "explain", "values", "from", "("}


def check_read_only(sql: str, dialect: str) -> None:
    """Raise WarehouseError unless `sql` is one read-only query."""
    try:
        tokens = sqlglot.tokenize(sql, read=dialect)
    except TokenError as exc:
        raise WarehouseError(f"cannot read the query: {exc}") from None
    statements: list[list[str]] = [[]]
    for token in tokens:
        if token.token_type.name == "SEMICOLON":
            statements.append([])
        else:
            statements[-1].append(token.text.lower())
    statements = [statement for statement in statements if statement]
    if not statements:
        raise WarehouseError("the query is empty")
    if len(statements) > 1:
        raise WarehouseError("one statement at a time, please: the query has several")
    if statements[0][0] not in _QUERY_STARTS:
        raise WarehouseError(
            f"this connection is read-only: {statements[0][0].upper()} is not allowed "
            "(use SELECT, WITH, SHOW, DESCRIBE or EXPLAIN)"
        )
