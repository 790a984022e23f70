"""The client card: field edits, subscriptions with their history, relations between profiles.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Migrations spell their types out rather than import the models, which will change.
identifier = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
json_document = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
STATUSES = "status in ('subscribed', 'unsubscribed', 'suppressed')"


def _database_id(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["database_id"],
        ["profile_databases.id"],
        name=op.f(f"fk_{table}_database_id_profile_databases"),
        ondelete="CASCADE",
    )


def _timestamp(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "profile_edits",
        sa.Column("id", identifier, autoincrement=True, nullable=False),
        sa.Column("database_id", identifier, nullable=False),
        sa.Column(
            "profile_id", sa.String(1000), nullable=False, comment="the live profile id edited"
        ),
        sa.Column(
            "fields",
            json_document,
            nullable=False,
            comment="the edited fields, normalised, as JSON values",
        ),
        _timestamp("edited_at"),
        sa.Column("edited_by", sa.String(200), nullable=True, comment="who made the edit"),
        sa.Column(
            "import_id",
            sa.String(40),
            nullable=False,
            comment="the edit's import (profile_imports, lineage)",
        ),
        _database_id("profile_edits"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profile_edits")),
        sa.UniqueConstraint("import_id", name=op.f("uq_profile_edits_import_id")),
    )
    op.create_index(
        op.f("ix_profile_edits_database_id_profile_id_edited_at"),
        "profile_edits",
        ["database_id", "profile_id", "edited_at"],
    )

    op.create_table(
        "profile_subscriptions",
        sa.Column("id", identifier, autoincrement=True, nullable=False),
        sa.Column("database_id", identifier, nullable=False),
        sa.Column("profile_id", sa.String(1000), nullable=False),
        sa.Column(
            "channel",
            sa.String(20),
            nullable=False,
            comment="email, sms, push, telegram, whatsapp, viber",
        ),
        sa.Column(
            "resource",
            sa.String(200),
            nullable=False,
            comment="newsletter or topic; * for the whole channel",
        ),
        sa.Column(
            "status", sa.String(20), nullable=False, comment="subscribed, unsubscribed, suppressed"
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "source", sa.String(200), nullable=False, comment="who or what set it: api, cli, ..."
        ),
        _timestamp("updated_at"),
        sa.CheckConstraint(STATUSES, name=op.f("ck_profile_subscriptions_subscription_status")),
        _database_id("profile_subscriptions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profile_subscriptions")),
        sa.UniqueConstraint(
            "database_id",
            "profile_id",
            "channel",
            "resource",
            name=op.f("uq_profile_subscriptions_database_id_profile_id_channel_resource"),
        ),
    )

    op.create_table(
        "profile_subscription_changes",
        sa.Column("id", identifier, autoincrement=True, nullable=False),
        sa.Column("database_id", identifier, nullable=False),
        sa.Column("profile_id", sa.String(1000), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("resource", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column(
            "previous_status",
            sa.String(20),
            nullable=True,
            comment="null for the first status of the subscription",
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("source", sa.String(200), nullable=False),
        _timestamp("changed_at"),
        sa.CheckConstraint(
            STATUSES, name=op.f("ck_profile_subscription_changes_subscription_change_status")
        ),
        _database_id("profile_subscription_changes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profile_subscription_changes")),
    )
    op.create_index(
        op.f("ix_profile_subscription_changes_database_id_profile_id_changed_at"),
        "profile_subscription_changes",
        ["database_id", "profile_id", "changed_at"],
    )

    op.create_table(
        "profile_relations",
        sa.Column("id", identifier, autoincrement=True, nullable=False),
        sa.Column("database_id", identifier, nullable=False),
        sa.Column("from_profile_id", sa.String(1000), nullable=False),
        sa.Column("to_profile_id", sa.String(1000), nullable=False),
        sa.Column("kind", sa.String(100), nullable=False, comment='e.g. "family", "manager of"'),
        _timestamp("created_at"),
        sa.Column("created_by", sa.String(200), nullable=True),
        sa.CheckConstraint(
            "from_profile_id <> to_profile_id", name=op.f("ck_profile_relations_not_to_itself")
        ),
        _database_id("profile_relations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profile_relations")),
        sa.UniqueConstraint(
            "database_id",
            "from_profile_id",
            "to_profile_id",
            "kind",
            name=op.f("uq_profile_relations_database_id_from_profile_id_to_profile_id_kind"),
        ),
    )
    op.create_index(
        op.f("ix_profile_relations_database_id_to_profile_id"),
        "profile_relations",
        ["database_id", "to_profile_id"],
    )


def downgrade() -> None:
    op.drop_table("profile_relations")
    op.drop_table("profile_subscription_changes")
    op.drop_table("profile_subscriptions")
    op.drop_table("profile_edits")
