"""SQL sources: external tables or queries imported into profile databases on a schedule.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Migrations spell their types out rather than import the models, which will change.
identifier = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
json_document = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "sql_sources",
        sa.Column("id", identifier, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(63), nullable=False, comment="lowercase snake_case"),
        sa.Column("database_id", identifier, nullable=False),
        sa.Column(
            "url", sa.Text(), nullable=False, comment="SQLAlchemy URL of the source database"
        ),
        sa.Column(
            "table_name",
            sa.String(300),
            nullable=True,
            comment="table (or schema.table) to read; or query",
        ),
        sa.Column("query", sa.Text(), nullable=True, comment="SELECT to read; or table_name"),
        sa.Column(
            "cursor_column",
            sa.String(200),
            nullable=True,
            comment="incremental by this column; full reload when null",
        ),
        sa.Column(
            "last_cursor",
            sa.Text(),
            nullable=True,
            comment="greatest cursor value imported, as text",
        ),
        sa.Column(
            "last_cursor_type",
            sa.String(20),
            nullable=True,
            comment="int, float, decimal, date, datetime or text",
        ),
        sa.Column("key_column", sa.String(200), nullable=True),
        sa.Column("mapping", json_document, nullable=False, comment="column -> profile field"),
        sa.Column("mode", sa.String(20), nullable=False),
        sa.Column("schedule", sa.String(100), nullable=False, comment="cron expression (UTC)"),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "last_import_id",
            sa.String(40),
            nullable=True,
            comment="import_id of the last successful run",
        ),
        sa.CheckConstraint(
            "(table_name is null and query is not null)"
            " or (table_name is not null and query is null)",
            name=op.f("ck_sql_sources_table_or_query"),
        ),
        sa.CheckConstraint(
            "mode in ('upsert', 'insert', 'update')",
            name=op.f("ck_sql_sources_sql_source_mode"),
        ),
        sa.ForeignKeyConstraint(
            ["database_id"],
            ["profile_databases.id"],
            name=op.f("fk_sql_sources_database_id_profile_databases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sql_sources")),
        sa.UniqueConstraint("name", name=op.f("uq_sql_sources_name")),
    )


def downgrade() -> None:
    op.drop_table("sql_sources")
