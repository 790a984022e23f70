"""The sample data's profile database in the operational store: `customers`, whose schema is
docs/schemas/customers.yml (the fields herald/generate/profile_records.py fills).

The store, Alembic and pydantic are imported inside the function: generator processes
never need them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from herald.generate.profile_records import SCHEMA_PATH

if TYPE_CHECKING:
    from herald.profiles.databases import SchemaUpdate


def apply_customers_schema(database_url: str, schema_path: Path = SCHEMA_PATH) -> SchemaUpdate:
    """Create the `customers` profile database, or make the file its current schema (as
    `herald db apply --schema docs/schemas/customers.yml` does)."""
    from herald.profiles.databases import apply_schema
    from herald.profiles.schema import load_schema
    from herald.store import create_store_engine, migrate

    schema = load_schema(schema_path)
    migrate(database_url)
    engine = create_store_engine(database_url)
    try:
        return apply_schema(engine, schema, "sample data (herald generate)")
    finally:
        engine.dispose()


def describe(update: SchemaUpdate) -> str:
    """One line for people: what applying the schema did."""
    if update.created:
        return f"profile database {update.name} created, schema version {update.version}"
    if not update.changes:
        return f"profile database {update.name} is up to date, schema version {update.version}"
    return f"profile database {update.name} updated to schema version {update.version}"
