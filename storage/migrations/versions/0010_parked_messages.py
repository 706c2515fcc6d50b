"""Messages parked on folders not yet known (N2), decided again when they become known.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import JsonDocument, UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "parked_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("grant_id", sa.String(length=255), nullable=False),
        sa.Column("message_id", sa.String(length=1024), nullable=False),
        sa.Column("message", JsonDocument, nullable=False),
        sa.Column("observed_at", UTCDateTime(), nullable=False),
        sa.Column("parked_at", UTCDateTime(), nullable=False),
        sa.Column("deadline", UTCDateTime(), nullable=False),
        sa.Column("next_look_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("grant_id", "message_id", name="uq_parked_messages_grant_message"),
    )
    op.create_index("ix_parked_messages_look", "parked_messages", ["next_look_at"])


def downgrade() -> None:
    op.drop_index("ix_parked_messages_look", "parked_messages")
    op.drop_table("parked_messages")
