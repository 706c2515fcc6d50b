"""Each organization's health at a glance, for ``crmsync status``: one row per organization.

The queues are shared by every organization, and what waits on them is not read message by
message; an organization's backlog is what the database holds as waiting for it: backfills
under way, deliveries to its subscribers not yet made, and its notifications whose last
attempt failed. One grouped query per fact, whatever the number of organizations.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from domain.backfill import ACTIVE_STATES
from storage.org_tables import OrganizationRow
from storage.subscriptions import DISABLED, PENDING
from storage.tables import (
    BackfillRow,
    DeliveryRow,
    NotificationState,
    RawNotification,
    RepRow,
    SubscriptionRow,
)


@dataclass(slots=True)
class OrgHealth:
    """One organization's reps by account status and what waits or failed for it."""

    org_id: str
    name: str
    reps: dict[str, int] = field(default_factory=dict)
    backfills_under_way: int = 0
    deliveries_pending: int = 0
    subscriptions_disabled: int = 0
    notifications_failed: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "org_id": self.org_id,
            "name": self.name,
            "reps": sum(self.reps.values()),
            "reps_by_account_status": dict(sorted(self.reps.items())),
            "backfills_under_way": self.backfills_under_way,
            "deliveries_pending": self.deliveries_pending,
            "subscriptions_disabled": self.subscriptions_disabled,
            "notifications_failed": self.notifications_failed,
        }


def org_health(
    session: Session, failed_since: datetime, org_id: str | None = None
) -> list[OrgHealth]:
    """Every organization's health (or ``org_id``'s alone), in id order; failed notifications
    are those received since ``failed_since``."""
    orgs = select(OrganizationRow.id, OrganizationRow.name).order_by(col(OrganizationRow.id))
    if org_id is not None:
        orgs = orgs.where(OrganizationRow.id == org_id)
    health = {oid: OrgHealth(oid, name) for oid, name in session.exec(orgs)}

    def only(statement: Any, column: Any) -> Any:
        return statement if org_id is None else statement.where(column == org_id)

    for oid, counts in reps_by_org(session, org_id).items():
        if oid in health:
            health[oid].reps = counts
    backfills = (
        select(BackfillRow.org_id, func.count())
        .where(col(BackfillRow.state).in_([s.value for s in ACTIVE_STATES]))
        .group_by(col(BackfillRow.org_id))
    )
    _put(health, session.exec(only(backfills, BackfillRow.org_id)), "backfills_under_way")
    deliveries = (
        select(SubscriptionRow.org_id, func.count())
        .select_from(DeliveryRow)
        .join(SubscriptionRow, col(SubscriptionRow.id) == col(DeliveryRow.subscription_id))
        .where(DeliveryRow.state == PENDING)
        .group_by(col(SubscriptionRow.org_id))
    )
    _put(health, session.exec(only(deliveries, SubscriptionRow.org_id)), "deliveries_pending")
    disabled = (
        select(SubscriptionRow.org_id, func.count())
        .where(SubscriptionRow.status == DISABLED)
        .group_by(col(SubscriptionRow.org_id))
    )
    _put(health, session.exec(only(disabled, SubscriptionRow.org_id)), "subscriptions_disabled")
    failed = (
        select(RawNotification.org_id, func.count())
        .where(
            RawNotification.state == NotificationState.FAILED.value,
            col(RawNotification.received_at) >= failed_since,
        )
        .group_by(col(RawNotification.org_id))
    )
    _put(health, session.exec(only(failed, RawNotification.org_id)), "notifications_failed")
    return list(health.values())


def _put(health: dict[str, OrgHealth], counts: Iterable[Any], name: str) -> None:
    for oid, count in counts:
        if oid in health:
            setattr(health[oid], name, int(count))


def reps_by_org(session: Session, org_id: str | None = None) -> dict[str, dict[str, int]]:
    """Each organization's reps by account status, in one grouped query."""
    statement = select(RepRow.org_id, RepRow.account_status, func.count()).group_by(
        col(RepRow.org_id), col(RepRow.account_status)
    )
    if org_id is not None:
        statement = statement.where(RepRow.org_id == org_id)
    counts: dict[str, dict[str, int]] = {}
    for org_id, status, count in session.exec(statement):
        counts.setdefault(org_id, {})[status] = int(count)
    return counts
