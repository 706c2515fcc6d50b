"""The operators' tables: stored notifications (N3) and dead-letter audits (O1).

Both belong to an organization when one is known, by a plain column rather than a key to
``organizations``: a notification can arrive before any organization owns its grant, and an
audit of a replay across the whole deployment belongs to none.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.organizations import MAX_ORG_ID_LENGTH
from storage.types import JsonDocument, UTCDateTime

ORG_ID_LENGTH = MAX_ORG_ID_LENGTH


class NotificationState(StrEnum):
    """Where a stored notification is in its processing."""

    PENDING = "pending"  # stored before its handler finished (rows of earlier versions)
    RECEIVED = "received"  # acknowledged; no handler acts on its kind of work yet
    PROCESSED = "processed"  # its handler did its work
    FAILED = "failed"  # its last attempt failed (see last_error); it may still be retried


class RawNotification(SQLModel, table=True):
    """A notification as Nylas sent it (N3), kept so operators can reprocess it.

    Unique on the organization it came through and ``notification_id`` (the envelope id,
    or the v2 delta hash): the same notification arriving again by any path makes no second
    row, and one organization's notifications never touch another's.
    """

    __tablename__ = "raw_notifications"
    __table_args__ = (
        # Nylas's ids are each application's: one per organization it came through ("" for
        # the deployment's application), so one organization never overwrites another's.
        UniqueConstraint("via_org", "notification_id", name="uq_raw_notifications_notification"),
        Index("ix_raw_notifications_grant_received", "grant_id", "received_at"),
        Index("ix_raw_notifications_received", "received_at"),
        # A message's notifications (v3: object_id is the message id), for explaining it.
        Index("ix_raw_notifications_grant_object", "grant_id", "object_id", "received_at"),
        Index("ix_raw_notifications_org_received", "org_id", "received_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    notification_id: str = Field(max_length=255)
    api_version: str = Field(max_length=4)
    type: str = Field(max_length=255)
    trigger: str = Field(max_length=255)
    grant_id: str | None = Field(default=None, max_length=255)
    # The organization of the grant's rep when it was handled (or of the URL or Nylas
    # application it came through); None while no organization is known to own the grant.
    org_id: str | None = Field(default=None, max_length=ORG_ID_LENGTH)
    # The organization whose URL or own application it came through ("": the deployment's
    # secrets signed it): a reprocess hands it on, so it still acts only on that one's grants.
    via_org: str = Field(default="", max_length=ORG_ID_LENGTH)
    object_id: str | None = Field(default=None, max_length=1024)
    occurred_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    payload: dict[str, Any] = Field(sa_column=Column(JsonDocument, nullable=False))
    state: str = Field(default=NotificationState.PENDING.value, max_length=16)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, sa_column=Column(Text()))
    handled_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # What the handler did with it, in a word ("stored", "no_contact", "gone", ...): the
    # answer to "why is this email not in the CRM?".
    outcome: str | None = Field(default=None, max_length=64)


class DeadLetterAuditRow(SQLModel, table=True):
    """One operator action on dead letters (O1): who replayed or purged which, and how it went.

    Written as ``running`` before the first letter moves and completed at the end, so a replay
    whose process died still left its record.
    """

    __tablename__ = "dead_letter_audits"
    __table_args__ = (
        Index("ix_dead_letter_audits_started", "started_at"),
        Index("ix_dead_letter_audits_org", "org_id", "started_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # The organization the selection was limited to; None for one across the deployment.
    org_id: str | None = Field(default=None, max_length=ORG_ID_LENGTH)
    operator: str = Field(max_length=255)
    action: str = Field(max_length=16)
    selection: dict[str, Any] = Field(sa_column=Column(JsonDocument, nullable=False))
    matched: int
    count: int = Field(default=0)
    outcome: str = Field(max_length=32)
    detail: str | None = Field(default=None, sa_column=Column(Text()))
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
