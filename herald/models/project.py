"""The dbt-style SQL project: models under sql/, a .yml beside each, sources and macros.

Layout (see sql/README.md):
    sql/project.yml                  vars shared by every model
    sql/sources.yml                  landing sources; `source('landing', 'x')` is table raw_x
    sql/macros/*.sql                 Jinja macros, dispatched per engine (default__x, duckdb__x,
                                     clickhouse__x)
    sql/<layer>/<model>.sql          one select = one table or view = one Dagster asset
    sql/<layer>/<model>.yml          columns, tests and engine settings of that model
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from herald.errors import ModelError

Materialization = Literal["view", "table", "incremental"]
_ARROW_TYPES = {
    "string": pa.string(),
    "int64": pa.int64(),
    "int32": pa.int32(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("ms"),
}
DEFAULT_SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


class DataTest(BaseModel):
    """One yml test: a kind, the column it applies to (if any) and its arguments."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["unique", "not_null", "accepted_values", "relationships", "expression"]
    column: str | None = None
    values: tuple[Any, ...] = ()
    to: str | None = None
    field_name: str | None = None
    expression: str | None = None
    severity: Literal["error", "warn"] = "error"

    @property
    def name(self) -> str:
        subject = self.column or "row"
        if self.kind == "expression":
            return f"expression_{_slug(self.expression or '')}"
        if self.kind == "relationships":
            return f"{subject}_relationships_{self.to}"
        return f"{subject}_{self.kind}"

    @classmethod
    def parse(cls, spec: Any, column: str | None) -> DataTest:
        """Read dbt's forms: `unique`, `{accepted_values: {values: [...]}}`, ..."""
        if isinstance(spec, str):
            return cls(kind=spec, column=column)  # type: ignore[arg-type]
        if isinstance(spec, dict) and len(spec) == 1:
            kind, args = next(iter(spec.items()))
            args = dict(args or {}) if isinstance(args, dict) else {"expression": args}
            if kind == "accepted_values":
                args["values"] = tuple(args.get("values", ()))
            if kind == "relationships":
                args["to"] = _ref_target(str(args.get("to", "")))
                args["field_name"] = args.pop("field", None)
            return cls(kind=kind, column=column, **args)
        raise ValueError(f"cannot read test {spec!r}")


class ColumnDoc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str = ""
    tests: tuple[Any, ...] = ()
    type: str | None = None  # sources only: string, int64, float64, bool, date, timestamp


class ModelConfig(BaseModel):
    """Engine settings; `config()` in the SQL overrides the yml."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    materialized: Materialization = "view"
    order_by: tuple[str, ...] = ()
    engine: str = "MergeTree"
    partition_by: str | None = None
    incremental_strategy: Literal["append", "merge"] = "append"
    unique_key: tuple[str, ...] = ()
    cursor: str | None = None
    owners: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _listify(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in ("order_by", "unique_key", "owners"):
                if isinstance(data.get(key), str):
                    data = {**data, key: (data[key],)}
        return data


class ModelDoc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str = ""
    config: ModelConfig = Field(default_factory=ModelConfig)
    columns: tuple[ColumnDoc, ...] = ()
    tests: tuple[Any, ...] = ()


@dataclass(frozen=True)
class SourceTable:
    source: str
    name: str
    format: Literal["parquet", "csv"]
    description: str
    columns: tuple[ColumnDoc, ...]

    @property
    def raw_table(self) -> str:
        return f"raw_{self.name}"

    def arrow_schema(self) -> pa.Schema | None:
        """The declared columns as Arrow, when every column has a type; else None."""
        if not self.columns or any(column.type is None for column in self.columns):
            return None
        try:
            return pa.schema(
                [pa.field(column.name, _ARROW_TYPES[column.type or ""]) for column in self.columns]
            )
        except KeyError as exc:
            raise ModelError(
                f"sources.yml: {self.name}: unknown column type {exc.args[0]!r} "
                f"(use {', '.join(_ARROW_TYPES)})"
            ) from None


@dataclass(frozen=True)
class Model:
    name: str
    layer: str
    path: Path
    template: str
    doc: ModelDoc

    @cached_property
    def data_tests(self) -> tuple[DataTest, ...]:
        tests = [
            DataTest.parse(spec, column.name)
            for column in self.doc.columns
            for spec in column.tests
        ]
        tests += [DataTest.parse(spec, None) for spec in self.doc.tests]
        return tuple(tests)


@dataclass
class SqlProject:
    root: Path
    models: dict[str, Model]
    sources: dict[tuple[str, str], SourceTable]
    macro_source: str
    vars: dict[str, Any] = field(default_factory=dict)
    # Tables Python assets build (table -> asset), read with asset_table('name').
    asset_tables: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, root: Path = DEFAULT_SQL_DIR) -> SqlProject:
        root = Path(root)
        if not root.is_dir():
            raise ModelError(f"no SQL project at {root}")
        project_file = _read_yaml(root / "project.yml") if (root / "project.yml").exists() else {}
        sources = _load_sources(root / "sources.yml")
        macros = "\n".join(
            path.read_text(encoding="utf-8") for path in sorted((root / "macros").glob("*.sql"))
        )
        models: dict[str, Model] = {}
        for path in sorted(root.glob("*/**/*.sql")):
            if path.parts[len(root.parts)] == "macros":
                continue
            name = path.stem
            if name in models:
                raise ModelError(f"two models named {name!r}: {models[name].path} and {path}")
            doc_path = path.with_suffix(".yml")
            try:
                doc = ModelDoc.model_validate(_read_yaml(doc_path) if doc_path.exists() else {})
            except ValidationError as exc:
                raise ModelError(f"{doc_path}: {_first_error(exc)}") from None
            layer = path.relative_to(root).parts[0]
            models[name] = Model(name, layer, path, path.read_text(encoding="utf-8"), doc)
        asset_tables = {
            str(table): str(asset)
            for table, asset in (project_file.get("asset_tables") or {}).items()
        }
        return cls(
            root, models, sources, macros, dict(project_file.get("vars") or {}), asset_tables
        )

    def source(self, source: str, table: str) -> SourceTable:
        try:
            return self.sources[(source, table)]
        except KeyError:
            raise ModelError(
                f"unknown source {source}.{table}: declare it in sources.yml"
            ) from None

    def asset_of(self, table: str) -> str:
        """The Python asset that builds `table` (declared under asset_tables in project.yml)."""
        try:
            return self.asset_tables[table]
        except KeyError:
            raise ModelError(
                f"unknown asset table {table!r}: declare it under asset_tables in project.yml"
            ) from None

    def model(self, name: str) -> Model:
        try:
            return self.models[name]
        except KeyError:
            raise ModelError(f"unknown model {name!r}") from None

    def order(self, dependencies: dict[str, set[str]]) -> list[str]:
        """Model names so that every model comes after the models it refs."""
        try:
            return list(TopologicalSorter(dependencies).static_order())
        except CycleError as exc:
            raise ModelError(f"models depend on each other in a cycle: {exc.args[1]}") from None


def _load_sources(path: Path) -> dict[tuple[str, str], SourceTable]:
    if not path.exists():
        return {}
    sources: dict[tuple[str, str], SourceTable] = {}
    for source in _read_yaml(path).get("sources") or []:
        for table in source.get("tables") or []:
            try:
                columns = tuple(
                    ColumnDoc.model_validate(column) for column in table.get("columns") or []
                )
            except ValidationError as exc:
                raise ModelError(f"{path}: {table.get('name')}: {_first_error(exc)}") from None
            entry = SourceTable(
                source=source["name"],
                name=table["name"],
                format=table.get("format", "parquet"),
                description=table.get("description", ""),
                columns=columns,
            )
            sources[(entry.source, entry.name)] = entry
    return sources


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ModelError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a mapping at the top level")
    return data


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}"


def _ref_target(text: str) -> str:
    """`ref('orders')` or `orders` -> orders."""
    text = text.strip()
    if text.startswith("ref(") and text.endswith(")"):
        text = text[4:-1].strip().strip("'\"")
    return text


def _slug(text: str) -> str:
    cleaned = "".join(ch if ch.isalnum() else "_" for ch in text.lower())
    return "_".join(part for part in cleaned.split("_") if part)[:60]
