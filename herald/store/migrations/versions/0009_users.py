"""Users of the web UI: who may log in, with which role, in which language.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Migrations spell their types out rather than import the models, which will change.
identifier = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", identifier, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(150), nullable=False, comment="the login name"),
        sa.Column("password_hash", sa.String(255), nullable=False, comment="argon2id"),
        sa.Column(
            "role", sa.String(20), nullable=False, comment="admin, marketer, analyst or viewer"
        ),
        sa.Column("language", sa.String(8), nullable=False, comment="of the web UI: en or ru"),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "disabled_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="set: the user may not log in",
        ),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role in ('admin', 'marketer', 'analyst', 'viewer')",
            name=op.f("ck_users_user_role"),
        ),
        sa.CheckConstraint("language in ('en', 'ru')", name=op.f("ck_users_user_language")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )


def downgrade() -> None:
    op.drop_table("users")
