"""Accounts: connection health on reps, hosted OAuth attempts, backfills, and sent emails.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import JsonDocument, UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reps") as batch:
        batch.add_column(sa.Column("connected_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("status_changed_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("last_activity_at", UTCDateTime(), nullable=True))
        batch.add_column(
            sa.Column("consecutive_failures", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("grant_event_at", UTCDateTime(), nullable=True))
    op.create_table(
        "connect_attempts",
        sa.Column("nonce", sa.String(length=64), primary_key=True),
        sa.Column("rep_id", sa.String(length=255), sa.ForeignKey("reps.id"), nullable=False),
        sa.Column("return_url", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "backfills",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("rep_id", sa.String(length=255), sa.ForeignKey("reps.id"), nullable=False),
        sa.Column("grant_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("addresses", JsonDocument, nullable=False),
        sa.Column("since", UTCDateTime(), nullable=False),
        sa.Column("until", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("window_index", sa.Integer(), nullable=False),
        sa.Column("windows_total", sa.Integer(), nullable=False),
        sa.Column("page_token", sa.Text(), nullable=True),
        sa.Column("pages_done", sa.Integer(), nullable=False),
        sa.Column("scanned", sa.Integer(), nullable=False),
        sa.Column("stored", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("queued_at", UTCDateTime(), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_backfills_state", "backfills", ["state", "queued_at"])
    with op.batch_alter_table("emails") as batch:
        batch.alter_column("message_id", existing_type=sa.String(length=1024), nullable=True)
        batch.add_column(sa.Column("send_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("reply_to_message_id", sa.String(length=1024), nullable=True))
        batch.add_column(sa.Column("crm_reference", JsonDocument, nullable=True))
        batch.add_column(sa.Column("delivery_state", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("delivery_error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("queued_at", UTCDateTime(), nullable=True))
        batch.create_unique_constraint("uq_emails_rep_send_key", ["rep_id", "send_key"])
    op.create_index("ix_emails_delivery", "emails", ["delivery_state", "queued_at"])


def downgrade() -> None:
    op.drop_index("ix_emails_delivery", "emails")
    with op.batch_alter_table("emails") as batch:
        batch.drop_constraint("uq_emails_rep_send_key", type_="unique")
        for column in ("queued_at", "delivery_error", "delivery_state", "crm_reference"):
            batch.drop_column(column)
        for column in ("reply_to_message_id",):
            batch.drop_column(column)
        batch.drop_column("send_key")
        batch.alter_column("message_id", existing_type=sa.String(length=1024), nullable=False)
    op.drop_table("backfills")
    op.drop_table("connect_attempts")
    with op.batch_alter_table("reps") as batch:
        batch.drop_column("grant_event_at")
        batch.drop_column("consecutive_failures")
        batch.drop_column("last_activity_at")
        batch.drop_column("status_changed_at")
        batch.drop_column("connected_at")
