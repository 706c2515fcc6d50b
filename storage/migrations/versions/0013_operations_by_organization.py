"""Stored notifications and dead-letter audits name their organization.

A stored notification also keeps the organization it came through (its URL or own Nylas
application), if any, so that handling it again keeps it to that organization's grants.

A notification stored before organizations is the organization's of its grant's rep (all of
them ``default`` then); one whose grant no rep holds stays without one, as a new one does
until a rep claims its grant. Audits before this revision were across the deployment.

Stored notifications become unique per organization they came through and notification id
(Nylas's ids are each application's): on SQLite that rebuilds raw_notifications once.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

ORG_ID = sa.String(length=64)


def upgrade() -> None:
    op.add_column("raw_notifications", sa.Column("org_id", ORG_ID, nullable=True))
    # "" for the deployment's application: a key column, so never null.
    op.add_column(
        "raw_notifications",
        sa.Column("via_org", ORG_ID, nullable=False, server_default=""),
    )
    op.execute(
        "UPDATE raw_notifications SET org_id = "
        "(SELECT reps.org_id FROM reps WHERE reps.grant_id = raw_notifications.grant_id) "
        "WHERE grant_id IS NOT NULL"
    )
    op.create_index(
        "ix_raw_notifications_org_received", "raw_notifications", ["org_id", "received_at"]
    )
    # Nylas's ids are each application's own: unique per organization it came through.
    with op.batch_alter_table("raw_notifications") as batch:
        batch.alter_column("via_org", server_default=None)
        batch.drop_constraint("uq_raw_notifications_notification_id", type_="unique")
        batch.create_unique_constraint(
            "uq_raw_notifications_notification", ["via_org", "notification_id"]
        )
    op.add_column("dead_letter_audits", sa.Column("org_id", ORG_ID, nullable=True))
    op.create_index("ix_dead_letter_audits_org", "dead_letter_audits", ["org_id", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_dead_letter_audits_org", table_name="dead_letter_audits")
    with op.batch_alter_table("dead_letter_audits") as batch:
        batch.drop_column("org_id")
    op.drop_index("ix_raw_notifications_org_received", table_name="raw_notifications")
    with op.batch_alter_table("raw_notifications") as batch:
        batch.drop_constraint("uq_raw_notifications_notification", type_="unique")
        batch.create_unique_constraint("uq_raw_notifications_notification_id", ["notification_id"])
        batch.drop_column("via_org")
        batch.drop_column("org_id")
