"""What the database says about pipeline health, for ``crmsync status``.

Reps counted by account status, the latest handling errors wherever they are recorded
(notifications whose last attempt failed, action items whose push failed, deliveries to
CRM subscribers that failed or exhausted their attempts, and emails the CRM sent that
failed or bounced), and the outcomes of each rep's message notifications of late: for the
whole deployment, or for one organization (``org_id``); and each organization's health.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, func, select

from domain.message_verdicts import DECIDING_TRIGGERS
from domain.rep_outcomes import RepKey
from storage.subscriptions import EXHAUSTED, FAILED
from storage.tables import (
    ActionItemRow,
    DeliveryRow,
    EmailRow,
    NotificationState,
    RawNotification,
    RepRow,
    SubscriptionRow,
)


@dataclass(frozen=True, slots=True)
class HandlingError:
    """One recorded failure: where it was recorded, what it concerns, when, and the error."""

    source: str  # "notification", "action_item", "delivery" or "send"
    subject: str
    at: datetime
    error: str


def reps_by_account_status(session: Session, org_id: str | None = None) -> dict[str, int]:
    """How many reps are in each account status (statuses with none left out)."""
    statement = select(RepRow.account_status, func.count()).group_by(RepRow.account_status)
    if org_id is not None:
        statement = statement.where(RepRow.org_id == org_id)
    return {status: int(count) for status, count in session.exec(statement)}


def recent_handling_errors(
    session: Session, limit: int = 10, org_id: str | None = None
) -> list[HandlingError]:
    """The latest ``limit`` handling errors across the four sources, newest first."""
    errors = _notification_errors(session, limit, org_id)
    errors += _push_errors(session, limit, org_id)
    errors += _delivery_errors(session, limit, org_id)
    errors += _send_errors(session, limit, org_id)
    errors.sort(key=lambda error: error.at, reverse=True)
    return errors[:limit]


def _notification_errors(session: Session, limit: int, org_id: str | None) -> list[HandlingError]:
    statement = (
        select(RawNotification)
        .where(RawNotification.state == NotificationState.FAILED.value)
        .where(col(RawNotification.last_error).is_not(None))
        .order_by(col(RawNotification.handled_at).desc())
        .limit(limit)
    )
    if org_id is not None:
        statement = statement.where(RawNotification.org_id == org_id)
    return [
        HandlingError(
            source="notification",
            subject=f"{row.type} {row.notification_id} (grant {row.grant_id})",
            at=row.handled_at or row.received_at,
            error=row.last_error or "",
        )
        for row in session.exec(statement)
    ]


def _push_errors(session: Session, limit: int, org_id: str | None) -> list[HandlingError]:
    statement = (
        select(ActionItemRow)
        .where(col(ActionItemRow.last_push_error).is_not(None))
        .order_by(col(ActionItemRow.updated_at).desc())
        .limit(limit)
    )
    if org_id is not None:
        statement = statement.where(ActionItemRow.org_id == org_id)
    return [
        HandlingError(
            source="action_item",
            subject=f"rep {row.rep_id} item {row.crm_item_id}",
            at=row.updated_at,
            error=row.last_push_error or "",
        )
        for row in session.exec(statement)
    ]


def _delivery_errors(session: Session, limit: int, org_id: str | None) -> list[HandlingError]:
    statement = (
        select(DeliveryRow)
        .where(col(DeliveryRow.state).in_([FAILED, EXHAUSTED]))
        .order_by(col(DeliveryRow.updated_at).desc())
        .limit(limit)
    )
    if org_id is not None:
        statement = statement.join(
            SubscriptionRow, col(SubscriptionRow.id) == col(DeliveryRow.subscription_id)
        ).where(SubscriptionRow.org_id == org_id)
    return [
        HandlingError(
            source="delivery",
            subject=f"{row.state} {row.change_type} to {row.subscription_id}",
            at=row.updated_at,
            error=row.last_error or f"HTTP {row.last_status_code}",
        )
        for row in session.exec(statement)
    ]


def _send_errors(session: Session, limit: int, org_id: str | None) -> list[HandlingError]:
    statement = (
        select(EmailRow)
        .where(col(EmailRow.delivery_state).in_(["failed", "bounced"]))
        .order_by(col(EmailRow.updated_at).desc())
        .limit(limit)
    )
    if org_id is not None:
        statement = statement.where(EmailRow.org_id == org_id)
    return [
        HandlingError(
            source="send",
            subject=f"{row.delivery_state} email {row.id} (rep {row.rep_id}, key {row.send_key})",
            at=row.updated_at,
            error=row.delivery_error or "",
        )
        for row in session.exec(statement)
    ]


@dataclass(frozen=True, slots=True)
class OutcomeCounts:
    """Message notifications received since a time, counted by outcome word: per rep, and
    for grants no rep holds."""

    by_rep: dict[RepKey, dict[str, int]]
    without_rep: dict[str, int]


def rep_outcome_counts(
    session: Session, since: datetime, org_id: str | None = None
) -> OutcomeCounts:
    """The outcomes of message notifications (``message.created``/``updated``: those that
    decide whether an email is stored) received since ``since``, per rep of their grant.

    One grouped query over the received-time index; a notification of a failed attempt,
    which records no outcome, counts under its state (``failed``). Reps are matched by their
    current grant; for one organization, the notifications stored as its own count.
    """
    word = func.coalesce(col(RawNotification.outcome), col(RawNotification.state))
    statement = (
        select(col(RepRow.org_id), col(RepRow.id), word, func.count())
        .select_from(RawNotification)
        .outerjoin(RepRow, col(RepRow.grant_id) == col(RawNotification.grant_id))
        .where(
            col(RawNotification.received_at) >= since,
            col(RawNotification.trigger).in_(sorted(DECIDING_TRIGGERS)),
        )
        .group_by(col(RepRow.org_id), col(RepRow.id), word)
    )
    if org_id is not None:
        statement = statement.where(RawNotification.org_id == org_id)
    by_rep: dict[RepKey, dict[str, int]] = {}
    without_rep: dict[str, int] = {}
    for rep_org, rep_id, outcome, count in session.exec(statement):
        counts = without_rep if rep_id is None else by_rep.setdefault((rep_org, rep_id), {})
        counts[str(outcome)] = counts.get(str(outcome), 0) + int(count)
    return OutcomeCounts(by_rep, without_rep)
