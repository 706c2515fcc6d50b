"""Subscriptions and their deliveries (S3): who receives which changes, and what happened.

A subscription starts at the head of the change feed and moves its ``position`` forward as
deliveries are created for the changes it wants, one row per (subscription, change), so a
dispatcher that runs twice over the same changes creates nothing twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, delete, func, update
from sqlmodel import Session, col, select

from domain import answers
from domain.answers import SubscriptionStatus
from domain.outbound_webhooks import SubscriptionDocument
from domain.times import format_time
from storage.errors import NotFound
from storage.feed import FeedPosition
from storage.tables import DeliveryAttemptRow, DeliveryRow, SubscriptionRow
from storage.upsert import insert_ignore_returning

ACTIVE = "active"
DISABLED = "disabled"

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"  # the endpoint refused it (a 4xx other than 408 and 429)
EXHAUSTED = "exhausted"  # every scheduled attempt failed: it is in the dead letters
CANCELLED = "cancelled"  # its subscription was disabled or deleted first

_DELIVERIES: Table = DeliveryRow.__table__  # type: ignore[attr-defined]
# Any constant of our own: the PostgreSQL advisory lock that serialises creating subscriptions.
_CREATE_LOCK = 0x63726D_5355_42  # "crm" "SUB"


def count_subscriptions_to_create(session: Session, org_id: str) -> int:
    """How many subscriptions the organization has, counted so that a creation decided on
    it in the same transaction cannot race another.

    Two transactions that both count 49 against a cap of 50 would otherwise both insert. On
    PostgreSQL a transaction-scoped advisory lock serialises them (the second counts after
    the first commits); SQLite transactions already start with ``BEGIN IMMEDIATE``.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_CREATE_LOCK)))
    counted = select(func.count()).select_from(SubscriptionRow)
    return int(session.exec(counted.where(SubscriptionRow.org_id == org_id)).one())


def create_subscription(
    session: Session,
    org_id: str,
    document: SubscriptionDocument,
    secret: str,
    start: FeedPosition,
    now: datetime,
) -> SubscriptionRow:
    """A new active subscription receiving the changes after ``start``."""
    assert document.url is not None
    row = SubscriptionRow(
        id=f"sub_{uuid.uuid4().hex[:24]}",
        org_id=org_id,
        url=document.url,
        event_types=list(document.event_types or ()),
        description=document.description,
        secret=secret,
        status=DISABLED if document.enabled is False else ACTIVE,
        disabled_reason="created disabled" if document.enabled is False else None,
        disabled_at=now if document.enabled is False else None,
        position_txid=start.txid,
        position_seq=start.seq,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row


def require_subscription(
    session: Session, org_id: str, subscription_id: str, *, for_update: bool = False
) -> SubscriptionRow:
    """The organization's subscription ``subscription_id``.

    Raises:
        NotFound: no such subscription, or another organization's.
    """
    row = session.get(SubscriptionRow, subscription_id, with_for_update=for_update)
    if row is None or row.org_id != org_id:
        raise NotFound("unknown_subscription", f"no subscription {subscription_id!r}")
    return row


def subscription_of(
    session: Session, delivery: DeliveryRow, *, for_update: bool = False
) -> SubscriptionRow:
    """The subscription a delivery is for (its key holds it there: it exists)."""
    row = session.get(SubscriptionRow, delivery.subscription_id, with_for_update=for_update)
    assert row is not None, "a delivery goes with its subscription"
    return row


def list_subscriptions(session: Session, org_id: str) -> list[SubscriptionRow]:
    query = select(SubscriptionRow).where(SubscriptionRow.org_id == org_id)
    return list(session.exec(query.order_by(col(SubscriptionRow.created_at))))


def update_subscription(
    session: Session, row: SubscriptionRow, document: SubscriptionDocument, now: datetime
) -> None:
    """Apply the CRM's changes; re-enabling clears the failure record."""
    if document.url is not None:
        row.url = document.url
    if document.event_types is not None:
        row.event_types = list(document.event_types)
    if document.description is not None:
        row.description = document.description
    if document.enabled is True and row.status != ACTIVE:
        row.status = ACTIVE
        row.disabled_reason = None
        row.disabled_at = None
        row.failing_since = None
    elif document.enabled is False and row.status != DISABLED:
        disable(session, row, "disabled through the API", now)
    row.updated_at = now
    session.add(row)


def disable(session: Session, row: SubscriptionRow, reason: str, now: datetime) -> None:
    """Stop delivering to the subscription, saying why; its pending deliveries are cancelled."""
    row.status = DISABLED
    row.disabled_reason = reason
    row.disabled_at = now
    row.updated_at = now
    session.add(row)
    for delivery in session.exec(
        select(DeliveryRow).where(
            DeliveryRow.subscription_id == row.id, DeliveryRow.state == PENDING
        )
    ):
        delivery.state = CANCELLED
        delivery.updated_at = now
        session.add(delivery)


def rotate_secret(
    session: Session, row: SubscriptionRow, new_secret: str, overlap: timedelta, now: datetime
) -> None:
    """Make ``new_secret`` current; the old one keeps signing beside it for ``overlap``."""
    row.previous_secret = row.secret
    row.previous_secret_until = now + overlap
    row.secret = new_secret
    row.updated_at = now
    session.add(row)


def dispatchable_subscriptions(session: Session) -> list[SubscriptionRow]:
    """Active subscriptions, locked for this dispatcher (others skip them, on PostgreSQL)."""
    query = select(SubscriptionRow).where(SubscriptionRow.status == ACTIVE)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.exec(query))


def create_deliveries(
    session: Session, row: SubscriptionRow, changes: Sequence[answers.Change], now: datetime
) -> list[int]:
    """A pending delivery per change (none twice); the ids of those created."""
    return insert_ignore_returning(
        session,
        _DELIVERIES,
        [
            {
                "subscription_id": row.id,
                "change_id": change["id"],
                "change_type": change["type"],
                "payload": change,
                "state": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for change in changes
        ],
        ["subscription_id", "change_id"],
        returning="id",
    )


def overdue_deliveries(session: Session, before: datetime, limit: int = 500) -> list[int]:
    """Pending deliveries whose next attempt is long overdue: their queue message was lost
    (a crash between creating them and queueing them), so they are queued again. The caller
    marks them (:func:`mark_deliveries_swept`) in its transaction; on PostgreSQL another
    dispatcher skips the rows this one holds."""
    query = (
        select(DeliveryRow)
        .where(DeliveryRow.state == PENDING, col(DeliveryRow.next_attempt_at) < before)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [row.id for row in session.exec(query) if row.id is not None]


def claim_attempt(
    session: Session, delivery_id: int, now: datetime, *, due_by: datetime, held_until: datetime
) -> bool:
    """Take the next attempt of a pending delivery that is due by ``due_by``; False when it is
    done, not due yet, or being attempted by another worker: the message is a duplicate.

    One conditional UPDATE, atomic on either database: it moves ``next_attempt_at`` to
    ``held_until``, so a duplicate arriving while the attempt is in flight does nothing, and
    an attempt whose worker died becomes overdue (swept again) once the hold has passed.
    """
    claimed = session.exec(
        update(DeliveryRow)
        .where(
            col(DeliveryRow.id) == delivery_id,
            col(DeliveryRow.state) == PENDING,
            col(DeliveryRow.next_attempt_at).is_(None)
            | (col(DeliveryRow.next_attempt_at) <= due_by),
        )
        .values(next_attempt_at=held_until, updated_at=now)
    )
    return bool(claimed.rowcount == 1)


def mark_deliveries_swept(session: Session, delivery_ids: Sequence[int], now: datetime) -> None:
    """Make swept deliveries due ``now``: the message just queued is their attempt, and they
    are not overdue again before another sweep interval has passed."""
    if delivery_ids:
        session.exec(
            update(DeliveryRow)
            .where(col(DeliveryRow.id).in_(delivery_ids))
            .values(next_attempt_at=now, updated_at=now)
        )


def record_attempt(
    session: Session,
    delivery: DeliveryRow,
    *,
    status_code: int | None,
    error: str | None,
    latency_ms: int,
    now: datetime,
) -> None:
    assert delivery.id is not None
    delivery.attempts += 1
    delivery.last_status_code = status_code
    delivery.last_error = error
    delivery.updated_at = now
    session.add(delivery)
    session.add(
        DeliveryAttemptRow(
            delivery_id=delivery.id,
            attempt=delivery.attempts,
            attempted_at=now,
            status_code=status_code,
            latency_ms=latency_ms,
            error=error,
        )
    )


def list_deliveries(
    session: Session, subscription_id: str, *, before_id: int | None, limit: int
) -> list[answers.Delivery]:
    """The subscription's deliveries, newest first, each with its attempts."""
    query = select(DeliveryRow).where(DeliveryRow.subscription_id == subscription_id)
    if before_id is not None:
        query = query.where(col(DeliveryRow.id) < before_id)
    deliveries = list(session.exec(query.order_by(col(DeliveryRow.id).desc()).limit(limit)))
    ids = [d.id for d in deliveries if d.id is not None]
    attempts: dict[int, list[answers.DeliveryAttempt]] = {}
    if ids:
        for attempt in session.exec(
            select(DeliveryAttemptRow)
            .where(col(DeliveryAttemptRow.delivery_id).in_(ids))
            .order_by(col(DeliveryAttemptRow.id))
        ):
            attempts.setdefault(attempt.delivery_id, []).append(
                {
                    "attempt": attempt.attempt,
                    "at": format_time(attempt.attempted_at),
                    "status_code": attempt.status_code,
                    "latency_ms": attempt.latency_ms,
                    "error": attempt.error,
                }
            )
    return [
        {
            "id": cast(int, d.id),  # read from the table: stored rows have their id
            "change_id": d.change_id,
            "type": d.change_type,
            "state": cast(answers.DeliveryOutcome, d.state),
            "attempts": attempts.get(d.id or 0, []),
            "next_attempt_at": format_time(d.next_attempt_at)
            if d.next_attempt_at and d.state == PENDING
            else None,
            "delivered_at": format_time(d.delivered_at) if d.delivered_at else None,
        }
        for d in deliveries
    ]


def subscription_json(row: SubscriptionRow, *, with_secret: bool = False) -> answers.Subscription:
    """A subscription as the API shows it; the secret only when it was just made."""
    document: answers.Subscription = {
        "id": row.id,
        "url": row.url,
        "event_types": row.event_types,
        "description": row.description,
        "status": cast(SubscriptionStatus, row.status),
        "disabled_reason": row.disabled_reason,
        "disabled_at": format_time(row.disabled_at) if row.disabled_at else None,
        "failing_since": format_time(row.failing_since) if row.failing_since else None,
        "previous_secret_until": format_time(row.previous_secret_until)
        if row.previous_secret_until
        else None,
        "created_at": format_time(row.created_at),
        "updated_at": format_time(row.updated_at),
    }
    if with_secret:
        document["secret"] = row.secret
    return document


def prune_deliveries(session: Session, before: datetime, limit: int) -> int:
    """Delete at most ``limit`` settled deliveries created before ``before`` (oldest first),
    with their attempts; how many deliveries.

    A delivery keeps a copy of its change, so it is kept as long as the feed keeps the change
    (the caller passes the change retention), never without limit; a pending one is kept
    whatever its age. Bounded, so one call holds its locks briefly: callers repeat it, each
    in its own transaction, while it deletes a full batch. Oldest first by id, which follows
    creation, so the scan starts where the old rows are.
    """
    ids = [
        i
        for i in session.exec(
            select(DeliveryRow.id)
            .where(col(DeliveryRow.created_at) < before, col(DeliveryRow.state) != PENDING)
            .order_by(col(DeliveryRow.id))
            .limit(limit)
        )
        if i is not None
    ]
    if not ids:
        return 0
    session.execute(delete(DeliveryAttemptRow).where(col(DeliveryAttemptRow.delivery_id).in_(ids)))
    session.execute(delete(DeliveryRow).where(col(DeliveryRow.id).in_(ids)))
    return len(ids)
