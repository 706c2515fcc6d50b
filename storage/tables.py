"""SQLModel tables: columns and unique keys only. Repositories map rows to domain values.

The tables of reps and what they hold are here; those of contacts and emails
(``storage.email_tables``), of the change feed and its subscriptions
(``storage.feed_tables``), of organizations (``storage.org_tables``) and of the operators
(``storage.operations_tables``) have modules of their own, imported at the end of this one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.table_keys import ORG_ID_LENGTH, BigKey, of_rep
from storage.types import JsonDocument, UTCDateTime


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
from storage.email_tables import ContactAddressRow as ContactAddressRow  # noqa: E402
from storage.email_tables import ContactRow as ContactRow  # noqa: E402
from storage.email_tables import EmailContactRow as EmailContactRow  # noqa: E402
from storage.email_tables import EmailRow as EmailRow  # noqa: E402
from storage.feed_tables import ChangeRow as ChangeRow  # noqa: E402
from storage.feed_tables import DeliveryAttemptRow as DeliveryAttemptRow  # noqa: E402
from storage.feed_tables import DeliveryRow as DeliveryRow  # noqa: E402
from storage.feed_tables import FeedRetentionRow as FeedRetentionRow  # noqa: E402
from storage.feed_tables import SubscriptionRow as SubscriptionRow  # noqa: E402
from storage.operations_tables import DeadLetterAuditRow as DeadLetterAuditRow  # noqa: E402
from storage.operations_tables import NotificationState as NotificationState  # noqa: E402
from storage.operations_tables import RawNotification as RawNotification  # noqa: E402
from storage.org_tables import OrganizationRow as OrganizationRow  # noqa: E402
from storage.org_tables import OrgTokenRow as OrgTokenRow  # noqa: E402
