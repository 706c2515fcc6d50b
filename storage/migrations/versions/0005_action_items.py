"""Action items synced with reps' calendars.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import JsonDocument, UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "action_items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("rep_id", sa.String(length=255), sa.ForeignKey("reps.id"), nullable=False),
        sa.Column("crm_item_id", sa.String(length=255), nullable=False),
        sa.Column("content", JsonDocument, nullable=False),
        sa.Column("version_at", UTCDateTime(), nullable=False),
        sa.Column("version_side", sa.Integer(), nullable=False),
        sa.Column("version_digest", sa.String(length=64), nullable=False),
        sa.Column("deleted_in_calendar_at", UTCDateTime(), nullable=True),
        sa.Column("deleted_in_crm_at", UTCDateTime(), nullable=True),
        sa.Column("sync_enabled", sa.Boolean(), nullable=False),
        sa.Column("notify_participants", sa.Boolean(), nullable=False),
        sa.Column("event_id", sa.String(length=1024), nullable=True),
        sa.Column("calendar_id", sa.String(length=1024), nullable=True),
        sa.Column("written_digest", sa.String(length=64), nullable=True),
        sa.Column("written_updated_at", UTCDateTime(), nullable=True),
        sa.Column("push_state", sa.String(length=16), nullable=False),
        sa.Column("push_queued_at", UTCDateTime(), nullable=True),
        sa.Column("last_pushed_at", UTCDateTime(), nullable=True),
        sa.Column("last_push_error", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("rep_id", "crm_item_id", name="uq_action_items_rep_item"),
    )
    op.create_index("ix_action_items_event", "action_items", ["rep_id", "event_id"])
    op.create_index("ix_action_items_push", "action_items", ["push_state", "push_queued_at"])


def downgrade() -> None:
    op.drop_table("action_items")
