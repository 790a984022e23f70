"""Campaigns and content: templates and fragments (versioned), data connections, campaigns
and their launches, sending limits and their use; send runs learn their campaign.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

json_document = sa.JSON().with_variant(JSONB(), "postgresql")
moment = sa.DateTime(timezone=True)
identifier = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("send_runs") as batch:
        batch.add_column(
            sa.Column("campaign", sa.String(63), nullable=True, comment="the campaign it sends")
        )
        batch.add_column(
            sa.Column("launch_id", sa.String(64), nullable=True, comment="the campaign launch")
        )
        batch.add_column(
            sa.Column("variant", sa.String(100), nullable=True, comment="A/B/n or MVT variant")
        )
        batch.add_column(
            sa.Column(
                "not_before",
                moment,
                nullable=True,
                comment="enqueued from this moment (scheduled, local time)",
            )
        )
    op.create_table(
        "content_items",
        sa.Column("id", identifier, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False, comment="template or fragment"),
        sa.Column("name", sa.String(63), nullable=False, comment="a slug"),
        sa.Column("channel", sa.String(20), nullable=True, comment="templates: the channel"),
        sa.Column("version", sa.Integer(), nullable=False, comment="the current version"),
        sa.Column("created_at", moment, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", moment, server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("kind in ('template', 'fragment')", name="content_kind"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "name"),
    )
    op.create_table(
        "content_versions",
        sa.Column("id", identifier, autoincrement=True, nullable=False),
        sa.Column("item_id", identifier, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", json_document, nullable=False),
        sa.Column("created_at", moment, server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["content_items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_id", "version"),
    )
    op.create_table(
        "data_connections",
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("created_at", moment, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "campaigns",
        sa.Column("id", identifier, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(63), nullable=False, comment="a slug"),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("definition", json_document, nullable=False),
        sa.Column(
            "next_launch_at", moment, nullable=True, comment="when the scheduler launches it next"
        ),
        sa.Column(
            "trigger_cursor",
            moment,
            nullable=True,
            comment="triggered: segment entries up to here are sent",
        ),
        sa.Column("launches", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", moment, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", moment, server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "kind in ('one_off', 'regular', 'triggered', 'transactional')", name="campaign_kind"
        ),
        sa.CheckConstraint(
            "state in ('draft', 'scheduled', 'active', 'paused', 'finished', 'cancelled')",
            name="campaign_state",
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "campaign_launches",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("campaign_id", identifier, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("scheduled_for", moment, nullable=True),
        sa.Column("recipients", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("plan", json_document, nullable=False),
        sa.Column("started_at", moment, nullable=False),
        sa.Column("finished_at", moment, nullable=True),
        sa.CheckConstraint(
            "state in ('testing', 'sending', 'finished', 'paused', 'cancelled')",
            name="launch_state",
        ),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "number"),
    )
    op.create_table(
        "sending_limits",
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("per_hour", sa.BigInteger(), nullable=True),
        sa.Column("per_day", sa.BigInteger(), nullable=True),
        sa.Column("warmup_start", sa.BigInteger(), nullable=True),
        sa.Column("warmup_factor", sa.Float(), nullable=True),
        sa.Column("warmup_cap", sa.BigInteger(), nullable=True),
        sa.Column("warmup_from", moment, nullable=True, comment="day 0 (UTC)"),
        sa.Column("updated_at", moment, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("scope"),
    )
    op.create_table(
        "sending_quota_use",
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("period", sa.String(8), nullable=False, comment="hour or day"),
        sa.Column("period_start", moment, nullable=False),
        sa.Column("used", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "period", "period_start"),
    )


def downgrade() -> None:
    for table in (
        "sending_quota_use",
        "sending_limits",
        "campaign_launches",
        "campaigns",
        "data_connections",
        "content_versions",
        "content_items",
    ):
        op.drop_table(table)
    with op.batch_alter_table("send_runs") as batch:
        for column in ("not_before", "variant", "launch_id", "campaign"):
            batch.drop_column(column)
