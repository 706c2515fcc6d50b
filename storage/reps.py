"""Reps: registered and updated by the CRM, looked up by the workers through their grant."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from domain.accounts import status_for_new_grant
from domain.email_rules import DEFAULT_LOOKBACK, resolve_sync_from
from domain.folders import FolderSelection
from domain.reps import Rep, RepDocument
from storage.changes import append_change
from storage.errors import StorageConflict
from storage.tables import RepRow


@dataclass(frozen=True, slots=True)
class PutRepResult:
    rep: Rep
    created: bool
    changed: bool


def get_rep(session: Session, org_id: str, rep_id: str) -> Rep | None:
    """The rep ``rep_id`` of organization ``org_id`` (another organization's is None)."""
    row = session.get(RepRow, (org_id, rep_id))
    return to_rep(row) if row else None


def rep_for_grant(session: Session, grant_id: str) -> Rep | None:
    """The rep whose mailbox is ``grant_id``, or None for a grant no rep has."""
    row = session.exec(select(RepRow).where(RepRow.grant_id == grant_id)).first()
    return to_rep(row) if row else None


# Grants named per statement: far below PostgreSQL's 65,535 parameters and SQLite's limit.
GRANTS_PER_QUERY = 1_000


def grant_org(session: Session, grant_id: str) -> str | None:
    """The organization whose rep holds ``grant_id``, if a rep does."""
    return grant_orgs(session, [grant_id]).get(grant_id)


def grant_orgs(session: Session, grant_ids: Iterable[str | None]) -> dict[str, str]:
    """The organization of each grant a rep holds, whatever the number of grants
    (:data:`GRANTS_PER_QUERY` to a query); grants no rep holds are left out."""
    known = sorted({g for g in grant_ids if g is not None})
    found: dict[str, str] = {}
    for start in range(0, len(known), GRANTS_PER_QUERY):
        chunk = known[start : start + GRANTS_PER_QUERY]
        rows = session.exec(
            select(RepRow.grant_id, RepRow.org_id).where(col(RepRow.grant_id).in_(chunk))
        )
        found.update((grant, org) for grant, org in rows if grant is not None)
    return found


def reps_for_grants(session: Session, grant_ids: Collection[str]) -> dict[str, Rep]:
    """:func:`rep_for_grant` for many grants in one query, by grant id (unknown ones absent)."""
    if not grant_ids:
        return {}
    rows = session.exec(select(RepRow).where(col(RepRow.grant_id).in_(sorted(grant_ids))))
    return {row.grant_id: to_rep(row) for row in rows if row.grant_id is not None}


def set_provider(session: Session, rep: Rep, provider: str) -> None:
    """Remember the provider of a rep's grant once Nylas has told it."""
    row = session.get(RepRow, (rep.org_id, rep.rep_id))
    if row is not None and row.provider != provider:
        row.provider = provider
        session.add(row)


def put_rep(
    session: Session,
    org_id: str,
    rep_id: str,
    document: RepDocument,
    now: datetime,
    lookback: timedelta = DEFAULT_LOOKBACK,
) -> PutRepResult:
    """Create or replace a rep from the CRM's document; records ``rep.created|updated``.

    A sync-from the CRM leaves out keeps the one already stored (it was derived once from
    the authorisation time and must not move forward on every update).

    Raises:
        StorageConflict: another rep already has the document's grant.
    """
    if document.grant_id is not None:
        holder = session.exec(
            select(RepRow.org_id, RepRow.id).where(
                RepRow.grant_id == document.grant_id,
                (RepRow.org_id != org_id) | (RepRow.id != rep_id),
            )
        ).first()
        if holder is not None:
            # Another organization's rep is not named: its ids are that organization's own.
            held_by = f" by rep {holder[1]!r}" if holder[0] == org_id else ""
            raise StorageConflict(
                "grant_in_use", f"grant {document.grant_id!r} is already connected{held_by}"
            )
    row = session.get(RepRow, (org_id, rep_id))
    created = row is None
    sync_from = document.sync_from or (
        row.sync_from if row is not None else resolve_sync_from(None, None, now, lookback)
    )
    values: dict[str, Any] = {
        "email": document.email,
        "grant_id": document.grant_id,
        "provider": document.provider or (row.provider if row is not None else None),
        "email_sync_enabled": document.email_sync_enabled,
        "folders": list(document.folders.names),
        "calendar_sync_enabled": document.calendar_sync_enabled,
        "calendar_name": document.calendar_name,
        "calendar_days_after": document.calendar_days_after,
        "sync_from": sync_from,
    }
    if row is None:
        row = RepRow(
            org_id=org_id,
            id=rep_id,
            account_status=status_for_new_grant(document.grant_id).value,
            created_at=now,
            updated_at=now,
            **values,
        )
    else:
        if all(getattr(row, key) == value for key, value in values.items()):
            return PutRepResult(to_rep(row), created=False, changed=False)
        if row.grant_id != document.grant_id:
            row.account_status = status_for_new_grant(document.grant_id).value
        for key, value in values.items():
            setattr(row, key, value)
        row.version += 1
        row.updated_at = now
    session.add(row)
    session.flush()
    rep = to_rep(row)
    append_change(
        session,
        org_id=org_id,
        change_type="rep.created" if created else "rep.updated",
        entity="rep",
        entity_id=rep_id,
        rep_id=rep_id,
        operation="create" if created else "update",
        entity_version=row.version,
        payload=rep.to_json(),
        now=now,
    )
    return PutRepResult(rep, created=created, changed=True)


def to_rep(row: RepRow) -> Rep:
    return Rep(
        org_id=row.org_id,
        rep_id=row.id,
        email=row.email,
        grant_id=row.grant_id,
        provider=row.provider,
        email_sync_enabled=row.email_sync_enabled,
        folders=FolderSelection(tuple(row.folders)),
        calendar_sync_enabled=row.calendar_sync_enabled,
        calendar_name=row.calendar_name,
        calendar_days_after=row.calendar_days_after,
        sync_from=row.sync_from,
        account_status=row.account_status,
        connected_at=row.connected_at,
        status_changed_at=row.status_changed_at,
        last_activity_at=row.last_activity_at,
    )
