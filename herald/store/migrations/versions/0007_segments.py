"""Segments: definitions (segments, segment_versions) and static lists (segment_list_entries).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Migrations spell their types out rather than import the models, which will change.
identifier = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
document = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "segments",
        sa.Column("id", identifier, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(63), nullable=False, comment="the segment id; a slug"),
        sa.Column("database_id", identifier, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False, comment="dynamic or static"),
        sa.Column("title", sa.String(200), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False, comment="the current definition"),
        sa.Column(
            "refresh",
            sa.String(100),
            nullable=True,
            comment="cron of a scheduled recomputation; null: when its inputs change",
        ),
        sa.Column(
            "frozen_from",
            sa.String(63),
            nullable=True,
            comment="the dynamic segment a static one froze",
        ),
        sa.Column("frozen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "depends_on",
            document,
            nullable=False,
            comment="segments its definition names (no cycles)",
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("kind in ('dynamic', 'static')", name=op.f("ck_segments_segment_kind")),
        sa.ForeignKeyConstraint(
            ["database_id"],
            ["profile_databases.id"],
            name=op.f("fk_segments_database_id_profile_databases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
        sa.UniqueConstraint("name", name=op.f("uq_segments_name")),
    )
    op.create_table(
        "segment_versions",
        sa.Column("id", identifier, autoincrement=True, nullable=False),
        sa.Column("segment_id", identifier, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", document, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("created_by", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segments.id"],
            name=op.f("fk_segment_versions_segment_id_segments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_versions")),
        sa.UniqueConstraint(
            "segment_id", "version", name=op.f("uq_segment_versions_segment_id_version")
        ),
    )
    op.create_table(
        "segment_list_entries",
        sa.Column("id", identifier, autoincrement=True, nullable=False),
        sa.Column("segment_id", identifier, nullable=False),
        sa.Column("profile_id", sa.String(1000), nullable=False),
        sa.Column("included", sa.Boolean(), nullable=False, comment="true: added; false: removed"),
        sa.Column(
            "changed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("source", sa.String(200), nullable=False, comment="api, cli, file: <name>"),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segments.id"],
            name=op.f("fk_segment_list_entries_segment_id_segments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_list_entries")),
        sa.UniqueConstraint(
            "segment_id", "profile_id", name=op.f("uq_segment_list_entries_segment_id_profile_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("segment_list_entries")
    op.drop_table("segment_versions")
    op.drop_table("segments")
