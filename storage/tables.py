"""SQLModel tables: columns and unique keys only. Repositories map rows to domain values."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from domain.organizations import MAX_ORG_ID_LENGTH
from storage.types import JsonDocument, UTCDateTime

# A 64-bit key on PostgreSQL; on SQLite only INTEGER PRIMARY KEY autoincrements (and is 64-bit).
BigKey = BigInteger().with_variant(Integer(), "sqlite")
ORG_ID_LENGTH = MAX_ORG_ID_LENGTH


def of_rep(table: str) -> ForeignKeyConstraint:
    """The key from a table of a rep's facts to its rep: an organization's rep id is its own,
    so a rep is named by both (another organization may use the same id)."""
    return ForeignKeyConstraint(
        ["org_id", "rep_id"], ["reps.org_id", "reps.id"], name=f"fk_{table}_rep"
    )


def org_column() -> Any:
    """The organization a row belongs to."""
    return Field(
        sa_column=Column(String(ORG_ID_LENGTH), ForeignKey("organizations.id"), nullable=False)
    )


class RepRow(SQLModel, table=True):
    """A sales rep, keyed by its organization and the CRM's id, with its mailbox grant and
    settings (E1). A grant is one rep's in the whole deployment: the workers find the rep
    of a notification by its grant alone."""

    __tablename__ = "reps"
    __table_args__ = (UniqueConstraint("grant_id", name="uq_reps_grant_id"),)

    org_id: str = Field(
        sa_column=Column(String(ORG_ID_LENGTH), ForeignKey("organizations.id"), primary_key=True)
    )
    id: str = Field(primary_key=True, max_length=255)
    email: str = Field(max_length=320)
    grant_id: str | None = Field(default=None, max_length=255)
    provider: str | None = Field(default=None, max_length=32)
    email_sync_enabled: bool = Field(default=True)
    folders: list[str] = Field(sa_column=Column(JsonDocument, nullable=False))
    calendar_sync_enabled: bool = Field(default=True)
    calendar_name: str | None = Field(default=None, max_length=255)
    calendar_days_after: int = Field(default=30)
    sync_from: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    account_status: str = Field(max_length=32)
    # Account health (A1): when the mailbox was connected, when its status last moved,
    # when it was last heard from (a notification handled or an API call that worked), and
    # how many of its units of work failed in a row.
    connected_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    status_changed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_activity_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    consecutive_failures: int = Field(default=0)
    # When the last grant.* notification applied (or the last connection) happened: an older
    # one, delivered late, is stale and changes nothing.
    grant_event_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    version: int = Field(default=1)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ConnectAttemptRow(SQLModel, table=True):
    """A hosted OAuth connection started for a rep: its state's nonce, spent on first use,
    and how the callback ended (``connected``, ``mailbox_mismatch``, ...)."""

    __tablename__ = "connect_attempts"
    __table_args__ = (
        Index("ix_connect_attempts_created", "created_at"),
        of_rep("connect_attempts"),
    )

    nonce: str = Field(primary_key=True, max_length=64)
    org_id: str = Field(max_length=ORG_ID_LENGTH)
    rep_id: str = Field(max_length=255)
    return_url: str | None = Field(default=None, sa_column=Column(Text()))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    outcome: str | None = Field(default=None, sa_column=Column(String(32)))


class BackfillRow(SQLModel, table=True):
    """A backfill of a rep's past mail (A2) or of a new contact's (E11), with its position.

    The position (window, page token) is saved after every page, so a crash resumes from the
    last page done; ``queued_at`` lets the dispatcher queue again one whose message was lost.
    """

    __tablename__ = "backfills"
    __table_args__ = (
        Index("ix_backfills_state", "state", "queued_at"),
        Index("ix_backfills_rep", "org_id", "rep_id", "id"),
        of_rep("backfills"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_id: str = Field(max_length=ORG_ID_LENGTH)
    rep_id: str = Field(max_length=255)
    grant_id: str = Field(max_length=255)
    kind: str = Field(max_length=16)
    addresses: list[str] = Field(sa_column=Column(JsonDocument, nullable=False))
    since: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    until: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    state: str = Field(max_length=16)
    window_index: int = Field(default=0)
    windows_total: int = Field(default=1)
    page_token: str | None = Field(default=None, sa_column=Column(Text()))
    pages_done: int = Field(default=0)
    scanned: int = Field(default=0)
    stored: int = Field(default=0)
    failed: int = Field(default=0)
    error: str | None = Field(default=None, sa_column=Column(Text()))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    queued_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    started_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class ContactRow(SQLModel, table=True):
    """One of a rep's own contacts ("My Contacts").

    A contact removed by the CRM is kept, inactive, so the emails already linked to it keep
    their link (E8: past emails stay with the rep that synced them).
    """

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("org_id", "rep_id", "crm_contact_id", name="uq_contacts_rep_contact"),
        Index("ix_contacts_crm_contact", "org_id", "crm_contact_id"),
        Index("ix_contacts_account_ref", "org_id", "account_ref"),
        of_rep("contacts"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_id: str = Field(max_length=ORG_ID_LENGTH)
    rep_id: str = Field(max_length=255)
    crm_contact_id: str = Field(max_length=255)
    name: str | None = Field(default=None, max_length=255)
    account_ref: str | None = Field(default=None, max_length=255)
    lead_ref: str | None = Field(default=None, max_length=255)
    addresses: list[str] = Field(sa_column=Column(JsonDocument, nullable=False))
    active: bool = Field(default=True)
    version: int = Field(default=1)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ContactAddressRow(SQLModel, table=True):
    """The address index of active contacts: one row per (contact, normalised address).

    Looked up by (rep, address), so matching a message costs the same with 100 contacts
    or 100,000.
    """

    __tablename__ = "contact_addresses"
    __table_args__ = (Index("ix_contact_addresses_rep_address", "org_id", "rep_id", "address"),)

    contact_id: int = Field(
        sa_column=Column(Integer, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    )
    address: str = Field(sa_column=Column(String(320), primary_key=True))
    org_id: str = Field(max_length=ORG_ID_LENGTH)
    rep_id: str = Field(max_length=255)


class EmailRow(SQLModel, table=True):
    """An email stored for a rep: one row per (rep, Nylas message) (E4)."""

    __tablename__ = "emails"
    __table_args__ = (
        UniqueConstraint("org_id", "rep_id", "message_id", name="uq_emails_rep_message"),
        UniqueConstraint("org_id", "rep_id", "send_key", name="uq_emails_rep_send_key"),
        Index("ix_emails_rep_date", "org_id", "rep_id", "date", "id"),
        Index("ix_emails_delivery", "delivery_state", "queued_at"),
        of_rep("emails"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigKey, primary_key=True))
    org_id: str = Field(max_length=ORG_ID_LENGTH)
    rep_id: str = Field(max_length=255)
    grant_id: str | None = Field(default=None, max_length=255)
    # None only for an email the CRM sent that Nylas has not accepted yet (E9).
    message_id: str | None = Field(default=None, max_length=1024)
    thread_id: str | None = Field(default=None, max_length=1024)
    subject: str = Field(sa_column=Column(Text(), nullable=False))
    snippet: str = Field(sa_column=Column(Text(), nullable=False))
    body: str | None = Field(default=None, sa_column=Column(Text()))
    sender: list[dict[str, Any]] = Field(sa_column=Column(JsonDocument, nullable=False))
    to: list[dict[str, Any]] = Field(sa_column=Column(JsonDocument, nullable=False))
    cc: list[dict[str, Any]] = Field(sa_column=Column(JsonDocument, nullable=False))
    bcc: list[dict[str, Any]] = Field(sa_column=Column(JsonDocument, nullable=False))
    date: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    folder_ids: list[str] = Field(sa_column=Column(JsonDocument, nullable=False))
    folder_names: list[str] = Field(sa_column=Column(JsonDocument, nullable=False))
    unread: bool | None = Field(default=None, sa_column=Column(Boolean()))
    starred: bool | None = Field(default=None, sa_column=Column(Boolean()))
    attachments: list[dict[str, Any]] = Field(sa_column=Column(JsonDocument, nullable=False))
    source: str = Field(max_length=16)
    hidden: bool = Field(default=False)
    hidden_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    mailbox_deleted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    observed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # Emails the CRM sends through crmsync (E9): the CRM's idempotency key, the lead or
    # contact reference it gave, and where delivery stands (queued, sent, failed, bounced).
    send_key: str | None = Field(default=None, max_length=64)
    reply_to_message_id: str | None = Field(default=None, max_length=1024)
    crm_reference: dict[str, Any] | None = Field(default=None, sa_column=Column(JsonDocument))
    delivery_state: str | None = Field(default=None, max_length=16)
    delivery_error: str | None = Field(default=None, sa_column=Column(Text()))
    queued_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    version: int = Field(default=1)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class EmailContactRow(SQLModel, table=True):
    """Which of the rep's contacts an email touches, and through which headers."""

    __tablename__ = "email_contacts"
    __table_args__ = (Index("ix_email_contacts_contact", "contact_id"),)

    email_id: int = Field(
        sa_column=Column(BigKey, ForeignKey("emails.id", ondelete="CASCADE"), primary_key=True)
    )
    contact_id: int = Field(sa_column=Column(Integer, ForeignKey("contacts.id"), primary_key=True))
    roles: list[str] = Field(sa_column=Column(JsonDocument, nullable=False))


class FolderRow(SQLModel, table=True):
    """The folder cache of one grant: folder ids resolved to names and roles (E2)."""

    __tablename__ = "folders"

    grant_id: str = Field(primary_key=True, max_length=255)
    folder_id: str = Field(primary_key=True, max_length=1024)
    name: str = Field(max_length=1024)
    leaf_name: str = Field(max_length=1024)
    parent_id: str | None = Field(default=None, max_length=1024)
    role: str | None = Field(default=None, max_length=16)


class ParkedMessageRow(SQLModel, table=True):
    """A message waiting for its folders to become known (N2): kept, as Nylas described it,
    until a folder change, a refresh or its deadline decides it. One per (grant, message)."""

    __tablename__ = "parked_messages"
    __table_args__ = (
        UniqueConstraint("grant_id", "message_id", name="uq_parked_messages_grant_message"),
        Index("ix_parked_messages_look", "next_look_at"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigKey, primary_key=True))
    grant_id: str = Field(max_length=255)
    message_id: str = Field(max_length=1024)
    # The message as a Nylas Message object (domain.messages.message_to_wire).
    message: dict[str, Any] = Field(sa_column=Column(JsonDocument, nullable=False))
    observed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    parked_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # Decided at the latest then, after one more refresh (domain.parking).
    deadline: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # When the dispatcher queues it next: its deadline, then again if that message was lost.
    next_look_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class FolderRefreshRow(SQLModel, table=True):
    """When a grant's folder cache was last filled from the Nylas API."""

    __tablename__ = "folder_refreshes"

    grant_id: str = Field(primary_key=True, max_length=255)
    refreshed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ChangeRow(SQLModel, table=True):
    """The outbox (S1): one record per stored fact, written in the fact's own transaction.

    ``seq`` orders the feed; ``change_id`` is the stable id subscribers deduplicate on.
    ``entity_version`` lets a consumer that sees changes out of order keep the newest.
    """

    __tablename__ = "changes"
    __table_args__ = (
        UniqueConstraint("change_id", name="uq_changes_change_id"),
        Index("ix_changes_org_seq", "org_id", "seq"),
        Index("ix_changes_rep_seq", "org_id", "rep_id", "seq"),
        Index("ix_changes_created", "created_at"),
        Index("ix_changes_txid_seq", "txid", "seq"),
        # Never reuse a pruned number on SQLite (see migration 0003).
        {"sqlite_autoincrement": True},
    )

    seq: int | None = Field(default=None, sa_column=Column(BigKey, primary_key=True))
    # PostgreSQL: the writing transaction's id (column default pg_current_xact_id()), so the
    # feed can serve only what no running transaction can still precede. SQLite: NULL; its
    # writers are serialised, so ``seq`` alone is commit order.
    txid: int | None = Field(default=None, sa_column=Column(BigInteger()))
    change_id: str = Field(max_length=64)
    org_id: str = org_column()
    type: str = Field(max_length=64)
    entity: str = Field(max_length=32)
    entity_id: str = Field(max_length=255)
    rep_id: str | None = Field(default=None, max_length=255)
    operation: str = Field(max_length=16)
    entity_version: int
    payload: dict[str, Any] = Field(sa_column=Column(JsonDocument, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class FeedRetentionRow(SQLModel, table=True):
    """How far the change feed has been pruned: a cursor before this position is expired."""

    __tablename__ = "feed_retention"

    id: int = Field(default=1, primary_key=True)
    pruned_txid: int = Field(sa_column=Column(BigInteger(), nullable=False))
    pruned_seq: int = Field(sa_column=Column(BigInteger(), nullable=False))
    pruned_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class SubscriptionRow(SQLModel, table=True):
    """A CRM endpoint that receives the changes it subscribed to as signed webhooks (S3).

    ``position`` is how far in the change feed its deliveries have been created.
    """

    __tablename__ = "subscriptions"
    __table_args__ = (Index("ix_subscriptions_org", "org_id", "created_at"),)

    id: str = Field(primary_key=True, max_length=40)
    org_id: str = org_column()
    url: str = Field(max_length=2048)
    event_types: list[str] = Field(sa_column=Column(JsonDocument, nullable=False))
    description: str | None = Field(default=None, max_length=500)
    secret: str = Field(max_length=100)
    previous_secret: str | None = Field(default=None, max_length=100)
    previous_secret_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    status: str = Field(max_length=16)
    disabled_reason: str | None = Field(default=None, sa_column=Column(Text()))
    disabled_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    failing_since: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    position_txid: int = Field(sa_column=Column(BigInteger(), nullable=False))
    position_seq: int = Field(sa_column=Column(BigInteger(), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class DeliveryRow(SQLModel, table=True):
    """One change to deliver to one subscription: unique per (subscription, change)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "change_id", name="uq_deliveries_subscription_change"),
        Index("ix_deliveries_state_next", "state", "next_attempt_at"),
        Index("ix_deliveries_subscription", "subscription_id", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigKey, primary_key=True))
    subscription_id: str = Field(
        sa_column=Column(
            String(40), ForeignKey("subscriptions.id", ondelete="CASCADE"), nullable=False
        )
    )
    change_id: str = Field(max_length=64)
    change_type: str = Field(max_length=64)
    payload: dict[str, Any] = Field(sa_column=Column(JsonDocument, nullable=False))
    state: str = Field(max_length=16)
    attempts: int = Field(default=0)
    last_status_code: int | None = Field(default=None)
    last_error: str | None = Field(default=None, sa_column=Column(Text()))
    next_attempt_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class DeliveryAttemptRow(SQLModel, table=True):
    """One HTTP attempt of a delivery: the delivery log a subscriber reads."""

    __tablename__ = "delivery_attempts"
    __table_args__ = (Index("ix_delivery_attempts_delivery", "delivery_id"),)

    id: int | None = Field(default=None, sa_column=Column(BigKey, primary_key=True))
    delivery_id: int = Field(
        sa_column=Column(BigKey, ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=False)
    )
    attempt: int
    attempted_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    status_code: int | None = Field(default=None)
    latency_ms: int
    error: str | None = Field(default=None, sa_column=Column(Text()))


class ActionItemRow(SQLModel, table=True):
    """A CRM action item synced with its rep's calendar (C1-C5).

    ``content`` is the winning version's (last writer wins, ``version_*``); the event link,
    what crmsync last wrote (``written_*``, to recognise its echo), and the push state say
    where the two sides stand.
    """

    __tablename__ = "action_items"
    __table_args__ = (
        UniqueConstraint("org_id", "rep_id", "crm_item_id", name="uq_action_items_rep_item"),
        Index("ix_action_items_event", "org_id", "rep_id", "event_id"),
        Index("ix_action_items_push", "push_state", "push_queued_at"),
        of_rep("action_items"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_id: str = Field(max_length=ORG_ID_LENGTH)
    rep_id: str = Field(max_length=255)
    crm_item_id: str = Field(max_length=255)
    content: dict[str, Any] = Field(sa_column=Column(JsonDocument, nullable=False))
    version_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    version_side: int
    version_digest: str = Field(max_length=64)
    deleted_in_calendar_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    deleted_in_crm_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    sync_enabled: bool = Field(default=True)
    notify_participants: bool = Field(default=False)
    event_id: str | None = Field(default=None, max_length=1024)
    calendar_id: str | None = Field(default=None, max_length=1024)
    written_digest: str | None = Field(default=None, max_length=64)
    written_updated_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    push_state: str = Field(max_length=16)
    push_queued_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_pushed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_push_error: str | None = Field(default=None, sa_column=Column(Text()))
    version: int = Field(default=1)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


# Registered with the rest, so that whoever imports this module sees every table.
from storage.operations_tables import DeadLetterAuditRow as DeadLetterAuditRow  # noqa: E402
from storage.operations_tables import NotificationState as NotificationState  # noqa: E402
from storage.operations_tables import RawNotification as RawNotification  # noqa: E402
from storage.org_tables import OrganizationRow as OrganizationRow  # noqa: E402
from storage.org_tables import OrgTokenRow as OrgTokenRow  # noqa: E402
