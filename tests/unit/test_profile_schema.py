"""The schema of a profile database: validation, its messages, YAML and SQL column types."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from herald.errors import HeraldError
from herald.profiles.databases import schema_changes
from herald.profiles.schema import (
    FIELD_TYPES,
    ProfileSchema,
    ProfileSchemaError,
    column_type,
    dump_schema,
    field_column_type,
    load_schema,
    parse_schema,
    parse_schema_yaml,
)

REPO_ROOT = Path(__file__).resolve().parents[2]

SHOP_YAML = """\
database: shop
title: Shop RU            # optional display name
fields:
  - {name: email, type: string, identifier: email}
  - {name: phone, type: string, identifier: phone}
  - {name: given_name, type: string, match: name}
  - {name: date_of_birth, type: date, match: date}
  - {name: level, type: enum, values: [bronze, silver, gold], default: bronze}
  - {name: tags, type: list, required: false}
"""


def schema_with(*fields: dict[str, Any], database: Any = "shop") -> dict[str, Any]:
    return {"database": database, "fields": list(fields)}


def error_of(document: object) -> str:
    with pytest.raises(ProfileSchemaError) as raised:
        parse_schema(document)
    return str(raised.value)


# --- a valid schema -----------------------------------------------------------------------


def test_the_issue_example_loads() -> None:
    schema = parse_schema_yaml(SHOP_YAML)

    assert (schema.database, schema.title) == ("shop", "Shop RU")
    assert [field.name for field in schema.fields] == [
        "email",
        "phone",
        "given_name",
        "date_of_birth",
        "level",
        "tags",
    ]
    level = schema.field("level")
    assert level is not None
    assert (level.type, level.values, level.default) == (
        "enum",
        ("bronze", "silver", "gold"),
        "bronze",
    )
    assert schema.field("email") is not None and schema.field("email").identifier == "email"  # type: ignore[union-attr]
    assert schema.field("missing") is None


def test_the_example_in_docs_loads(tmp_path: Path) -> None:
    schema = load_schema(REPO_ROOT / "docs" / "schemas" / "shop.yml")

    assert schema.database == "shop"
    assert {field.type for field in schema.fields} == set(FIELD_TYPES)


def test_a_schema_survives_a_yaml_round_trip() -> None:
    schema = load_schema(REPO_ROOT / "docs" / "schemas" / "shop.yml")

    assert parse_schema_yaml(dump_schema(schema)) == schema


def test_dumped_yaml_has_one_line_per_field_and_no_default_keys() -> None:
    text = dump_schema(parse_schema_yaml(SHOP_YAML))

    assert "- {name: tags, type: list}\n" in text
    assert "- {name: level, type: enum, values: [bronze, silver, gold], default: bronze}" in text
    assert text.startswith("database: shop\ntitle: Shop RU\nfields:\n")


def test_the_title_is_optional() -> None:
    schema = parse_schema(schema_with({"name": "email", "type": "string"}))

    assert schema.title is None
    assert schema.display_title == "shop"
    assert "title" not in dump_schema(schema)


def test_a_custom_identifier_is_accepted() -> None:
    schema = parse_schema(
        schema_with({"name": "card", "type": "string", "identifier": "custom:loyalty_card"})
    )

    assert schema.fields[0].identifier == "custom:loyalty_card"


def test_an_integer_identifier_is_accepted() -> None:
    schema = parse_schema(
        schema_with({"name": "telegram", "type": "integer", "identifier": "telegram_id"})
    )

    assert schema.fields[0].type == "integer"


@pytest.mark.parametrize(
    ("field_type", "given", "stored"),
    [
        ("string", "n/a", "n/a"),
        ("integer", 0, 0),
        ("float", 1, 1.0),
        ("boolean", False, False),
        ("date", "1990-05-17", "1990-05-17"),
        ("datetime", "2025-11-25T10:30:00+00:00", "2025-11-25T10:30:00+00:00"),
        ("list", ["a", "b"], ["a", "b"]),
        ("json", {"a": [1, 2]}, {"a": [1, 2]}),
    ],
)
def test_a_default_of_the_right_type_is_kept(field_type: str, given: Any, stored: Any) -> None:
    schema = parse_schema(schema_with({"name": "x", "type": field_type, "default": given}))

    assert schema.fields[0].default == stored


def test_numeric_enum_values_and_default_are_texts() -> None:
    schema = parse_schema_yaml(
        "database: shop\nfields:\n  - {name: grade, type: enum, values: [1, 2, 3], default: 2}\n"
    )

    assert (schema.fields[0].values, schema.fields[0].default) == (("1", "2", "3"), "2")


def test_a_yaml_date_default_is_stored_as_iso_text() -> None:
    schema = parse_schema_yaml(
        "database: shop\nfields:\n  - {name: since, type: date, default: 2020-01-31}\n"
    )

    assert schema.fields[0].default == "2020-01-31"
    assert schema.to_document()["fields"][0]["default"] == "2020-01-31"


def test_a_yaml_datetime_default_is_stored_as_iso_text() -> None:
    schema = parse_schema_yaml(
        "database: shop\nfields:\n  - {name: at, type: datetime, default: 2020-01-31 10:00:00}\n"
    )

    assert schema.fields[0].default == "2020-01-31T10:00:00"


# --- every error message ------------------------------------------------------------------


def test_the_issue_example_of_a_bad_default() -> None:
    document = schema_with(
        {"name": "email", "type": "string"},
        {"name": "phone", "type": "string"},
        {
            "name": "level",
            "type": "enum",
            "values": ["bronze", "silver", "gold"],
            "default": "platinum",
        },
    )

    assert (
        error_of(document)
        == "fields[2] 'level': default 'platinum' is not one of bronze, silver, gold"
    )


def test_a_schema_error_is_a_herald_error() -> None:
    assert issubclass(ProfileSchemaError, HeraldError)


@pytest.mark.parametrize(
    ("field", "message"),
    [
        (
            {"name": "x", "type": "text"},
            "fields[0] 'x': type 'text' is not one of string, integer, float, boolean, date, "
            "datetime, enum, list, json",
        ),
        (
            {"name": "Email", "type": "string"},
            "fields[0] 'Email': name 'Email' must be lowercase snake_case",
        ),
        (
            {"name": "e-mail", "type": "string"},
            "fields[0] 'e-mail': name 'e-mail' must be lowercase",
        ),
        ({"name": "1st", "type": "string"}, "fields[0] '1st': name '1st' must be lowercase"),
        ({"name": "", "type": "string"}, "fields[0] '': name must be a non-empty text"),
        ({"name": 5, "type": "string"}, "fields[0]: name must be a non-empty text, not 5"),
        ({"name": "x" * 64, "type": "string"}, "is longer than 63 characters"),
        (
            {"name": "_secret", "type": "string"},
            "fields[0] '_secret': name '_secret' starts with '_'",
        ),
        (
            {"name": "profile_id", "type": "string"},
            "fields[0] 'profile_id': name 'profile_id' is reserved",
        ),
        ({"name": "database", "type": "string"}, "name 'database' is reserved"),
        ({"name": "created_at", "type": "datetime"}, "name 'created_at' is reserved"),
        ({"name": "updated_at", "type": "datetime"}, "name 'updated_at' is reserved"),
        ({"type": "string"}, "fields[0]: name is required"),
        ({"name": "x"}, "fields[0] 'x': type is required"),
        ({"name": "x", "type": "string", "colour": "red"}, "fields[0] 'x': unknown key 'colour'"),
        (
            {"name": "x", "type": "string", "required": "maybe"},
            "fields[0] 'x': required must be true or false, not 'maybe'",
        ),
        (
            {"name": "x", "type": "string", "description": 5},
            "fields[0] 'x': description must be a text, not 5",
        ),
        ({"name": "x", "type": "enum"}, "fields[0] 'x': an enum field needs values: [a, b, ...]"),
        (
            {"name": "x", "type": "enum", "values": []},
            "fields[0] 'x': values must be a non-empty list of texts",
        ),
        (
            {"name": "x", "type": "enum", "values": "a,b"},
            "fields[0] 'x': values must be a non-empty list of texts",
        ),
        (
            {"name": "x", "type": "enum", "values": ["a", None]},
            "fields[0] 'x': enum value None must be a text",
        ),
        (
            {"name": "x", "type": "enum", "values": ["a", "b", "a"]},
            "fields[0] 'x': enum values repeat: a",
        ),
        (
            {"name": "x", "type": "string", "values": ["a"]},
            "fields[0] 'x': values are only for enum fields, this one is string",
        ),
        (
            {"name": "x", "type": "string", "identifier": "mail"},
            "fields[0] 'x': identifier 'mail' is not one of email, phone",
        ),
        (
            {"name": "x", "type": "string", "identifier": "custom:Bad Name"},
            "identifier 'custom:Bad Name' is not one of",
        ),
        (
            {"name": "x", "type": "string", "match": "surname"},
            "fields[0] 'x': match 'surname' is not one of name, given_name, family_name, "
            "date, address, city",
        ),
        (
            {"name": "x", "type": "string", "identifier": "email", "match": "name"},
            "fields[0] 'x': a field has at most one role: identifier or match, not both",
        ),
        (
            {"name": "x", "type": "date", "identifier": "email"},
            "fields[0] 'x': identifier 'email' needs type string or integer, not date",
        ),
        (
            {"name": "x", "type": "integer", "match": "city"},
            "fields[0] 'x': match 'city' needs type string, not integer",
        ),
        (
            {"name": "x", "type": "string", "match": "date"},
            "fields[0] 'x': match 'date' needs type date or datetime, not string",
        ),
        (
            {"name": "x", "type": "string", "default": 5},
            "fields[0] 'x': default 5 is not a valid string",
        ),
        (
            {"name": "x", "type": "integer", "default": "5"},
            "fields[0] 'x': default '5' is not a valid integer",
        ),
        ({"name": "x", "type": "integer", "default": True}, "default True is not a valid integer"),
        (
            {"name": "x", "type": "float", "default": "1.5"},
            "fields[0] 'x': default '1.5' is not a valid float",
        ),
        (
            {"name": "x", "type": "boolean", "default": "yes"},
            "fields[0] 'x': default 'yes' is not a valid boolean",
        ),
        (
            {"name": "x", "type": "date", "default": "31.12.2020"},
            "fields[0] 'x': default '31.12.2020' is not a date like 1990-05-17",
        ),
        ({"name": "x", "type": "date", "default": 20201231}, "default 20201231 is not a date like"),
        (
            {"name": "x", "type": "datetime", "default": "yesterday"},
            "fields[0] 'x': default 'yesterday' is not a date and time like",
        ),
        (
            {"name": "x", "type": "list", "default": "a"},
            "fields[0] 'x': default 'a' is not a list of texts",
        ),
        ({"name": "x", "type": "list", "default": [1]}, "default [1] is not a list of texts"),
        (
            {"name": "x", "type": "json", "default": {1, 2}},
            "fields[0] 'x': default {1, 2} cannot be stored as JSON",
        ),
        (
            {"name": "x", "type": "string", "required": True, "default": 5},
            "default 5 is not a valid string",
        ),
    ],
)
def test_a_wrong_field_is_named_in_the_message(field: dict[str, Any], message: str) -> None:
    assert message in error_of(schema_with(field))


def test_a_datetime_is_not_a_date_default() -> None:
    from datetime import datetime

    message = error_of(schema_with({"name": "x", "type": "date", "default": datetime(2020, 1, 1)}))

    assert (
        "fields[0] 'x': default datetime.datetime(2020, 1, 1, 0, 0) is not a date like 1990-05-17"
        in message
    )


def test_a_field_that_is_not_a_mapping() -> None:
    message = error_of(schema_with({"name": "a", "type": "string"}, "email"))

    assert message == "fields[1]: a field is a mapping like {name: email, type: string}"


def test_two_fields_with_one_name() -> None:
    message = error_of(
        schema_with({"name": "email", "type": "string"}, {"name": "email", "type": "string"})
    )

    assert message == "fields[1] 'email': the name is already used by fields[0]"


def test_two_fields_with_one_identifier_kind() -> None:
    message = error_of(
        schema_with(
            {"name": "email", "type": "string", "identifier": "email"},
            {"name": "work_email", "type": "string", "identifier": "email"},
        )
    )

    assert message == (
        "fields[1] 'work_email': identifier 'email' is already field 'email'; a second one "
        "needs its own kind, e.g. custom:work_email"
    )


@pytest.mark.parametrize(
    ("database", "message"),
    [
        ("Shop", "database name 'Shop' must be lowercase snake_case"),
        ("shop ru", "database name 'shop ru' must be lowercase snake_case"),
        ("_shop", "database name '_shop' starts with '_'"),
        (None, "database name must be a non-empty text, not None"),
        ("s" * 64, "database name '" + "s" * 64 + "' is longer than 63 characters"),
    ],
)
def test_a_wrong_database_name(database: Any, message: str) -> None:
    assert message in error_of(schema_with({"name": "a", "type": "string"}, database=database))


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"fields": [{"name": "a", "type": "string"}]}, "database is required"),
        ({"database": "shop"}, "fields is required"),
        ({"database": "shop", "fields": []}, "a schema needs at least one field"),
        ({"database": "shop", "fields": "email"}, "fields must be a list of fields, not 'email'"),
        (
            {"database": "shop", "fields": [{"name": "a", "type": "string"}], "owner": "me"},
            "unknown key 'owner' (a schema has database, title, fields)",
        ),
        (
            {"database": "shop", "title": " ", "fields": [{"name": "a", "type": "string"}]},
            "title must be a non-empty text, not ' '",
        ),
        (
            {"database": "shop", "title": "t" * 201, "fields": [{"name": "a", "type": "string"}]},
            "title is longer than 200 characters",
        ),
        (["database", "shop"], "a schema is a mapping with database and fields"),
    ],
)
def test_a_wrong_schema(document: Any, message: str) -> None:
    assert message in error_of(document)


def test_every_problem_is_listed_on_its_own_line() -> None:
    message = error_of(
        schema_with(
            {"name": "email", "type": "strin"},
            {"name": "level", "type": "enum"},
            database="Shop",
        )
    )

    lines = message.splitlines()
    assert lines[0] == "3 problems in the schema:"
    assert lines[1].startswith("  database name 'Shop'")
    assert lines[2].startswith("  fields[0] 'email': type 'strin'")
    assert lines[3] == "  fields[1] 'level': an enum field needs values: [a, b, ...]"


def test_a_file_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "schema.yml"
    path.write_text("database: shop\nfields:\n  - {name: Email, type: string}\n")

    with pytest.raises(ProfileSchemaError) as raised:
        load_schema(path)

    assert str(raised.value).startswith(f"{path}: fields[0] 'Email': name 'Email'")


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileSchemaError) as raised:
        load_schema(tmp_path / "nope.yml")

    assert (
        str(raised.value)
        == f"cannot read schema {str(tmp_path / 'nope.yml')!r}: No such file or directory"
    )


def test_a_file_that_is_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "schema.yml"
    path.write_text("database: shop\nfields: [\n")

    with pytest.raises(ProfileSchemaError) as raised:
        load_schema(path)

    assert str(raised.value).startswith(f"{path}: not valid YAML (line ")


def test_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "schema.yml"
    path.write_text("")

    with pytest.raises(ProfileSchemaError) as raised:
        load_schema(path)

    assert str(raised.value) == f"{path}: a schema is a mapping with database and fields, not None"


# --- SQL column types ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field_type", "duckdb", "clickhouse"),
    [
        ("string", "VARCHAR", "Nullable(String)"),
        ("integer", "BIGINT", "Nullable(Int64)"),
        ("float", "DOUBLE", "Nullable(Float64)"),
        ("boolean", "BOOLEAN", "Nullable(Bool)"),
        ("date", "DATE", "Nullable(Date32)"),
        ("datetime", "TIMESTAMP(3)", "Nullable(DateTime64(3, 'UTC'))"),
        ("enum", "VARCHAR", "LowCardinality(Nullable(String))"),
        ("list", "VARCHAR[]", "Array(String)"),
        ("json", "JSON", "Nullable(String)"),
    ],
)
def test_column_types(field_type: Any, duckdb: str, clickhouse: str) -> None:
    assert column_type(field_type, "duckdb") == duckdb
    assert column_type(field_type, "clickhouse") == clickhouse


def test_a_required_field_is_not_nullable_on_clickhouse() -> None:
    schema = parse_schema_yaml(SHOP_YAML.replace("default: bronze}", "required: true}"))
    level = schema.field("level")
    assert level is not None

    assert field_column_type(level, "clickhouse") == "LowCardinality(String)"
    assert field_column_type(level, "duckdb") == "VARCHAR"


def test_column_type_refuses_an_unknown_type_or_dialect() -> None:
    with pytest.raises(ValueError, match="unknown field type 'money'"):
        column_type("money", "duckdb")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown SQL dialect 'mysql'"):
        column_type("string", "mysql")  # type: ignore[arg-type]


def test_column_types_are_valid_sql_on_duckdb() -> None:
    import duckdb

    columns = ", ".join(f"c_{t} {column_type(t, 'duckdb')}" for t in FIELD_TYPES)
    connection = duckdb.connect()
    connection.execute(f"create table t ({columns})")

    assert len(connection.execute("describe t").fetchall()) == len(FIELD_TYPES)


# --- compatibility rules ------------------------------------------------------------------


def shop(*extra: dict[str, Any], **changes: Any) -> ProfileSchema:
    document = parse_schema_yaml(SHOP_YAML).to_document()
    fields = [field for field in document["fields"] if field["name"] not in changes.get("drop", ())]
    fields = [{**field, **changes.get(field["name"], {})} for field in fields]
    return parse_schema({**document, "fields": [*fields, *extra]})


def test_the_same_schema_has_no_changes() -> None:
    assert schema_changes(shop(), shop()).changes == ()
    assert schema_changes(shop(), shop()).refused == ()


@pytest.mark.parametrize(
    ("new", "change"),
    [
        (shop({"name": "city", "type": "string"}), "added field 'city' (string)"),
        (
            shop({"name": "bonus", "type": "integer", "required": True, "default": 0}),
            "added field 'bonus' (integer)",
        ),
        (
            shop(level={"values": ["bronze", "silver", "gold", "platinum"]}),
            "field 'level': added values platinum",
        ),
        (shop(level={"values": ["gold", "silver", "bronze"]}), "field 'level': values reordered"),
        (shop(level={"default": "silver"}), "field 'level': default 'bronze' -> 'silver'"),
        (shop(level={"required": True}), "field 'level': required"),
        (shop(tags={"description": "free labels"}), "field 'tags': description changed"),
        (
            shop(given_name={"match": "given_name"}),
            "field 'given_name': role match name -> match given_name",
        ),
        (shop(phone={"identifier": None}), "field 'phone': role identifier phone -> none"),
    ],
)
def test_compatible_changes(new: ProfileSchema, change: str) -> None:
    diff = schema_changes(shop(), new)

    assert diff.refused == ()
    assert diff.changes == (change,)


def test_a_title_change_and_a_reorder_are_changes() -> None:
    document = shop().to_document()
    new = parse_schema({**document, "title": "Shop", "fields": document["fields"][::-1]})

    assert schema_changes(shop(), new).changes == ("title 'Shop RU' -> 'Shop'", "fields reordered")


@pytest.mark.parametrize(
    ("new", "refusal"),
    [
        (shop(tags={"type": "string"}), "field 'tags' changes type from list to string"),
        (shop(level={"values": ["bronze", "gold"]}), "field 'level' loses enum values silver"),
        (
            shop({"name": "vip", "type": "boolean", "required": True}),
            "new field 'vip' is required but has no default",
        ),
        (shop(tags={"required": True}), "field 'tags' becomes required without a default"),
        (shop(drop=("tags",)), "field 'tags' is removed, and its data with it"),
    ],
)
def test_incompatible_changes(new: ProfileSchema, refusal: str) -> None:
    diff = schema_changes(shop(), new)

    assert len(diff.refused) == 1
    assert diff.refused[0].startswith(refusal)


def test_a_removal_is_a_change_when_allowed() -> None:
    diff = schema_changes(shop(), shop(drop=("tags",)), allow_removal=True)

    assert (diff.changes, diff.refused) == (("removed field 'tags'",), ())


def test_a_different_database_name_is_refused() -> None:
    other = parse_schema({**shop().to_document(), "database": "b2b"})

    assert (
        schema_changes(shop(), other)
        .refused[0]
        .startswith(
            "the database name changes from 'shop' to 'b2b'; rename it with herald db rename"
        )
    )
