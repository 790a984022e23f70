"""Rendering models: Jinja with ref(), source(), asset_table(), var(), config(), this,
is_incremental(), and macros dispatched per engine as dbt's adapter.dispatch does."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jinja2
import jinja2.nodes
import sqlglot
from jinja2.runtime import Macro

from herald.errors import ModelError
from herald.models.project import Model, ModelConfig, SqlProject

DIALECTS = ("duckdb", "clickhouse")


@dataclass(frozen=True)
class Target:
    """Where rendered SQL will run: the dialect and the database tables live in."""

    dialect: str
    database: str

    def quote(self, identifier: str) -> str:
        if self.dialect == "clickhouse":
            return "`" + identifier.replace("`", "\\`") + "`"
        return '"' + identifier.replace('"', '""') + '"'

    def qualify(self, name: str) -> str:
        if self.dialect == "clickhouse":
            return f"{self.quote(self.database)}.{self.quote(name)}"
        return self.quote(name)


@dataclass
class RenderedModel:
    name: str
    sql: str
    config: ModelConfig
    refs: set[str] = field(default_factory=set)
    sources: set[tuple[str, str]] = field(default_factory=set)
    assets: set[str] = field(default_factory=set)  # Python assets whose tables it reads


class Renderer:
    """Renders every model of a project for one target."""

    def __init__(self, project: SqlProject, target: Target, vars: dict[str, Any] | None = None):
        if target.dialect not in DIALECTS:
            raise ModelError(f"unknown dialect {target.dialect!r}")
        self.project = project
        self.target = target
        self.vars = {**project.vars, **(vars or {})}
        self.env = jinja2.Environment(
            undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
        )
        self._macros: dict[str, Any] = {}
        dispatchers = self._load_macros()
        self.env.globals.update(dispatchers)
        self.env.globals.update(var=self._var, target=target)

    # --- macros ----------------------------------------------------------------------------
    def _load_macros(self) -> dict[str, Any]:
        resolved: dict[str, Any] = {}

        def dispatcher(base: str) -> Any:
            def call(*args: Any, **kwargs: Any) -> Any:
                for candidate in (f"{self.target.dialect}__{base}", f"default__{base}"):
                    if candidate in self._macros:
                        return self._macros[candidate](*args, **kwargs)
                raise ModelError(f"macro {base!r} has no {self.target.dialect} or default version")

            return call

        try:
            parsed = self.env.parse(self.project.macro_source)
            template = self.env.from_string(self.project.macro_source)
        except jinja2.TemplateSyntaxError as exc:
            raise ModelError(f"sql/macros: line {exc.lineno}: {exc.message}") from None
        names = [node.name for node in parsed.find_all(jinja2.nodes.Macro)]
        base_names: set[str] = set()
        for name in names:
            prefix, sep, base = name.partition("__")
            if sep and prefix in (*DIALECTS, "default"):
                base_names.add(base)
            else:
                resolved[name] = None
        for base in base_names:
            resolved[base] = dispatcher(base)
        context = {key: value for key, value in resolved.items() if value is not None}
        context.update(var=self._var, target=self.target)
        module = template.make_module(vars=context)
        for name in names:
            macro = getattr(module, name, None)
            if not isinstance(macro, Macro):
                raise ModelError(f"sql/macros: {name!r} is not a macro")
            self._macros[name] = macro
            if name in resolved and resolved[name] is None:
                resolved[name] = macro
        return resolved

    def _var(self, name: str, default: Any = None) -> Any:
        if name in self.vars:
            return self.vars[name]
        if default is None:
            raise ModelError(f"var {name!r} is not set in sql/project.yml and has no default")
        return default

    def render_text(self, template: str, **values: str) -> str:
        """Render SQL that is not a model (a compiled segment) with the project's macros;
        `values` are variables of the template, inserted as they are."""
        try:
            return self.env.from_string(template).render(**values).strip()
        except jinja2.TemplateError as exc:
            raise ModelError(f"rendering SQL: {exc}") from None

    # --- models ----------------------------------------------------------------------------
    def render(self, model: Model, *, is_incremental: bool = False) -> RenderedModel:
        rendered = RenderedModel(model.name, "", model.doc.config)
        overrides: dict[str, Any] = {}

        def ref(name: str) -> str:
            if name not in self.project.models:
                raise ModelError(f"{model.path.name}: ref({name!r}) names no model")
            rendered.refs.add(name)
            return self.target.qualify(name)

        def source(source_name: str, table: str) -> str:
            entry = self.project.source(source_name, table)
            rendered.sources.add((source_name, table))
            return self.target.qualify(entry.raw_table)

        def asset_table(table: str) -> str:
            rendered.assets.add(self.project.asset_of(table))
            return self.target.qualify(table)

        def config(**kwargs: Any) -> str:
            overrides.update(kwargs)
            return ""

        try:
            template = self.env.from_string(model.template)
            sql = template.render(
                ref=ref,
                source=source,
                asset_table=asset_table,
                config=config,
                this=self.target.qualify(model.name),
                is_incremental=lambda: is_incremental,
            )
        except jinja2.TemplateError as exc:
            line = getattr(exc, "lineno", None)
            where = f"{model.path.name}:{line}" if line else model.path.name
            raise ModelError(f"{where}: {exc}") from None
        if overrides:
            merged = {**model.doc.config.model_dump(), **overrides}
            rendered.config = ModelConfig.model_validate(merged)
        rendered.sql = sql.strip().rstrip(";").strip()
        return rendered


def lint(project: SqlProject, database_for: dict[str, str] | None = None) -> list[str]:
    """Render every model for both dialects and parse it with sqlglot; return the problems."""
    problems: list[str] = []
    databases = {"duckdb": "main", "clickhouse": "herald", **(database_for or {})}
    for dialect in DIALECTS:
        renderer = Renderer(project, Target(dialect, databases[dialect]))
        for model in project.models.values():
            for incremental in (
                (False, True) if model.doc.config.materialized == "incremental" else (False,)
            ):
                try:
                    sql = renderer.render(model, is_incremental=incremental).sql
                    sqlglot.parse_one(sql, read=dialect)
                except ModelError as exc:
                    problems.append(f"{dialect}: {exc}")
                except sqlglot.errors.ParseError as exc:
                    problems.append(f"{dialect}: {model.path.name}: sqlglot cannot parse: {exc}")
    return problems


def dependencies(project: SqlProject) -> dict[str, RenderedModel]:
    """Render every model once (DuckDB) to learn its refs and sources."""
    renderer = Renderer(project, Target("duckdb", "main"))
    return {name: renderer.render(model) for name, model in project.models.items()}
