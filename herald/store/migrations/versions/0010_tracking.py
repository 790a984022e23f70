"""Tracking: write keys of the sources that send events, and the identities given profiles.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Migrations spell their types out rather than import the models, which will change.
identifier = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tracking_sources",
        sa.Column("id", identifier, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(63), nullable=False, comment="lowercase snake_case"),
        sa.Column("database_id", identifier, nullable=False),
        sa.Column(
            "key_hash", sa.String(64), nullable=False, comment="SHA-256 of the write key, hex"
        ),
        sa.Column(
            "key_prefix", sa.String(12), nullable=False, comment="the key's first characters"
        ),
        sa.Column(
            "user_id_field",
            sa.String(63),
            nullable=True,
            comment="the profile field a userId fills",
        ),
        sa.Column(
            "anonymous_id_field",
            sa.String(63),
            nullable=True,
            comment="the profile field an anonymousId fills",
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "disabled_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="set: the key is refused",
        ),
        sa.ForeignKeyConstraint(
            ["database_id"],
            ["profile_databases.id"],
            name=op.f("fk_tracking_sources_database_id_profile_databases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_sources")),
        sa.UniqueConstraint("name", name=op.f("uq_tracking_sources_name")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_tracking_sources_key_hash")),
    )
    op.create_table(
        "tracked_identities",
        sa.Column("database_id", identifier, nullable=False),
        sa.Column("kind", sa.String(10), nullable=False, comment="user or anonymous"),
        sa.Column("value", sa.String(255), nullable=False),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind in ('user', 'anonymous')", name=op.f("ck_tracked_identities_identity_kind")
        ),
        sa.ForeignKeyConstraint(
            ["database_id"],
            ["profile_databases.id"],
            name=op.f("fk_tracked_identities_database_id_profile_databases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("database_id", "kind", "value", name=op.f("pk_tracked_identities")),
    )


def downgrade() -> None:
    op.drop_table("tracked_identities")
    op.drop_table("tracking_sources")
