"""Profile databases and the versions of their schemas.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Migrations spell their types out rather than import the models, which will change.
identifier = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
json_document = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "profile_databases",
        sa.Column("id", identifier, autoincrement=True, nullable=False),
        sa.Column(
            "name",
            sa.String(63),
            nullable=False,
            comment="lowercase snake_case, as in the schema",
        ),
        sa.Column("title", sa.String(200), nullable=True, comment="display name"),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profile_databases")),
        sa.UniqueConstraint("name", name=op.f("uq_profile_databases_name")),
    )

    op.create_table(
        "profile_schema_versions",
        sa.Column("id", identifier, autoincrement=True, nullable=False),
        sa.Column("database_id", identifier, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, comment="1, 2, ... per database"),
        sa.Column("schema", json_document, nullable=False, comment="the ProfileSchema document"),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("comment", sa.Text(), nullable=True, comment="why this version was made"),
        sa.ForeignKeyConstraint(
            ["database_id"],
            ["profile_databases.id"],
            name=op.f("fk_profile_schema_versions_database_id_profile_databases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profile_schema_versions")),
        sa.UniqueConstraint(
            "database_id",
            "version",
            name=op.f("uq_profile_schema_versions_database_id_version"),
        ),
    )


def downgrade() -> None:
    op.drop_table("profile_schema_versions")
    op.drop_table("profile_databases")
