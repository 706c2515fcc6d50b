"""Raw notifications (N3): recorded once per notification id, with their processing state."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete
from sqlmodel import Session, col, select

from domain.notifications import Notification
from storage.tables import NotificationState, RawNotification
from storage.upsert import insert_ignore


def record_notification(
    session: Session, notification: Notification, received_at: datetime
) -> bool:
    """Store ``notification`` unless one with its id is stored already; True if it was new."""
    occurred_at = (
        datetime.fromtimestamp(notification.occurred_at, UTC)
        if notification.occurred_at is not None
        else None
    )
    return insert_ignore(
        session,
        RawNotification.__table__,  # type: ignore[attr-defined]
        {
            "notification_id": notification.notification_id,
            "api_version": notification.api_version,
            "type": notification.type,
            "trigger": notification.trigger,
            "grant_id": notification.grant_id,
            "object_id": notification.object_id,
            "occurred_at": occurred_at,
            "received_at": received_at,
            "payload": dict(notification.payload),
            "state": NotificationState.PENDING.value,
            "attempts": 0,
        },
        ["notification_id"],
    )


def mark_notification(
    session: Session,
    notification_id: str,
    state: NotificationState,
    now: datetime,
    error: str | None = None,
    outcome: str | None = None,
) -> None:
    """Record the outcome of one attempt at handling a stored notification."""
    row = session.exec(
        select(RawNotification).where(RawNotification.notification_id == notification_id)
    ).one()
    row.state = state.value
    row.attempts += 1
    row.last_error = error
    row.outcome = outcome
    row.handled_at = now
    session.add(row)


def notifications_to_reprocess(
    session: Session,
    *,
    grant_id: str | None,
    since: datetime | None,
    until: datetime | None,
    trigger_prefix: str | None,
    limit: int | None,
) -> list[RawNotification]:
    """Stored notifications received in [since, until] for a grant, oldest first (N3)."""
    query = select(RawNotification)
    if grant_id is not None:
        query = query.where(RawNotification.grant_id == grant_id)
    if since is not None:
        query = query.where(col(RawNotification.received_at) >= since)
    if until is not None:
        query = query.where(col(RawNotification.received_at) <= until)
    if trigger_prefix is not None:
        query = query.where(col(RawNotification.trigger).startswith(trigger_prefix))
    query = query.order_by(col(RawNotification.received_at), col(RawNotification.id))
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query))


def prune_notifications(session: Session, before: datetime) -> int:
    """Delete stored notifications received before ``before`` (N3's retention)."""
    result = session.execute(
        delete(RawNotification).where(col(RawNotification.received_at) < before)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
