"""Organizations: the CRM customers a deployment serves, beginning with ``default``.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from storage.types import JsonDocument, UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    organizations = op.create_table(
        "organizations",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("provider_apps", JsonDocument, nullable=False),
        sa.Column("nylas_client_id", sa.String(length=255), nullable=True),
        sa.Column("nylas_region", sa.String(length=8), nullable=True),
        sa.Column("defaults", JsonDocument, nullable=False),
        sa.Column("sealed_secrets", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("nylas_client_id", name="uq_organizations_nylas_client_id"),
    )
    # What a deployment held before organizations is the default organization's: it uses
    # the deployment's Nylas application and settings, as before.
    now = datetime.now(UTC)
    op.bulk_insert(
        organizations,
        [
            {
                "id": "default",
                "name": "Default organization",
                "provider_apps": {},
                "defaults": {},
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
        ],
    )


def downgrade() -> None:
    op.drop_table("organizations")
