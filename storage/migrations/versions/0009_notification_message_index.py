"""Stored notifications found by their message: an index on (grant_id, object_id,
received_at), so that explaining one message (``GET /v1/reps/{rep_id}/messages/{id}``,
``crmsync explain``) reads its notifications, newest first, and no others; and backfills
found by rep.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_raw_notifications_grant_object",
        "raw_notifications",
        ["grant_id", "object_id", "received_at"],
    )
    op.create_index("ix_backfills_rep", "backfills", ["rep_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_backfills_rep", "backfills")
    op.drop_index("ix_raw_notifications_grant_object", "raw_notifications")
