"""Organization scope: every rep, and every fact of a rep, belongs to one organization.

A rep is keyed by (org_id, id), so two organizations may use the same CRM id; the tables of
a rep's facts refer to it by both, and their keys and indexes begin with the organization.
Changes and subscriptions carry their organization; organizations get bearer tokens. What
was stored before is the ``default`` organization's (created by 0011).

On SQLite every changed table is rebuilt (batch mode), with foreign keys off for the whole
upgrade (``storage.migrate``): ``reps`` is rebuilt while the old tables still refer to it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations

from storage.types import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

DEFAULT_ORG = "default"
ORG_ID = sa.String(length=64)

# The tables of a rep's facts, and their keys that begin with the rep: (name, is it a unique
# constraint, its columns before this revision). Each now begins with org_id.
REP_TABLES: dict[str, list[tuple[str, bool, list[str]]]] = {
    "connect_attempts": [],
    "backfills": [("ix_backfills_rep", False, ["rep_id", "id"])],
    "contacts": [
        ("uq_contacts_rep_contact", True, ["rep_id", "crm_contact_id"]),
        ("ix_contacts_crm_contact", False, ["crm_contact_id"]),
        ("ix_contacts_account_ref", False, ["account_ref"]),
    ],
    "emails": [
        ("uq_emails_rep_message", True, ["rep_id", "message_id"]),
        ("uq_emails_rep_send_key", True, ["rep_id", "send_key"]),
        ("ix_emails_rep_date", False, ["rep_id", "date", "id"]),
    ],
    "action_items": [
        ("uq_action_items_rep_item", True, ["rep_id", "crm_item_id"]),
        ("ix_action_items_event", False, ["rep_id", "event_id"]),
    ],
}
# Every table that gets an org_id column.
SCOPED_TABLES = ["reps", *REP_TABLES, "contact_addresses", "changes", "subscriptions"]
# Earlier migrations left their foreign keys unnamed: PostgreSQL named them so; on SQLite a
# rebuilt table's reflected keys are given the same names, so that they can be dropped.
NAMING_CONVENTION = {
    "fk": "%(table_name)s_%(column_0_name)s_fkey",
    "pk": "%(table_name)s_pkey",
}


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


@contextmanager
def _altering(
    table: str, table_kwargs: Mapping[str, Any] | None = None
) -> Iterator[BatchOperations]:
    """Changes to ``table``: on SQLite in one rebuild, elsewhere as ALTER statements."""
    with op.batch_alter_table(
        table,
        recreate="always" if _sqlite() else "never",
        naming_convention=NAMING_CONVENTION,
        table_kwargs=table_kwargs or {},
    ) as batch:
        yield batch


def _rebuild_keys(
    batch: BatchOperations, keys: list[tuple[str, bool, list[str]]], *, org: bool
) -> None:
    """Drop each key and create it again, beginning with org_id (``org``) or without it."""
    for name, unique, _columns in keys:
        if unique:
            batch.drop_constraint(name, type_="unique")
        else:
            batch.drop_index(name)
    for name, unique, columns in keys:
        new_columns = ["org_id", *columns] if org else columns
        if unique:
            batch.create_unique_constraint(name, new_columns)
        else:
            batch.create_index(name, new_columns)


def _without_default(batch: BatchOperations) -> None:
    """org_id's server default filled the existing rows; new rows must name their org."""
    batch.alter_column("org_id", existing_type=ORG_ID, existing_nullable=False, server_default=None)


@contextmanager
def _keeping_changes_sequence() -> Iterator[None]:
    """On SQLite, keep the AUTOINCREMENT high-water mark of ``changes`` across its rebuild:
    the copy's counter starts at its largest remaining ``seq``, and a pruned number would
    be handed out again (see migration 0003)."""
    if not _sqlite():
        yield
        return
    bind = op.get_bind()
    mark = bind.exec_driver_sql(
        "SELECT seq FROM sqlite_sequence WHERE name = 'changes'"
    ).scalar_one_or_none()
    yield
    if mark is None:
        return
    bind.execute(
        sa.text(
            "INSERT INTO sqlite_sequence (name, seq) SELECT 'changes', :mark"
            " WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'changes')"
        ),
        {"mark": mark},
    )
    bind.execute(
        sa.text("UPDATE sqlite_sequence SET seq = :mark WHERE name = 'changes' AND seq < :mark"),
        {"mark": mark},
    )


def upgrade() -> None:
    sqlite = _sqlite()
    op.create_table(
        "org_tokens",
        sa.Column("id", sa.String(length=40), primary_key=True),
        sa.Column("org_id", ORG_ID, sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("digest", name="uq_org_tokens_digest"),
    )
    op.create_index("ix_org_tokens_org", "org_tokens", ["org_id", "created_at"])

    if not sqlite:
        # The old keys refer to the primary key of reps, which changes below.
        for table in REP_TABLES:
            op.drop_constraint(f"{table}_rep_id_fkey", table, type_="foreignkey")
    for table in SCOPED_TABLES:
        # Fills every existing row (on PostgreSQL without rewriting the table).
        op.add_column(
            table,
            sa.Column("org_id", ORG_ID, nullable=False, server_default=sa.text(f"'{DEFAULT_ORG}'")),
        )

    with _altering("reps") as batch:
        _without_default(batch)
        batch.create_foreign_key("reps_org_id_fkey", "organizations", ["org_id"], ["id"])
        batch.drop_constraint("reps_pkey", type_="primary")
        batch.create_primary_key("reps_pkey", ["org_id", "id"])

    for table, keys in REP_TABLES.items():
        with _altering(table) as batch:
            _without_default(batch)
            if sqlite:
                batch.drop_constraint(f"{table}_rep_id_fkey", type_="foreignkey")
            _rebuild_keys(batch, keys, org=True)
            batch.create_foreign_key(
                f"fk_{table}_rep", "reps", ["org_id", "rep_id"], ["org_id", "id"]
            )

    with _altering("contact_addresses") as batch:
        _without_default(batch)
        _rebuild_keys(
            batch, [("ix_contact_addresses_rep_address", False, ["rep_id", "address"])], org=True
        )

    # PostgreSQL alters ``changes`` in place: its txid default (0003) stays as it is.
    with (
        _keeping_changes_sequence(),
        _altering("changes", table_kwargs={"sqlite_autoincrement": True}) as batch,
    ):
        _without_default(batch)
        batch.create_foreign_key("changes_org_id_fkey", "organizations", ["org_id"], ["id"])
        _rebuild_keys(batch, [("ix_changes_rep_seq", False, ["rep_id", "seq"])], org=True)
        batch.create_index("ix_changes_org_seq", ["org_id", "seq"])

    with _altering("subscriptions") as batch:
        _without_default(batch)
        batch.create_foreign_key("subscriptions_org_id_fkey", "organizations", ["org_id"], ["id"])
        batch.create_index("ix_subscriptions_org", ["org_id", "created_at"])


def downgrade() -> None:
    """Back to one organization's reps: fails if two organizations share a rep id."""
    sqlite = _sqlite()
    with _altering("subscriptions") as batch:
        batch.drop_index("ix_subscriptions_org")
        batch.drop_constraint("subscriptions_org_id_fkey", type_="foreignkey")
        batch.drop_column("org_id")

    with (
        _keeping_changes_sequence(),
        _altering("changes", table_kwargs={"sqlite_autoincrement": True}) as batch,
    ):
        batch.drop_index("ix_changes_org_seq")
        batch.drop_index("ix_changes_rep_seq")
        batch.drop_constraint("changes_org_id_fkey", type_="foreignkey")
        batch.drop_column("org_id")
        batch.create_index("ix_changes_rep_seq", ["rep_id", "seq"])

    with _altering("contact_addresses") as batch:
        batch.drop_index("ix_contact_addresses_rep_address")
        batch.drop_column("org_id")
        batch.create_index("ix_contact_addresses_rep_address", ["rep_id", "address"])

    if not sqlite:
        for table in REP_TABLES:
            op.drop_constraint(f"fk_{table}_rep", table, type_="foreignkey")
    with _altering("reps") as batch:
        batch.drop_constraint("reps_pkey", type_="primary")
        batch.create_primary_key("reps_pkey", ["id"])
        batch.drop_constraint("reps_org_id_fkey", type_="foreignkey")
        batch.drop_column("org_id")

    for table, keys in REP_TABLES.items():
        with _altering(table) as batch:
            if sqlite:
                batch.drop_constraint(f"fk_{table}_rep", type_="foreignkey")
            for name, unique, _columns in keys:
                if unique:
                    batch.drop_constraint(name, type_="unique")
                else:
                    batch.drop_index(name)
            batch.drop_column("org_id")
            for name, unique, columns in keys:
                if unique:
                    batch.create_unique_constraint(name, columns)
                else:
                    batch.create_index(name, columns)
            batch.create_foreign_key(f"{table}_rep_id_fkey", "reps", ["rep_id"], ["id"])

    op.drop_index("ix_org_tokens_org", "org_tokens")
    op.drop_table("org_tokens")
