"""Initial operational store: pipeline runs and the landing-file ledger.

Revision ID: 0001
Revises:
Create Date: 2025-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Migrations spell their types out rather than import the models, which will change.
identifier = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
json_document = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "pipeline_runs",
        sa.Column("id", identifier, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=True, comment="Dagster run id"),
        sa.Column(
            "kind", sa.String(32), nullable=False, comment="materialize, generate, demo, ..."
        ),
        sa.Column("selection", sa.Text(), nullable=True, comment="asset selection, as given"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("rows_written", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("details", json_document, nullable=True),
        sa.CheckConstraint(
            "status in ('started', 'succeeded', 'failed')", name=op.f("ck_pipeline_runs_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_runs")),
    )
    op.create_index(op.f("ix_pipeline_runs_started_at"), "pipeline_runs", ["started_at"])
    op.create_index(op.f("ix_pipeline_runs_run_id"), "pipeline_runs", ["run_id"])

    op.create_table(
        "landing_files",
        sa.Column("id", identifier, autoincrement=True, nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column(
            "file_name", sa.String(1000), nullable=False, comment="path relative to the source"
        ),
        sa.Column("fingerprint", sa.String(128), nullable=False, comment="e.g. sha256:<hex>"),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column(
            "loaded_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("run_id", sa.String(64), nullable=True, comment="Dagster run id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_landing_files")),
        sa.UniqueConstraint(
            "source",
            "file_name",
            "fingerprint",
            name=op.f("uq_landing_files_source_file_name_fingerprint"),
        ),
    )


def downgrade() -> None:
    op.drop_table("landing_files")
    op.drop_index(op.f("ix_pipeline_runs_run_id"), table_name="pipeline_runs")
    op.drop_index(op.f("ix_pipeline_runs_started_at"), table_name="pipeline_runs")
    op.drop_table("pipeline_runs")
