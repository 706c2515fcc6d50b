"""Email sync: reps, contacts and their address index, emails, folder cache, the outbox.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import JsonDocument, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("raw_notifications", sa.Column("outcome", sa.String(length=64), nullable=True))
    op.create_table(
        "reps",
        sa.Column("id", sa.String(length=255), primary_key=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("grant_id", sa.String(length=255), nullable=True),
        sa.Column("provider", sa.String(length=32), nullable=True),
        sa.Column("email_sync_enabled", sa.Boolean(), nullable=False),
        sa.Column("folders", JsonDocument, nullable=False),
        sa.Column("calendar_sync_enabled", sa.Boolean(), nullable=False),
        sa.Column("calendar_name", sa.String(length=255), nullable=True),
        sa.Column("calendar_days_after", sa.Integer(), nullable=False),
        sa.Column("sync_from", UTCDateTime(), nullable=False),
        sa.Column("account_status", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("grant_id", name="uq_reps_grant_id"),
    )
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("rep_id", sa.String(length=255), sa.ForeignKey("reps.id"), nullable=False),
        sa.Column("crm_contact_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("account_ref", sa.String(length=255), nullable=True),
        sa.Column("lead_ref", sa.String(length=255), nullable=True),
        sa.Column("addresses", JsonDocument, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("rep_id", "crm_contact_id", name="uq_contacts_rep_contact"),
    )
    op.create_index("ix_contacts_crm_contact", "contacts", ["crm_contact_id"])
    op.create_index("ix_contacts_account_ref", "contacts", ["account_ref"])
    op.create_table(
        "contact_addresses",
        sa.Column(
            "contact_id",
            sa.Integer(),
            sa.ForeignKey("contacts.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("address", sa.String(length=320), primary_key=True),
        sa.Column("rep_id", sa.String(length=255), nullable=False),
    )
    op.create_index("ix_contact_addresses_rep_address", "contact_addresses", ["rep_id", "address"])
    op.create_table(
        "emails",
        sa.Column("id", BigKey, primary_key=True),
        sa.Column("rep_id", sa.String(length=255), sa.ForeignKey("reps.id"), nullable=False),
        sa.Column("grant_id", sa.String(length=255), nullable=True),
        sa.Column("message_id", sa.String(length=1024), nullable=False),
        sa.Column("thread_id", sa.String(length=1024), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("snippet", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("sender", JsonDocument, nullable=False),
        sa.Column("to", JsonDocument, nullable=False),
        sa.Column("cc", JsonDocument, nullable=False),
        sa.Column("bcc", JsonDocument, nullable=False),
        sa.Column("date", UTCDateTime(), nullable=False),
        sa.Column("folder_ids", JsonDocument, nullable=False),
        sa.Column("folder_names", JsonDocument, nullable=False),
        sa.Column("unread", sa.Boolean(), nullable=True),
        sa.Column("starred", sa.Boolean(), nullable=True),
        sa.Column("attachments", JsonDocument, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("hidden_at", UTCDateTime(), nullable=True),
        sa.Column("mailbox_deleted_at", UTCDateTime(), nullable=True),
        sa.Column("observed_at", UTCDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("rep_id", "message_id", name="uq_emails_rep_message"),
    )
    op.create_index("ix_emails_rep_date", "emails", ["rep_id", "date", "id"])
    op.create_table(
        "email_contacts",
        sa.Column(
            "email_id", BigKey, sa.ForeignKey("emails.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("contact_id", sa.Integer(), sa.ForeignKey("contacts.id"), primary_key=True),
        sa.Column("roles", JsonDocument, nullable=False),
    )
    op.create_index("ix_email_contacts_contact", "email_contacts", ["contact_id"])
    op.create_table(
        "folders",
        sa.Column("grant_id", sa.String(length=255), primary_key=True),
        sa.Column("folder_id", sa.String(length=1024), primary_key=True),
        sa.Column("name", sa.String(length=1024), nullable=False),
        sa.Column("leaf_name", sa.String(length=1024), nullable=False),
        sa.Column("parent_id", sa.String(length=1024), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=True),
    )
    op.create_table(
        "folder_refreshes",
        sa.Column("grant_id", sa.String(length=255), primary_key=True),
        sa.Column("refreshed_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "changes",
        sa.Column("seq", BigKey, primary_key=True),
        sa.Column("change_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=255), nullable=False),
        sa.Column("rep_id", sa.String(length=255), nullable=True),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("entity_version", sa.Integer(), nullable=False),
        sa.Column("payload", JsonDocument, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("change_id", name="uq_changes_change_id"),
    )
    op.create_index("ix_changes_rep_seq", "changes", ["rep_id", "seq"])
    op.create_index("ix_changes_created", "changes", ["created_at"])


def downgrade() -> None:
    for table in (
        "changes",
        "folder_refreshes",
        "folders",
        "email_contacts",
        "emails",
        "contact_addresses",
        "contacts",
        "reps",
    ):
        op.drop_table(table)
    op.drop_column("raw_notifications", "outcome")
