"""The tables of the change feed (S1) and of the subscriptions it is delivered to as
signed webhooks (S3): columns and unique keys only, like ``storage.tables``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.table_keys import BigKey, org_column
from storage.types import JsonDocument, UTCDateTime


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
