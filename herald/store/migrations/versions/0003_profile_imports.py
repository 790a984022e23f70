"""Imports into profile databases.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Migrations spell their types out rather than import the models, which will change.
identifier = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
json_document = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "profile_imports",
        sa.Column("id", identifier, autoincrement=True, nullable=False),
        sa.Column(
            "import_id",
            sa.String(40),
            nullable=False,
            comment="public id of the import, in lineage and reports",
        ),
        sa.Column("database_id", identifier, nullable=False),
        sa.Column(
            "source", sa.String(200), nullable=False, comment="the label the user gave the source"
        ),
        sa.Column("kind", sa.String(20), nullable=False, comment="file, paste, manual, api or sql"),
        sa.Column("file_name", sa.String(500), nullable=True),
        sa.Column("mode", sa.String(20), nullable=False, comment="upsert, insert or update"),
        sa.Column(
            "options",
            json_document,
            nullable=False,
            comment="mapping, match fields, key column, sheet, ...",
        ),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("accepted", sa.BigInteger(), nullable=False),
        sa.Column("rejected", sa.BigInteger(), nullable=False),
        sa.Column("report_path", sa.Text(), nullable=True, comment="CSV of the rejected rows"),
        sa.Column(
            "request_id",
            sa.String(200),
            nullable=True,
            comment="the API caller's idempotency key",
        ),
        sa.Column("run_id", sa.String(64), nullable=True, comment="Dagster run id"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status in ('running', 'succeeded', 'failed')",
            name=op.f("ck_profile_imports_profile_import_status"),
        ),
        sa.ForeignKeyConstraint(
            ["database_id"],
            ["profile_databases.id"],
            name=op.f("fk_profile_imports_database_id_profile_databases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profile_imports")),
        sa.UniqueConstraint("import_id", name=op.f("uq_profile_imports_import_id")),
        sa.UniqueConstraint("request_id", name=op.f("uq_profile_imports_request_id")),
    )
    op.create_index(
        op.f("ix_profile_imports_database_id_started_at"),
        "profile_imports",
        ["database_id", "started_at"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_profile_imports_database_id_started_at"), table_name="profile_imports")
    op.drop_table("profile_imports")
