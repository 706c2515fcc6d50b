"""Backfills (A2, E11): recorded in the database first, queued by the dispatcher, resumable.

A backfill is created in the transaction that calls for it (a connection, a contact added),
so it can never be lost between the decision and the queue. The dispatcher queues pending
ones, and queues again a running one whose progress stopped (its message was lost with a
crashed worker); the actor reads the saved position and goes on from there.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import cast

from sqlalchemy import update
from sqlmodel import Session, col, select

from domain import answers
from domain.backfill import (
    ACTIVE_STATES,
    BackfillKind,
    BackfillState,
    Progress,
    plan_retroactive,
    window_count,
    window_size,
)
from domain.reps import Rep
from domain.times import format_time
from storage.tables import BackfillRow, ContactAddressRow


def create_backfill(
    session: Session,
    *,
    org_id: str,
    rep_id: str,
    grant_id: str,
    kind: BackfillKind,
    since: datetime,
    until: datetime,
    now: datetime,
    addresses: Sequence[str] = (),
) -> BackfillRow:
    """Record a pending backfill of ``[since, until)``; a new mailbox backfill replaces an
    active one of the same rep (it covers everything the old one would have)."""
    if kind is BackfillKind.MAILBOX:
        session.execute(
            update(BackfillRow)
            .where(
                col(BackfillRow.org_id) == org_id,
                col(BackfillRow.rep_id) == rep_id,
                col(BackfillRow.kind) == BackfillKind.MAILBOX.value,
                col(BackfillRow.state).in_([s.value for s in ACTIVE_STATES]),
            )
            .values(state=BackfillState.CANCELLED.value, finished_at=now, updated_at=now)
        )
    row = BackfillRow(
        org_id=org_id,
        rep_id=rep_id,
        grant_id=grant_id,
        kind=kind.value,
        addresses=list(addresses),
        since=since,
        until=until,
        state=BackfillState.PENDING.value,
        windows_total=window_count(since, until, window_size(kind, since, until)),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row


def backfills_to_queue(session: Session, stalled_before: datetime) -> list[int]:
    """Pending backfills not queued yet, and active ones that made no progress since
    ``stalled_before`` (their message was lost); locked so that one dispatcher takes them."""
    active = [s.value for s in ACTIVE_STATES]
    query = (
        select(BackfillRow.id)
        .where(
            col(BackfillRow.state).in_(active),
            (col(BackfillRow.queued_at).is_(None)) | (col(BackfillRow.updated_at) < stalled_before),
        )
        .order_by(col(BackfillRow.id))
        .limit(100)
        .with_for_update(skip_locked=True)
    )
    return [row_id for row_id in session.exec(query) if row_id is not None]


def mark_backfills_queued(session: Session, backfill_ids: Sequence[int], now: datetime) -> None:
    if backfill_ids:
        session.execute(
            update(BackfillRow)
            .where(col(BackfillRow.id).in_(backfill_ids))
            .values(queued_at=now, updated_at=now)
        )


def get_backfill(
    session: Session, backfill_id: int, *, for_update: bool = False
) -> BackfillRow | None:
    return session.get(BackfillRow, backfill_id, with_for_update=for_update)


def latest_backfill(
    session: Session, org_id: str, rep_id: str, kind: BackfillKind
) -> BackfillRow | None:
    """The rep's most recent backfill of ``kind``."""
    return session.exec(
        select(BackfillRow)
        .where(
            BackfillRow.org_id == org_id,
            BackfillRow.rep_id == rep_id,
            BackfillRow.kind == kind.value,
        )
        .order_by(col(BackfillRow.id).desc())
    ).first()


def active_backfills(session: Session, org_id: str, rep_id: str) -> list[BackfillRow]:
    return list(
        session.exec(
            select(BackfillRow)
            .where(
                BackfillRow.org_id == org_id,
                BackfillRow.rep_id == rep_id,
                col(BackfillRow.state).in_([s.value for s in ACTIVE_STATES]),
            )
            .order_by(col(BackfillRow.id))
        )
    )


def timed_out(row: BackfillRow, now: datetime, limit: timedelta) -> bool:
    """Whether a running backfill has not moved for ``limit``."""
    return row.state == BackfillState.RUNNING.value and now - row.updated_at > limit


def progress_of(row: BackfillRow) -> Progress:
    return Progress(
        windows_total=row.windows_total,
        windows_done=row.window_index,
        pages_done=row.pages_done,
        scanned=row.scanned,
        stored=row.stored,
    )


def backfill_json(row: BackfillRow) -> answers.Backfill:
    """A backfill as the API and the CLI show it."""
    progress = progress_of(row)
    assert row.id is not None, "a backfill is shown once it is stored"
    return {
        "id": row.id,
        "rep_id": row.rep_id,
        "kind": cast(answers.BackfillKindName, row.kind),
        "state": cast(answers.BackfillStateName, row.state),
        "addresses": list(row.addresses),
        "since": format_time(row.since),
        "until": format_time(row.until),
        "progress": {
            "percent": 100.0 if row.state == BackfillState.DONE.value else progress.percent,
            "windows_total": progress.windows_total,
            "windows_done": progress.windows_done,
            "windows_left": progress.windows_left,
            "pages_done": progress.pages_done,
            "messages_scanned": progress.scanned,
            "emails_stored": progress.stored,
            "messages_failed": row.failed,
        },
        "error": row.error,
        "created_at": format_time(row.created_at),
        "started_at": format_time(row.started_at) if row.started_at else None,
        "finished_at": format_time(row.finished_at) if row.finished_at else None,
    }


def rep_addresses(session: Session, rep: Rep, among: Collection[str] | None = None) -> set[str]:
    """The addresses of the rep's active contacts (the index the matching reads), or only
    those of them in ``among``, so adding one contact does not read a rep's 100,000."""
    query = select(ContactAddressRow.address).where(
        ContactAddressRow.org_id == rep.org_id, ContactAddressRow.rep_id == rep.rep_id
    )
    if among is not None:
        query = query.where(col(ContactAddressRow.address).in_(sorted(among)))
    return set(session.exec(query))


def start_retroactive_backfills(
    session: Session,
    rep: Rep,
    known_before: set[str],
    now: datetime,
    among: Collection[str] | None = None,
) -> list[BackfillRow]:
    """Backfills for the addresses the rep's contacts gained since ``known_before`` (E11),
    looking only at ``among`` when given (the addresses of the contacts just written).

    Nothing for a rep without a mailbox or with email sync off; bounded by the rep's
    sync-from and by :func:`domain.backfill.plan_retroactive`.
    """
    if rep.grant_id is None or not rep.email_sync_enabled:
        return []
    new = sorted(rep_addresses(session, rep, among) - known_before)
    plan = plan_retroactive(new)
    start = partial(
        create_backfill,
        session,
        org_id=rep.org_id,
        rep_id=rep.rep_id,
        grant_id=rep.grant_id,
        since=rep.sync_from,
        until=now,
        now=now,
    )
    if plan.rescan_mailbox:
        return [start(kind=BackfillKind.MAILBOX)]
    return [start(kind=BackfillKind.CONTACT, addresses=group) for group in plan.address_groups]


def backfills_to_watch(
    session: Session, limit: int = 20, org_id: str | None = None
) -> list[BackfillRow]:
    """Backfills an operator wants to see: those under way, then those that gave up."""
    active = [s.value for s in ACTIVE_STATES]
    query = select(BackfillRow)
    if org_id is not None:
        query = query.where(BackfillRow.org_id == org_id)
    query = (
        query.where(col(BackfillRow.state).in_([*active, BackfillState.FAILED.value]))
        .order_by(col(BackfillRow.state).in_(active).desc(), col(BackfillRow.id).desc())
        .limit(limit)
    )
    return list(session.exec(query))
