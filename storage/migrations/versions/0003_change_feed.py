"""Change feed: the writing transaction of each change, and the feed's retention mark.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # Rebuilt with AUTOINCREMENT: without it SQLite reuses the numbers of pruned rows,
        # and a new change would sort before cursors already handed out.
        with op.batch_alter_table(
            "changes", recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ) as batch:
            batch.add_column(sa.Column("txid", sa.BigInteger(), nullable=True))
    else:
        op.add_column("changes", sa.Column("txid", sa.BigInteger(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        # Every change row carries the id of the transaction that wrote it (see storage/feed.py).
        op.execute("UPDATE changes SET txid = 0")
        op.execute(
            "ALTER TABLE changes ALTER COLUMN txid SET DEFAULT pg_current_xact_id()::text::bigint"
        )
    op.create_index("ix_changes_txid_seq", "changes", ["txid", "seq"])
    op.create_table(
        "feed_retention",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("pruned_txid", sa.BigInteger(), nullable=False),
        sa.Column("pruned_seq", sa.BigInteger(), nullable=False),
        sa.Column("pruned_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("feed_retention")
    op.drop_index("ix_changes_txid_seq", table_name="changes")
    op.drop_column("changes", "txid")
