"""Offboarding an organization: every row it holds deleted, in batches, then the organization.

The plan is one list of steps, children before parents, each naming a table and which of its
rows are the organization's: the same condition counts them for a dry run and deletes them
a batch at a time, so the dry run says exactly what goes. A batch is one statement in one
transaction, and the progress is saved with it: an offboarding cut short by a crash resumes
where it stopped, and deleting what is already gone deletes nothing. What a late writer adds
while the steps run (a notification handled as the reps go) is found by the next pass: the
organization's row goes only after a whole pass found nothing left.

Its tokens go first, in the transaction that starts the offboarding, so they stop working at
once; from then on the organization is not found by the API (``offboarding_of``), and its
reps hold no grant, so no notification reaches them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, delete, false, func, or_, tuple_, update
from sqlmodel import Session, col, select

from domain.organizations import DEFAULT_ORG_ID
from storage.errors import StorageConflict
from storage.org_tables import OffboardingRow, OrganizationRow, OrgTokenRow
from storage.organizations import OFFBOARDED, offboarding_of, require_org
from storage.tables import (
    ActionItemRow,
    BackfillRow,
    ChangeRow,
    ConnectAttemptRow,
    ContactAddressRow,
    ContactRow,
    DeadLetterAuditRow,
    DeliveryAttemptRow,
    DeliveryRow,
    EmailContactRow,
    EmailRow,
    FolderRefreshRow,
    FolderRow,
    ParkedMessageRow,
    RawNotification,
    RepRow,
    SubscriptionRow,
)

DISCONNECTING = "disconnecting"
DELETING = "deleting"
# Its rows are gone; one more pass after SETTLE_AFTER deletes what came in late (work queued
# before the removal, Nylas's grant.deleted for the grants it disconnected).
SETTLING = "settling"
DONE = OFFBOARDED
SETTLE_AFTER = timedelta(minutes=5)

# Rows per statement: small enough that a batch holds its locks for milliseconds.
BATCH = 1_000


@dataclass(frozen=True, slots=True)
class Step:
    """One table of the plan and which of its rows are the organization's."""

    name: str
    table: Any
    rows: Callable[[str, Sequence[str]], ColumnElement[bool]]

    @property
    def _table(self) -> Table:
        table: Table = self.table.__table__
        return table

    def count(self, session: Session, org_id: str, grants: Sequence[str]) -> int:
        statement = select(func.count()).select_from(self._table).where(self.rows(org_id, grants))
        return int(session.exec(statement).one())

    def delete_batch(self, session: Session, org_id: str, grants: Sequence[str]) -> int:
        """Delete at most :data:`BATCH` of the organization's rows; how many went."""
        key = list(self._table.primary_key.columns)
        chosen = select(*key).where(self.rows(org_id, grants)).limit(BATCH)
        result = session.execute(delete(self._table).where(tuple_(*key).in_(chosen)))
        return int(result.rowcount)  # type: ignore[attr-defined]


def _of_org(table: Any) -> Callable[[str, Sequence[str]], ColumnElement[bool]]:
    return lambda org_id, grants: col(table.org_id) == org_id


def _of_grants(table: Any) -> Callable[[str, Sequence[str]], ColumnElement[bool]]:
    return lambda org_id, grants: col(table.grant_id).in_(grants) if grants else false()


def _subscriptions(org_id: str) -> Any:
    return select(SubscriptionRow.id).where(SubscriptionRow.org_id == org_id)


PLAN: tuple[Step, ...] = (
    Step(
        "delivery_attempts",
        DeliveryAttemptRow,
        lambda org_id, grants: col(DeliveryAttemptRow.delivery_id).in_(
            select(DeliveryRow.id).where(
                col(DeliveryRow.subscription_id).in_(_subscriptions(org_id))
            )
        ),
    ),
    Step(
        "deliveries",
        DeliveryRow,
        lambda org_id, grants: col(DeliveryRow.subscription_id).in_(_subscriptions(org_id)),
    ),
    Step(
        "email_contacts",
        EmailContactRow,
        lambda org_id, grants: col(EmailContactRow.email_id).in_(
            select(EmailRow.id).where(EmailRow.org_id == org_id)
        ),
    ),
    Step("contact_addresses", ContactAddressRow, _of_org(ContactAddressRow)),
    Step("contacts", ContactRow, _of_org(ContactRow)),
    Step("emails", EmailRow, _of_org(EmailRow)),
    Step("action_items", ActionItemRow, _of_org(ActionItemRow)),
    Step("backfills", BackfillRow, _of_org(BackfillRow)),
    Step("connect_attempts", ConnectAttemptRow, _of_org(ConnectAttemptRow)),
    Step("parked_messages", ParkedMessageRow, _of_grants(ParkedMessageRow)),
    Step("folders", FolderRow, _of_grants(FolderRow)),
    Step("folder_refreshes", FolderRefreshRow, _of_grants(FolderRefreshRow)),
    Step(
        "raw_notifications",
        RawNotification,
        # Its own, and those of its grants stored before any rep held them.
        lambda org_id, grants: or_(
            col(RawNotification.org_id) == org_id,
            col(RawNotification.via_org) == org_id,
            and_(col(RawNotification.org_id).is_(None), col(RawNotification.grant_id).in_(grants))
            if grants
            else false(),
        ),
    ),
    Step("dead_letter_audits", DeadLetterAuditRow, _of_org(DeadLetterAuditRow)),
    Step("changes", ChangeRow, _of_org(ChangeRow)),
    Step("subscriptions", SubscriptionRow, _of_org(SubscriptionRow)),
    Step("reps", RepRow, _of_org(RepRow)),
    Step("org_tokens", OrgTokenRow, _of_org(OrgTokenRow)),
)


def org_grants(session: Session, org_id: str) -> list[str]:
    """The grants the organization's reps hold, and those its backfills read, unless
    another organization's rep holds one now."""
    held = set(session.exec(select(RepRow.grant_id).where(RepRow.org_id == org_id)))
    read = set(session.exec(select(BackfillRow.grant_id).where(BackfillRow.org_id == org_id)))
    others = set(
        session.exec(
            select(RepRow.grant_id).where(
                RepRow.org_id != org_id, col(RepRow.grant_id).in_(sorted(read - held))
            )
        )
    )
    return sorted(g for g in (held | read) - others if g is not None)


def count_org_rows(session: Session, org_id: str) -> dict[str, int]:
    """What an offboarding would delete, by table (the dry run); raises as it would."""
    _offboardable(session, org_id)
    grants = org_grants(session, org_id)
    return {step.name: step.count(session, org_id, grants) for step in PLAN}


def start_offboarding(
    session: Session, org_id: str, requested_by: str, now: datetime
) -> OffboardingRow:
    """Begin offboarding ``org_id`` (the one under way, if asked again): its tokens stop
    working now, and the workers take it from here.

    Raises:
        NotFound: no such organization.
        StorageConflict: the default organization, which a deployment always has.
    """
    _offboardable(session, org_id)
    # Locked first: a second request at the same moment waits, then finds this one's.
    require_org(session, org_id, for_update=True)
    under_way = offboarding_of(session, org_id)
    if under_way is not None:
        return under_way
    tokens = session.execute(delete(OrgTokenRow).where(col(OrgTokenRow.org_id) == org_id))
    row = OffboardingRow(
        org_id=org_id,
        requested_by=requested_by,
        requested_at=now,
        state=DISCONNECTING,
        grants=org_grants(session, org_id),
        deleted={"org_tokens": int(tokens.rowcount)} if tokens.rowcount else {},  # type: ignore[attr-defined]
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row


def _offboardable(session: Session, org_id: str) -> None:
    if org_id == DEFAULT_ORG_ID:
        raise StorageConflict(
            "default_org", "the default organization holds what has no other; it stays"
        )
    require_org(session, org_id)


def release_grants(session: Session, row: OffboardingRow, now: datetime) -> None:
    """After the grants were disconnected: the reps hold none (no notification reaches
    them any more), and the rows are next."""
    session.execute(update(RepRow).where(col(RepRow.org_id) == row.org_id).values(grant_id=None))
    row.state = DELETING
    row.updated_at = now
    session.add(row)


def delete_next_batch(session: Session, row: OffboardingRow, now: datetime) -> bool:
    """Delete the next batch of the plan and record it; False once nothing is left: then
    the organization itself is deleted and the offboarding settles, or, settled, is done."""
    for step in PLAN:
        deleted = step.delete_batch(session, row.org_id, row.grants)
        if deleted:
            row.deleted = {**row.deleted, step.name: row.deleted.get(step.name, 0) + deleted}
            row.updated_at = now
            session.add(row)
            return True
    organization = session.get(OrganizationRow, row.org_id)
    if organization is not None:
        session.delete(organization)
    if row.state == SETTLING:
        row.state = DONE
        row.finished_at = now
    else:
        row.state = SETTLING
    row.updated_at = now
    session.add(row)
    return False


def settled(row: OffboardingRow, now: datetime) -> bool:
    """Whether a settling offboarding has waited long enough for its last pass."""
    return row.state != SETTLING or now - row.updated_at >= SETTLE_AFTER


def offboardings_to_queue(session: Session, stalled_before: datetime) -> list[int]:
    """Offboardings not queued yet, and those that made no progress since
    ``stalled_before`` (their message was lost); locked so that one dispatcher takes them."""
    statement = (
        select(OffboardingRow.id)
        .where(
            OffboardingRow.state != DONE,
            or_(
                col(OffboardingRow.queued_at).is_(None),
                col(OffboardingRow.updated_at) < stalled_before,
            ),
        )
        .order_by(col(OffboardingRow.id))
        .with_for_update(skip_locked=True)
    )
    return [row_id for row_id in session.exec(statement) if row_id is not None]


def mark_offboardings_queued(session: Session, ids: Sequence[int], now: datetime) -> None:
    if ids:
        session.execute(
            update(OffboardingRow)
            .where(col(OffboardingRow.id).in_(list(ids)))
            .values(queued_at=now, updated_at=now)
        )
