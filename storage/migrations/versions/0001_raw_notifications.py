"""Raw notifications, kept for reprocessing (N3).

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import JsonDocument, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "raw_notifications",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("notification_id", sa.String(length=255), nullable=False),
        sa.Column("api_version", sa.String(length=4), nullable=False),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("trigger", sa.String(length=255), nullable=False),
        sa.Column("grant_id", sa.String(length=255), nullable=True),
        sa.Column("object_id", sa.String(length=1024), nullable=True),
        sa.Column("occurred_at", UTCDateTime(), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("payload", JsonDocument, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("handled_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("notification_id", name="uq_raw_notifications_notification_id"),
    )
    op.create_index(
        "ix_raw_notifications_grant_received", "raw_notifications", ["grant_id", "received_at"]
    )
    op.create_index("ix_raw_notifications_received", "raw_notifications", ["received_at"])


def downgrade() -> None:
    op.drop_table("raw_notifications")
