"""Offboardings: an organization removed with everything it holds, in resumable batches.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import JsonDocument, UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "offboardings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("requested_by", sa.String(length=255), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("grants", JsonDocument, nullable=False),
        sa.Column("grants_disconnected", sa.Integer(), nullable=False),
        sa.Column("deleted", JsonDocument, nullable=False),
        sa.Column("queued_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_index("ix_offboardings_org", "offboardings", ["org_id", "requested_at"])
    op.create_index("ix_offboardings_state", "offboardings", ["state", "queued_at"])


def downgrade() -> None:
    op.drop_table("offboardings")
