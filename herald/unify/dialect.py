"""The few SQL spellings that differ between DuckDB and ClickHouse, in one place.

Everything else the unification kernel writes is SQL both engines read the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from herald.errors import HeraldError


@dataclass(frozen=True)
class UnifySql:
    """Per-dialect spellings used by the unification kernel."""

    dialect: str

    def text(self, expr: str) -> str:
        """An expression as text, NULL staying NULL."""
        if self.dialect == "clickhouse":
            return f"toString({expr})"
        return f"cast({expr} as varchar)"

    def null_text(self) -> str:
        """A NULL of the text type (ClickHouse strings are not nullable by default)."""
        if self.dialect == "clickhouse":
            return "cast(null as Nullable(String))"
        return "cast(null as varchar)"

    def integer(self, expr: str) -> str:
        """A 64-bit integer (ClickHouse's row_number is UInt64, DuckDB's BIGINT)."""
        if self.dialect == "clickhouse":
            return f"toInt64({expr})"
        return f"cast({expr} as bigint)"

    def jaro_winkler(self, left: str, right: str) -> str:
        """Jaro-Winkler similarity 0..1 (keys compared are ASCII, so bytes = letters)."""
        if self.dialect == "clickhouse":
            return f"jaroWinklerSimilarity({left}, {right})"
        return f"jaro_winkler_similarity({left}, {right})"

    def before(self, expr: str, separator: str) -> str:
        """The part of a text before the first `separator` (one character)."""
        if self.dialect == "clickhouse":
            return f"splitByChar('{separator}', {expr})[1]"
        return f"split_part({expr}, '{separator}', 1)"

    def right(self, expr: str, count: int) -> str:
        return f"right({expr}, {int(count)})"


def sql_for(dialect: str) -> UnifySql:
    if dialect not in ("duckdb", "clickhouse"):
        raise HeraldError(f"unification does not know the SQL dialect {dialect!r}")
    return UnifySql(dialect)
