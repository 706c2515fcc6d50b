"""SQLModel tables: columns and unique keys only. Repositories map rows to domain values."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import JsonDocument, UTCDateTime


class NotificationState(StrEnum):
    """Where a stored notification is in its processing."""

    PENDING = "pending"  # stored, its handler has not finished
    RECEIVED = "received"  # acknowledged; no handler acts on its kind of work yet
    PROCESSED = "processed"  # its handler did its work
    FAILED = "failed"  # its last attempt failed (see last_error); it may still be retried


class RawNotification(SQLModel, table=True):
    """A notification as Nylas sent it (N3), kept so operators can reprocess it.

    Unique on ``notification_id`` (the envelope id, or the v2 delta hash): the same
    notification arriving again by any path makes no second row.
    """

    __tablename__ = "raw_notifications"
    __table_args__ = (
        UniqueConstraint("notification_id", name="uq_raw_notifications_notification_id"),
        Index("ix_raw_notifications_grant_received", "grant_id", "received_at"),
        Index("ix_raw_notifications_received", "received_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    notification_id: str = Field(max_length=255)
    api_version: str = Field(max_length=4)
    type: str = Field(max_length=255)
    trigger: str = Field(max_length=255)
    grant_id: str | None = Field(default=None, max_length=255)
    object_id: str | None = Field(default=None, max_length=1024)
    occurred_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    payload: dict[str, Any] = Field(sa_column=Column(JsonDocument, nullable=False))
    state: str = Field(default=NotificationState.PENDING.value, max_length=16)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, sa_column=Column(Text()))
    handled_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
