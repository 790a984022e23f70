"""Alembic migrations of the operational store (run them with `herald.store.migrate`)."""
