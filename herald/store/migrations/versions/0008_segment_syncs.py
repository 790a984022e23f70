"""Segment syncs: a segment's members written to a table of an external SQL database.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Migrations spell their types out rather than import the models, which will change.
identifier = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
document = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "segment_syncs",
        sa.Column("id", identifier, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(63), nullable=False, comment="lowercase snake_case"),
        sa.Column("segment_id", identifier, nullable=False),
        sa.Column(
            "url", sa.Text(), nullable=False, comment="SQLAlchemy URL of the target database"
        ),
        sa.Column("table_name", sa.String(300), nullable=False, comment="table (or schema.table)"),
        sa.Column(
            "fields", document, nullable=False, comment="profile fields to write; empty: all"
        ),
        sa.Column("mode", sa.String(20), nullable=False, comment="replace or diff"),
        sa.Column("schedule", sa.String(100), nullable=False, comment="cron expression (UTC)"),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.String(20), nullable=True, comment="succeeded or failed"),
        sa.Column("last_inserted", sa.BigInteger(), nullable=True),
        sa.Column("last_updated", sa.BigInteger(), nullable=True),
        sa.Column("last_deleted", sa.BigInteger(), nullable=True),
        sa.Column("last_total", sa.BigInteger(), nullable=True, comment="rows in the target"),
        sa.Column("last_error", sa.Text(), nullable=True, comment="why the last run failed"),
        sa.CheckConstraint(
            "mode in ('replace', 'diff')", name=op.f("ck_segment_syncs_segment_sync_mode")
        ),
        sa.CheckConstraint(
            "last_status is null or last_status in ('succeeded', 'failed')",
            name=op.f("ck_segment_syncs_segment_sync_status"),
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segments.id"],
            name=op.f("fk_segment_syncs_segment_id_segments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_syncs")),
        sa.UniqueConstraint("name", name=op.f("uq_segment_syncs_name")),
    )


def downgrade() -> None:
    op.drop_table("segment_syncs")
