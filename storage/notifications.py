"""Raw notifications (N3): recorded once per notification id, with their processing state."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session, select

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
