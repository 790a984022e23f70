"""Profile databases: a CRM manager's client databases ("Shop RU", "B2B") and their schemas.

schema = load_schema("docs/schemas/shop.yml")
create_database(engine, schema)              # version 1 in the operational store
update_schema(engine, changed_schema)        # version 2, if compatible and different
"""

from __future__ import annotations

from herald.profiles.databases import (
    IncompatibleSchemaChange,
    ProfileDatabaseExists,
    ProfileDatabaseInfo,
    SchemaUpdate,
    SchemaVersionInfo,
    UnknownProfileDatabase,
    apply_schema,
    create_database,
    delete_database,
    get_database,
    list_databases,
    rename_database,
    schema_changes,
    schema_history,
    update_schema,
)
from herald.profiles.schema import (
    FIELD_TYPES,
    IDENTIFIER_KINDS,
    MATCH_KINDS,
    RESERVED_NAMES,
    FieldType,
    ProfileField,
    ProfileSchema,
    ProfileSchemaError,
    column_type,
    dump_schema,
    field_column_type,
    load_schema,
    parse_schema,
    parse_schema_yaml,
)

__all__ = [
    "FIELD_TYPES",
    "IDENTIFIER_KINDS",
    "MATCH_KINDS",
    "RESERVED_NAMES",
    "FieldType",
    "IncompatibleSchemaChange",
    "ProfileDatabaseExists",
    "ProfileDatabaseInfo",
    "ProfileField",
    "ProfileSchema",
    "ProfileSchemaError",
    "SchemaUpdate",
    "SchemaVersionInfo",
    "UnknownProfileDatabase",
    "apply_schema",
    "column_type",
    "create_database",
    "delete_database",
    "dump_schema",
    "field_column_type",
    "get_database",
    "list_databases",
    "load_schema",
    "parse_schema",
    "parse_schema_yaml",
    "rename_database",
    "schema_changes",
    "schema_history",
    "update_schema",
]
