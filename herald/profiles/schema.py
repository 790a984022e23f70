"""The schema of a profile database, as a pydantic model and as a YAML file (schema as code).

    database: shop
    title: Shop RU
    fields:
      - {name: email, type: string, identifier: email}
      - {name: given_name, type: string, match: name}
      - {name: level, type: enum, values: [bronze, silver, gold], default: bronze}

schema = load_schema("shop.yml")          # ProfileSchemaError naming the field if it is wrong
text = dump_schema(schema)                 # YAML that loads back to an equal schema
column_type("date", "clickhouse")          # 'Nullable(Date32)'
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from herald.errors import HeraldError

FieldType = Literal[
    "string", "integer", "float", "boolean", "date", "datetime", "enum", "list", "json"
]
FIELD_TYPES: tuple[FieldType, ...] = get_args(FieldType)
Dialect = Literal["duckdb", "clickhouse"]

# What identifies a person across sources (the identity graph joins on these) ...
IDENTIFIER_KINDS = ("email", "phone", "external_id", "telegram_id", "device_id", "push_token")
CUSTOM_IDENTIFIER_PREFIX = "custom:"
# ... and what only helps to match two records of one person fuzzily.
MATCH_KINDS = ("name", "given_name", "family_name", "date", "address", "city")

# Columns every profile table has besides the schema's fields.
RESERVED_NAMES = ("profile_id", "database", "created_at", "updated_at")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_NAME_LENGTH = 63  # PostgreSQL's identifier limit; ClickHouse and DuckDB allow more.
MAX_TITLE_LENGTH = 200

# The types an identifier or a match field may have.
IDENTIFIER_TYPES: tuple[FieldType, ...] = ("string", "integer")
MATCH_TYPES: dict[str, tuple[FieldType, ...]] = {
    "date": ("date", "datetime"),
    **{kind: ("string",) for kind in MATCH_KINDS if kind != "date"},
}

_FIELD_KEYS = (
    "name",
    "type",
    "values",
    "required",
    "default",
    "identifier",
    "match",
    "description",
)


class ProfileSchemaError(HeraldError):
    """A profile-database schema (a YAML file or a dict) is not valid."""


def _problem(message: str) -> PydanticCustomError:
    # A custom error keeps the message as written (no "Value error, " prefix).
    return PydanticCustomError("profile_schema", message)


def _one_of(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join(values)


def name_problem(name: object, what: str = "name") -> str | None:
    """Why `name` cannot name a field or a database, or None if it can."""
    if not isinstance(name, str) or not name:
        return f"{what} must be a non-empty text, not {name!r}"
    if name.startswith("_"):
        return f"{what} {name!r} starts with '_', which is reserved for Herald's own columns"
    if not NAME_PATTERN.match(name):
        return (
            f"{what} {name!r} must be lowercase snake_case: a letter, then letters, digits "
            "or '_' (for example date_of_birth)"
        )
    if len(name) > MAX_NAME_LENGTH:
        return f"{what} {name!r} is longer than {MAX_NAME_LENGTH} characters"
    return None


class ProfileField(BaseModel):
    """One field (column) of the profiles of a database."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    type: FieldType
    values: tuple[str, ...] | None = None
    required: bool = False
    default: Any = None
    identifier: str | None = None
    match: str | None = None
    description: str | None = None

    @field_validator("name", mode="before")
    @classmethod
    def _valid_name(cls, value: object) -> object:
        problem = name_problem(value)
        if problem:
            raise _problem(problem)
        if value in RESERVED_NAMES:
            raise _problem(
                f"name {value!r} is reserved (every profile has "
                f"{_one_of(RESERVED_NAMES)}); choose another name"
            )
        return value

    @field_validator("type", mode="before")
    @classmethod
    def _known_type(cls, value: object) -> object:
        if value not in FIELD_TYPES:
            raise _problem(f"type {value!r} is not one of {_one_of(FIELD_TYPES)}")
        return value

    @field_validator("required", mode="before")
    @classmethod
    def _boolean_required(cls, value: object) -> object:
        if not isinstance(value, bool):
            raise _problem(f"required must be true or false, not {value!r}")
        return value

    @field_validator("values", mode="before")
    @classmethod
    def _values_are_texts(cls, value: object) -> object:
        if value is None:
            return value
        if not isinstance(value, list | tuple) or not value:
            raise _problem(f"values must be a non-empty list of texts, not {value!r}")
        texts: list[str] = []
        for item in value:
            if isinstance(item, bool) or not isinstance(item, str | int):
                raise _problem(f"enum value {item!r} must be a text")
            texts.append(str(item))
        duplicates = sorted({text for text in texts if texts.count(text) > 1})
        if duplicates:
            raise _problem(f"enum values repeat: {_one_of(duplicates)}")
        return tuple(texts)

    @field_validator("identifier", mode="before")
    @classmethod
    def _known_identifier(cls, value: object) -> object:
        if value is None or value in IDENTIFIER_KINDS:
            return value
        if isinstance(value, str) and value.startswith(CUSTOM_IDENTIFIER_PREFIX):
            custom = value.removeprefix(CUSTOM_IDENTIFIER_PREFIX)
            if name_problem(custom) is None:
                return value
        raise _problem(
            f"identifier {value!r} is not one of {_one_of(IDENTIFIER_KINDS)} "
            "or custom:<name> (lowercase snake_case)"
        )

    @field_validator("match", mode="before")
    @classmethod
    def _known_match(cls, value: object) -> object:
        if value is None or value in MATCH_KINDS:
            return value
        raise _problem(f"match {value!r} is not one of {_one_of(MATCH_KINDS)}")

    @field_validator("description", mode="before")
    @classmethod
    def _text_description(cls, value: object) -> object:
        if value is not None and not isinstance(value, str):
            raise _problem(f"description must be a text, not {value!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ProfileField:
        if self.type == "enum" and not self.values:
            raise _problem("an enum field needs values: [a, b, ...]")
        if self.type != "enum" and self.values is not None:
            raise _problem(f"values are only for enum fields, this one is {self.type}")
        if self.identifier is not None and self.match is not None:
            raise _problem(
                "a field has at most one role: identifier or match, not both "
                f"(identifier {self.identifier!r}, match {self.match!r})"
            )
        if self.identifier is not None and self.type not in IDENTIFIER_TYPES:
            raise _problem(
                f"identifier {self.identifier!r} needs type {' or '.join(IDENTIFIER_TYPES)}, "
                f"not {self.type}"
            )
        if self.match is not None and self.type not in MATCH_TYPES[self.match]:
            raise _problem(
                f"match {self.match!r} needs type {' or '.join(MATCH_TYPES[self.match])}, "
                f"not {self.type}"
            )
        if self.default is not None:
            # Stored as JSON: dates become ISO texts, an enum default one of its values.
            object.__setattr__(self, "default", _checked_default(self, self.default))
        return self


def _checked_default(field: ProfileField, value: Any) -> Any:
    """The default in its stored (JSON) form, or a PydanticCustomError saying why not."""
    wrong = _problem(f"default {value!r} is not a valid {field.type}")
    if field.type == "string":
        if not isinstance(value, str):
            raise wrong
        return value
    if field.type == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong
        return value
    if field.type == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise wrong
        return float(value)
    if field.type == "boolean":
        if not isinstance(value, bool):
            raise wrong
        return value
    if field.type == "date":
        return _iso_date(value)
    if field.type == "datetime":
        return _iso_datetime(value)
    if field.type == "enum":
        values = field.values or ()
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # as the values are: `values: [1, 2, 3]` holds texts
        if value not in values:
            raise _problem(f"default {value!r} is not one of {_one_of(values)}")
        return value
    if field.type == "list":
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise _problem(f"default {value!r} is not a list of texts")
        return list(value)
    # json: anything JSON can hold.
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise _problem(f"default {value!r} cannot be stored as JSON") from None
    return value


def _iso_date(value: Any) -> str:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise _problem(f"default {value!r} is not a date like 1990-05-17")


def _iso_datetime(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise _problem(f"default {value!r} is not a date and time like 2025-11-25T10:30:00+00:00")


class ProfileSchema(BaseModel):
    """The schema of one profile database: its name, display title and fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    database: str
    title: str | None = None
    fields: tuple[ProfileField, ...]

    @field_validator("database", mode="before")
    @classmethod
    def _valid_database(cls, value: object) -> object:
        problem = name_problem(value, "database name")
        if problem:
            raise _problem(problem)
        return value

    @field_validator("title", mode="before")
    @classmethod
    def _valid_title(cls, value: object) -> object:
        if value is None:
            return value
        if not isinstance(value, str) or not value.strip():
            raise _problem(f"title must be a non-empty text, not {value!r}")
        if len(value.strip()) > MAX_TITLE_LENGTH:
            raise _problem(f"title is longer than {MAX_TITLE_LENGTH} characters")
        return value.strip()

    @field_validator("fields", mode="before")
    @classmethod
    def _some_fields(cls, value: object) -> object:
        if not isinstance(value, list | tuple):
            raise _problem(f"fields must be a list of fields, not {value!r}")
        if not value:
            raise _problem("a schema needs at least one field")
        return value

    @model_validator(mode="after")
    def _unique(self) -> ProfileSchema:
        seen: dict[str, int] = {}
        identifiers: dict[str, str] = {}
        for index, field in enumerate(self.fields):
            if field.name in seen:
                raise _problem(
                    f"fields[{index}] {field.name!r}: the name is already used by "
                    f"fields[{seen[field.name]}]"
                )
            seen[field.name] = index
            if field.identifier is not None:
                if field.identifier in identifiers:
                    raise _problem(
                        f"fields[{index}] {field.name!r}: identifier {field.identifier!r} is "
                        f"already field {identifiers[field.identifier]!r}; a second one "
                        f"needs its own kind, e.g. custom:{field.name}"
                    )
                identifiers[field.identifier] = field.name
        return self

    def field(self, name: str) -> ProfileField | None:
        """The field called `name`, if there is one."""
        return next((field for field in self.fields if field.name == name), None)

    @property
    def display_title(self) -> str:
        return self.title or self.database

    def to_document(self) -> dict[str, Any]:
        """The schema as a plain dict (JSON and YAML), without keys left at their default."""
        document: dict[str, Any] = {"database": self.database}
        if self.title is not None:
            document["title"] = self.title
        document["fields"] = [_field_document(field) for field in self.fields]
        return document


def _field_document(field: ProfileField) -> dict[str, Any]:
    document: dict[str, Any] = {"name": field.name, "type": field.type}
    if field.values is not None:
        document["values"] = list(field.values)
    if field.required:
        document["required"] = True
    if field.default is not None:
        document["default"] = field.default
    if field.identifier is not None:
        document["identifier"] = field.identifier
    if field.match is not None:
        document["match"] = field.match
    if field.description is not None:
        document["description"] = field.description
    return document


def parse_schema(document: object, source: str | None = None) -> ProfileSchema:
    """A schema from a dict (parsed YAML or stored JSON); ProfileSchemaError if not valid.

    Every problem found is one line of the message, each naming the field, e.g.
    "fields[2] 'level': default 'platinum' is not one of bronze, silver, gold".
    """
    where = f"{source}: " if source else ""
    if not isinstance(document, Mapping):
        raise ProfileSchemaError(
            f"{where}a schema is a mapping with database and fields, not {document!r}"
        )
    try:
        return ProfileSchema.model_validate(dict(document))
    except ValidationError as exc:
        problems = [_describe(error, document) for error in exc.errors()]
        lines = list(dict.fromkeys(problems))
        if len(lines) == 1:
            raise ProfileSchemaError(f"{where}{lines[0]}") from None
        raise ProfileSchemaError(
            f"{where}{len(lines)} problems in the schema:\n" + "\n".join(f"  {p}" for p in lines)
        ) from None


def _describe(error: Any, document: Mapping[str, Any]) -> str:
    """One line for one pydantic error: where (fields[i] 'name') and what."""
    location = tuple(error["loc"])
    kind = error["type"]
    message = str(error["msg"])
    if location[:1] == ("fields",) and len(location) >= 2 and isinstance(location[1], int):
        index = location[1]
        raw_fields = document.get("fields")
        raw = raw_fields[index] if isinstance(raw_fields, list) else None
        name = raw.get("name") if isinstance(raw, Mapping) else None
        where = f"fields[{index}]" + (f" {name!r}" if isinstance(name, str) else "")
        key = location[2] if len(location) > 2 else None
        if kind == "missing":
            return f"{where}: {key} is required"
        if kind == "extra_forbidden":
            return f"{where}: unknown key {key!r} (a field has {_one_of(_FIELD_KEYS)})"
        if kind in ("model_type", "model_attributes_type", "dict_type"):
            return f"{where}: a field is a mapping like {{name: email, type: string}}"
        if kind == "profile_schema":
            return f"{where}: {message}"
        return f"{where}: {key}: {message}" if key is not None else f"{where}: {message}"
    key = location[0] if location else None
    if kind == "missing":
        return f"{key} is required"
    if kind == "extra_forbidden":
        return f"unknown key {key!r} (a schema has database, title, fields)"
    if kind == "profile_schema":
        return message
    return f"{key}: {message}" if key is not None else message


def load_schema(path: str | Path) -> ProfileSchema:
    """Read a schema from a YAML file; ProfileSchemaError naming the file if it is wrong."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileSchemaError(
            f"cannot read schema {str(path)!r}: {exc.strerror or exc}"
        ) from None
    return parse_schema_yaml(text, source=str(path))


def parse_schema_yaml(text: str, source: str | None = None) -> ProfileSchema:
    """A schema from YAML text."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        where = f"{source}: " if source else ""
        raise ProfileSchemaError(f"{where}not valid YAML{line}: {problem}") from None
    return parse_schema(document, source=source)


class _SchemaDumper(yaml.SafeDumper):
    """Block style for the document, flow style ({name: …, type: …}) for each field."""


def _represent_field(dumper: yaml.SafeDumper, data: _FlowMapping) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=True)


class _FlowMapping(dict[str, Any]):
    pass


_SchemaDumper.add_representer(_FlowMapping, _represent_field)


def dump_schema(schema: ProfileSchema) -> str:
    """The schema as YAML (one line per field), which `parse_schema_yaml` reads back equal."""
    document = schema.to_document()
    document["fields"] = [_FlowMapping(field) for field in document["fields"]]
    return yaml.dump(
        document,
        Dumper=_SchemaDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1000,
    )


_DUCKDB_TYPES: dict[FieldType, str] = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "float": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "datetime": "TIMESTAMP(3)",
    "enum": "VARCHAR",
    "list": "VARCHAR[]",
    "json": "JSON",
}
_CLICKHOUSE_TYPES: dict[FieldType, str] = {
    "string": "String",
    "integer": "Int64",
    "float": "Float64",
    "boolean": "Bool",
    "date": "Date32",
    "datetime": "DateTime64(3, 'UTC')",
    # Not Enum8: adding a value to the schema must not need an ALTER of every table.
    "enum": "LowCardinality(String)",
    "list": "Array(String)",
    "json": "String",
}


def column_type(field_type: FieldType, dialect: Dialect, *, nullable: bool = True) -> str:
    """The SQL column type that holds a field of `field_type` in the warehouse.

    DuckDB columns are always nullable. On ClickHouse a nullable column is wrapped in
    Nullable(...), except a list: an empty Array stands for "no values".
    """
    if field_type not in FIELD_TYPES:
        raise ValueError(f"unknown field type {field_type!r}")
    if dialect == "duckdb":
        return _DUCKDB_TYPES[field_type]
    if dialect == "clickhouse":
        inner = _CLICKHOUSE_TYPES[field_type]
        if not nullable or field_type == "list":
            return inner
        if inner.startswith("LowCardinality("):
            return f"LowCardinality(Nullable({inner.removeprefix('LowCardinality(')[:-1]}))"
        return f"Nullable({inner})"
    raise ValueError(f"unknown SQL dialect {dialect!r}; use duckdb or clickhouse")


def field_column_type(field: ProfileField, dialect: Dialect) -> str:
    """The column type of a field: NOT NULL where it is required."""
    return column_type(field.type, dialect, nullable=not field.required)
