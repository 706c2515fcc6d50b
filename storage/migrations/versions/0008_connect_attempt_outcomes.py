"""Connect attempts: how each callback ended, and an index to prune old attempts by age.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-14
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connect_attempts") as batch:
        batch.add_column(sa.Column("outcome", sa.String(length=32), nullable=True))
    op.create_index("ix_connect_attempts_created", "connect_attempts", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_connect_attempts_created", "connect_attempts")
    with op.batch_alter_table("connect_attempts") as batch:
        batch.drop_column("outcome")
