"""Raw notifications (N3): recorded once per notification id, with their processing state.

A notification is recorded when an attempt at handling it finishes, in the transaction of
that attempt's work: a worker that dies mid-attempt leaves its message on the queue, not a
row, and the next attempt records it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, delete, func, update
from sqlmodel import Session, col, select

from domain.notifications import Notification
from storage.reps import grant_orgs
from storage.tables import NotificationState, RawNotification
from storage.upsert import insert_ignore_rows

_RAW: Table = RawNotification.__table__  # type: ignore[attr-defined]
DEPLOYMENT = ""  # the via_org of a notification signed with the deployment's secrets


@dataclass(frozen=True, slots=True)
class NotificationOutcome:
    """One attempt at handling a notification, finished: to record with the notification."""

    notification: Notification
    received_at: datetime
    state: NotificationState
    outcome: str | None = None
    error: str | None = None


NotificationKey = tuple[str, str]
"""A stored notification's key: (the organization it came through, or "" for the
deployment's application; its notification id). Nylas's ids are each application's own, so
one organization's notifications can never overwrite another's stored one."""


def key_of(notification: Notification) -> NotificationKey:
    return (notification.via_org or DEPLOYMENT, notification.notification_id)


def record_outcomes(
    session: Session, outcomes: Sequence[NotificationOutcome], now: datetime
) -> set[NotificationKey]:
    """Store each notification with the outcome of its attempt; the keys stored for the
    first time (the others were stored by an earlier attempt, whose row the outcome updates).

    One statement inserts the new ones whatever their number; a notification attempted
    again (a retry, a reprocess) costs one more. The keys must be distinct.
    """
    if not outcomes:
        return set()
    by_key = {key_of(o.notification): o for o in outcomes}
    if len(by_key) != len(outcomes):
        raise ValueError("record_outcomes takes each notification once")
    owners = grant_orgs(session, (o.notification.grant_id for o in outcomes))
    # The organization it came through, else the one whose rep holds its grant.
    orgs = {
        k: by_key[k].notification.via_org or owners.get(by_key[k].notification.grant_id or "")
        for k in by_key
    }
    rows = insert_ignore_rows(
        session,
        _RAW,
        [_raw_values(by_key[k], orgs[k], now) for k in sorted(by_key)],
        ["via_org", "notification_id"],
        ["via_org", "notification_id"],
    )
    inserted = {(str(via), str(notification_id)) for via, notification_id in map(tuple, rows)}
    for key in sorted(by_key.keys() - inserted):
        attempt = by_key[key]
        via_org, notification_id = key
        session.execute(
            update(RawNotification)
            .where(
                col(RawNotification.via_org) == via_org,
                col(RawNotification.notification_id) == notification_id,
            )
            .values(
                state=attempt.state.value,
                attempts=col(RawNotification.attempts) + 1,
                last_error=attempt.error,
                outcome=attempt.outcome,
                handled_at=now,
                # Known once a rep claims the grant: a reprocess after that names it.
                org_id=func.coalesce(col(RawNotification.org_id), orgs[key]),
            )
        )
    return inserted


def _raw_values(attempt: NotificationOutcome, org_id: str | None, now: datetime) -> dict[str, Any]:
    notification = attempt.notification
    occurred_at = (
        datetime.fromtimestamp(notification.occurred_at, UTC)
        if notification.occurred_at is not None
        else None
    )
    return {
        "notification_id": notification.notification_id,
        "api_version": notification.api_version,
        "type": notification.type,
        "trigger": notification.trigger,
        "grant_id": notification.grant_id,
        "org_id": org_id,
        "via_org": notification.via_org or DEPLOYMENT,
        "object_id": notification.object_id,
        "occurred_at": occurred_at,
        "received_at": attempt.received_at,
        "payload": dict(notification.payload),
        "state": attempt.state.value,
        "attempts": 1,
        "last_error": attempt.error,
        "outcome": attempt.outcome,
        "handled_at": now,
    }


def notifications_to_reprocess(
    session: Session,
    *,
    org_id: str | None = None,
    grant_id: str | None,
    since: datetime | None,
    until: datetime | None,
    trigger_prefix: str | None,
    limit: int | None,
) -> list[RawNotification]:
    """Stored notifications received in [since, until] for an organization or a grant,
    oldest first (N3)."""
    query = select(RawNotification)
    if org_id is not None:
        query = query.where(RawNotification.org_id == org_id)
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
