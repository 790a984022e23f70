"""Merges undone by a person (profile_unmerges).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Migrations spell their types out rather than import the models, which will change.
identifier = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "profile_unmerges",
        sa.Column("id", identifier, autoincrement=True, nullable=False),
        sa.Column("database_id", identifier, nullable=False),
        sa.Column("kept_id", sa.String(1000), nullable=False, comment="the profile merged into"),
        sa.Column(
            "merged_id", sa.String(1000), nullable=False, comment="the profile id to restore"
        ),
        sa.Column(
            "merge_build_id", sa.String(100), nullable=False, comment="the build of the merge"
        ),
        sa.Column(
            "requested_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("requested_by", sa.String(200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["database_id"],
            ["profile_databases.id"],
            name=op.f("fk_profile_unmerges_database_id_profile_databases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profile_unmerges")),
        sa.UniqueConstraint(
            "database_id",
            "merged_id",
            "merge_build_id",
            name=op.f("uq_profile_unmerges_database_id_merged_id_merge_build_id"),
        ),
    )


def downgrade() -> None:
    op.drop_table("profile_unmerges")
