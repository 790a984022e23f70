"""yml tests as SQL: each query counts the rows that break the rule (0 means it holds)."""

from __future__ import annotations

from dataclasses import dataclass

from herald.errors import ModelError
from herald.models.project import DataTest
from herald.models.render import Target


@dataclass(frozen=True)
class TestOutcome:
    test: DataTest
    failures: int
    sql: str

    @property
    def passed(self) -> bool:
        return self.failures == 0


def failing_rows_sql(test: DataTest, table: str, target: Target) -> str:
    """The query that counts rows of `table` (a model name) that fail `test`."""
    relation = target.qualify(table)
    column = target.quote(test.column) if test.column else ""
    if test.kind == "not_null":
        return f"select count(*) from {relation} where {column} is null"
    if test.kind == "unique":
        return (
            f"select count(*) from (select {column} from {relation} where {column} is not null "
            f"group by {column} having count(*) > 1) as duplicates"
        )
    if test.kind == "accepted_values":
        values = ", ".join(_literal(value) for value in test.values)
        return (
            f"select count(*) from {relation} "
            f"where {column} is not null and {column} not in ({values})"
        )
    if test.kind == "relationships":
        if not test.to or not test.field_name:
            raise ModelError(f"{table}.{test.column}: relationships needs `to` and `field`")
        parent = target.qualify(test.to)
        field = target.quote(test.field_name)
        return (
            f"select count(*) from {relation} as child where child.{column} is not null "
            f"and child.{column} not in (select {field} from {parent} where {field} is not null)"
        )
    if test.kind == "expression":
        return f"select count(*) from {relation} where not ({test.expression})"
    raise ModelError(f"unknown test kind {test.kind!r}")


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"
