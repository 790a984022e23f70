"""The few SQL spellings that differ between DuckDB and ClickHouse, in one place.

Everything else the unification kernel writes is SQL both engines read the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from herald.errors import HeraldError
from herald.warehouse.base import TableOptions, Warehouse

# ClickHouse keeps a hash join's right side and an aggregation in memory until they reach
# half the server's memory; ten million records' blocks and pairs then take over 13 GiB.
# Unification's queries spill to disk beyond these sizes instead (a grace hash join splits
# its input into more buckets only once its hash table outgrows `max_bytes_in_join`).
CLICKHOUSE_QUERY_SETTINGS = (
    "join_algorithm = 'grace_hash'",
    "max_bytes_in_join = 1073741824",
    "max_bytes_before_external_group_by = 2147483648",
    "max_bytes_before_external_sort = 2147483648",
)


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

    def query_settings(self) -> str:
        """What ends a large query: ClickHouse's spilling settings, nothing on DuckDB."""
        if self.dialect == "clickhouse":
            return "\nsettings " + ", ".join(CLICKHOUSE_QUERY_SETTINGS)
        return ""

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

    def first_word(self, expr: str) -> str:
        """The first whitespace-separated word ('' when none)."""
        return self._extract(expr, "^[[:space:]]*([^[:space:]]+)")

    def last_word(self, expr: str) -> str:
        """The last whitespace-separated word ('' when none)."""
        return self._extract(expr, "([^[:space:]]+)[[:space:]]*$")

    def has_two_words(self, expr: str) -> str:
        pattern = "[^[:space:]][[:space:]]+[^[:space:]]"
        if self.dialect == "clickhouse":
            return f"match({expr}, '{pattern}')"
        return f"regexp_matches({expr}, '{pattern}')"

    def hash64(self, expr: str) -> str:
        """A 64-bit hash of a text, to key blocks by a number."""
        if self.dialect == "clickhouse":
            return f"cityHash64({expr})"
        return f"hash({expr})"

    def _extract(self, expr: str, pattern: str) -> str:
        if self.dialect == "clickhouse":
            return f"extract({expr}, '{pattern}')"
        return f"regexp_extract({expr}, '{pattern}', 1)"


def sql_for(dialect: str) -> UnifySql:
    if dialect not in ("duckdb", "clickhouse"):
        raise HeraldError(f"unification does not know the SQL dialect {dialect!r}")
    return UnifySql(dialect)


def create_table(
    warehouse: Warehouse, table: str, select_sql: str, options: TableOptions | None = None
) -> None:
    """`warehouse.create_table_as` with the dialect's settings for large queries."""
    warehouse.create_table_as(
        table, select_sql + sql_for(warehouse.dialect).query_settings(), options
    )
