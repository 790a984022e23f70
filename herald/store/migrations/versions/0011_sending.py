"""Sending: runs, the send log (idempotency), suppressed addresses, live sender workers.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

json_document = sa.JSON().with_variant(JSONB(), "postgresql")
moment = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "send_runs",
        sa.Column("id", sa.String(64), nullable=False, comment="the run's id"),
        sa.Column("name", sa.String(200), nullable=False, comment="campaign name, or what it is"),
        sa.Column("kind", sa.String(20), nullable=False, comment="campaign, transactional or test"),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("database", sa.String(63), nullable=True, comment="profile database"),
        sa.Column("spec", json_document, nullable=False, comment="content and options"),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("snapshot", sa.Text(), nullable=True, comment="the audience snapshot file"),
        sa.Column(
            "recipients",
            sa.BigInteger(),
            server_default=sa.text("0"),
            nullable=False,
            comment="rows of the snapshot",
        ),
        sa.Column(
            "enqueued",
            sa.BigInteger(),
            server_default=sa.text("0"),
            nullable=False,
            comment="recipients confirmed queued",
        ),
        sa.Column("enqueue_finished_at", moment, nullable=True),
        sa.Column(
            "throttle_per_second",
            sa.Integer(),
            nullable=True,
            comment="set: the run is sent at most this fast",
        ),
        sa.Column("created_at", moment, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", moment, server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "state in ('running', 'paused', 'cancelled', 'finished')",
            name=op.f("ck_send_runs_send_run_state"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_runs")),
    )
    op.create_table(
        "send_log",
        sa.Column("key", sa.String(200), nullable=False, comment="idempotency key"),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("profile_id", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False, comment="address, chat id, ..."),
        sa.Column("destination", sa.String(255), nullable=False, comment="delivery-rules group"),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("worker", sa.String(100), nullable=True, comment="who claimed it last"),
        sa.Column("code", sa.Integer(), nullable=True, comment="SMTP or HTTP code"),
        sa.Column("status", sa.String(16), nullable=True, comment="RFC 3463 status"),
        sa.Column("bounce_type", sa.String(20), nullable=True),
        sa.Column("diagnostic", sa.String(500), nullable=True),
        sa.Column("message_id", sa.String(255), nullable=True),
        sa.Column("first_attempt_at", moment, nullable=True),
        sa.Column("updated_at", moment, server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "state in ('sending', 'sent', 'deferred', 'bounced', 'failed', 'skipped', 'released')",
            name=op.f("ck_send_log_send_state"),
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_send_log")),
    )
    op.create_index(op.f("ix_send_log_run_id_state"), "send_log", ["run_id", "state"])
    op.create_index(op.f("ix_send_log_destination_state"), "send_log", ["destination", "state"])
    op.create_table(
        "suppressed_addresses",
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column(
            "address", sa.String(320), nullable=False, comment="normalised: e-mail lowercased"
        ),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column(
            "source", sa.String(20), nullable=False, comment="bounce, complaint, stop_list, api"
        ),
        sa.Column("run_id", sa.String(64), nullable=True, comment="the run that found it"),
        sa.Column("created_at", moment, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "address", name=op.f("pk_suppressed_addresses")),
    )
    op.create_table(
        "sender_workers",
        sa.Column("id", sa.String(100), nullable=False, comment="host:slot"),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", moment, nullable=False),
        sa.Column("heartbeat_at", moment, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sender_workers")),
    )


def downgrade() -> None:
    op.drop_table("sender_workers")
    op.drop_table("suppressed_addresses")
    op.drop_index(op.f("ix_send_log_destination_state"), table_name="send_log")
    op.drop_index(op.f("ix_send_log_run_id_state"), table_name="send_log")
    op.drop_table("send_log")
    op.drop_table("send_runs")
