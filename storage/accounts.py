"""A rep's mailbox connection (A1, A2): connect, disconnect, status events, activity.

Every status change is a new version of the rep with a ``rep.updated`` change in the same
transaction, so the CRM sees account status move in the feed like any other fact. Activity
(last heard from, failures in a row) is bookkeeping, written without a change: the CRM
sees its effect when it moves the status (``sync-error``, or silence at read time).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from domain.accounts import AccountEvent, event_for_failures, next_status
from domain.backfill import ACTIVE_STATES, BackfillState
from domain.reps import Rep
from storage.changes import append_change
from storage.errors import NotFound, StorageConflict
from storage.reps import to_rep
from storage.tables import BackfillRow, RepRow

# Activity is written at most this often per rep, so a busy mailbox costs one write a minute.
ACTIVITY_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Connection:
    """What a completed hosted OAuth gives: the grant, its provider and mailbox address."""

    grant_id: str
    provider: str | None
    email: str | None


def apply_account_event(
    session: Session, org_id: str, rep_id: str, event: AccountEvent, now: datetime
) -> Rep | None:
    """Move the rep's status by ``event``; records ``rep.updated`` when it moved.

    Returns the rep (changed or not), or None for an unknown rep.
    """
    row = session.get(RepRow, (org_id, rep_id), with_for_update=True)
    if row is None:
        return None
    status = next_status(row.account_status, event)
    if status.value != row.account_status:
        row.account_status = status.value
        row.status_changed_at = now
        _new_version(session, row, now)
    return to_rep(row)


def apply_grant_event(
    session: Session,
    grant_id: str,
    event: AccountEvent,
    now: datetime,
    occurred_at: datetime | None = None,
) -> GrantEventResult:
    """:func:`apply_account_event` for the rep holding ``grant_id``, from a notification
    that happened at ``occurred_at``.

    Nylas delivers in any order: a notification older than the last one applied (or than
    the last connection) is stale and changes nothing, so an expiry delivered after the
    re-authentication that fixed it cannot break the rep again.
    """
    row = session.exec(select(RepRow).where(RepRow.grant_id == grant_id)).first()
    if row is None:
        return GrantEventResult(None, "unknown_grant")
    last = row.grant_event_at
    if occurred_at is not None and last is not None and occurred_at < last.replace(microsecond=0):
        return GrantEventResult(to_rep(row), "stale")
    before = row.account_status
    if occurred_at is not None:
        row.grant_event_at = occurred_at
        session.add(row)
    rep = apply_account_event(session, row.org_id, row.id, event, now)
    assert rep is not None
    outcome = "status_changed" if rep.account_status != before else "unchanged"
    return GrantEventResult(rep, outcome)


def note_grant_gone(session: Session, grant_id: str, now: datetime) -> GrantEventResult:
    """Nylas answered that the grant no longer exists (a 404 on the grant itself, seen by one
    of crmsync's own calls): the rep is invalid, as after ``grant.deleted``.

    It happened no later than ``now``, so anything Nylas said of the grant before (a late
    ``grant.created`` of the deleted grant) is stale; a reconnection, or a ``grant.created``
    sent after ``now``, makes the rep valid again.
    """
    return apply_grant_event(session, grant_id, AccountEvent.GRANT_DELETED, now, occurred_at=now)


@dataclass(frozen=True, slots=True)
class GrantEventResult:
    rep: Rep | None
    outcome: str  # status_changed, unchanged, stale, unknown_grant


def connect_rep(
    session: Session,
    org_id: str,
    rep_id: str,
    connection: Connection,
    now: datetime,
    lookback: timedelta,
) -> Rep:
    """Store the grant on the rep, count sync-from from now, and mark it initializing.

    Raises:
        NotFound: no such rep.
        StorageConflict: another rep holds the grant.
    """
    holder = session.exec(
        select(RepRow.org_id, RepRow.id).where(
            RepRow.grant_id == connection.grant_id,
            (RepRow.org_id != org_id) | (RepRow.id != rep_id),
        )
    ).first()
    if holder is not None:
        # Another organization's rep is not named: its ids are that organization's own.
        to_whom = f" to rep {holder[1]!r}" if holder[0] == org_id else ""
        raise StorageConflict("grant_in_use", f"this mailbox is already connected{to_whom}")
    row = session.get(RepRow, (org_id, rep_id), with_for_update=True)
    if row is None:
        raise NotFound("unknown_rep", f"no rep {rep_id!r}")
    row.grant_id = connection.grant_id
    row.provider = connection.provider or row.provider
    row.sync_from = now - lookback
    row.connected_at = now
    row.grant_event_at = now
    row.last_activity_at = now
    row.consecutive_failures = 0
    row.account_status = next_status(row.account_status, AccountEvent.CONNECTED).value
    row.status_changed_at = now
    _new_version(session, row, now)
    return to_rep(row)


def disconnect_rep(
    session: Session, org_id: str, rep_id: str, now: datetime
) -> tuple[Rep, str | None]:
    """Clear the rep's grant, stop its backfills, and mark it stopped; its emails stay.

    Returns the rep and the grant it had (to destroy at Nylas), None if it had none.

    Raises:
        NotFound: no such rep.
    """
    # Backfills first, then the rep: a backfill saving a page locks them in that order too.
    session.execute(
        update(BackfillRow)
        .where(
            col(BackfillRow.org_id) == org_id,
            col(BackfillRow.rep_id) == rep_id,
            col(BackfillRow.state).in_([s.value for s in ACTIVE_STATES]),
        )
        .values(state=BackfillState.CANCELLED.value, finished_at=now, updated_at=now)
    )
    row = session.get(RepRow, (org_id, rep_id), with_for_update=True)
    if row is None:
        raise NotFound("unknown_rep", f"no rep {rep_id!r}")
    grant_id = row.grant_id
    status = next_status(row.account_status, AccountEvent.DISCONNECTED).value
    if grant_id is None and status == row.account_status:
        return to_rep(row), None
    row.grant_id = None
    row.account_status = status
    row.status_changed_at = now
    _new_version(session, row, now)
    return to_rep(row), grant_id


def note_success(session: Session, grant_id: str, now: datetime) -> None:
    """:func:`note_successes` for one grant."""
    note_successes(session, [grant_id], now)


def note_successes(session: Session, grant_ids: Collection[str], now: datetime) -> None:
    """The grants' work succeeded: each was heard from, and a failing streak is over.

    Written at most once per :data:`ACTIVITY_RESOLUTION` unless a streak ends, so a busy
    mailbox does not pay a write per notification; one query finds the reps to write.
    """
    if not grant_ids:
        return
    stale = now - ACTIVITY_RESOLUTION
    rows = session.exec(
        select(RepRow)
        .where(
            col(RepRow.grant_id).in_(sorted(grant_ids)),
            (col(RepRow.last_activity_at).is_(None))
            | (col(RepRow.last_activity_at) < stale)
            | (col(RepRow.consecutive_failures) > 0),
        )
        # Locked, as in note_failure: concurrent workers must not lose each other's counts.
        # In id order, so two transactions locking overlapping sets never wait in a cycle.
        .order_by(col(RepRow.org_id), col(RepRow.id))
        .with_for_update()
    ).all()
    for row in rows:
        recovering = row.consecutive_failures > 0
        row.last_activity_at = now
        row.consecutive_failures = 0
        session.add(row)
        if recovering:
            apply_account_event(session, row.org_id, row.id, AccountEvent.SYNC_RECOVERED, now)


def note_failure(session: Session, grant_id: str, now: datetime) -> Rep | None:
    """One unit of the grant's work failed; the streak's limit moves it to sync-error.

    The rep's row is locked for the increment: two workers failing at once must count two
    (a read-modify-write without the lock lost counts on PostgreSQL, found by the tests).
    """
    row = session.exec(select(RepRow).where(RepRow.grant_id == grant_id).with_for_update()).first()
    if row is None:
        return None
    row.consecutive_failures += 1
    session.add(row)
    event = event_for_failures(row.consecutive_failures)
    if event is not None:
        return apply_account_event(session, row.org_id, row.id, event, now)
    return to_rep(row)


def _new_version(session: Session, row: RepRow, now: datetime) -> None:
    row.version += 1
    row.updated_at = now
    session.add(row)
    session.flush()
    append_change(
        session,
        org_id=row.org_id,
        change_type="rep.updated",
        entity="rep",
        entity_id=row.id,
        rep_id=row.id,
        operation="update",
        entity_version=row.version,
        payload=to_rep(row).to_json(),
        now=now,
    )
