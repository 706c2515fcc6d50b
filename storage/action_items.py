"""Action items and their calendar link: the state last-writer-wins reconciles (C1-C5).

Every write goes through :func:`domain.calendar_sync.reconcile` and records its change in
the same transaction. A change that must reach the calendar marks the item ``pending``; the
dispatcher queues pending items to the push actor, so a crash between the CRM's write and
the queue loses nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from domain import answers
from domain.action_items import ActionItemDocument, AllDay, ItemContent, Timespan, When
from domain.calendar_sync import (
    Change,
    CrmDelete,
    CrmEdit,
    Effect,
    Reconciled,
    Side,
    SyncState,
    VersionKey,
    reconcile,
)
from domain.times import format_time, parse_rfc3339
from storage.changes import append_change
from storage.tables import ActionItemRow

IDLE = "idle"
PENDING = "pending"
FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ItemWrite:
    row: ActionItemRow
    created: bool
    effect: Effect


def find_item(
    session: Session, org_id: str, rep_id: str, crm_item_id: str, *, for_update: bool = False
) -> ActionItemRow | None:
    query = select(ActionItemRow).where(
        ActionItemRow.org_id == org_id,
        ActionItemRow.rep_id == rep_id,
        ActionItemRow.crm_item_id == crm_item_id,
    )
    if for_update:
        query = query.with_for_update()
    return session.exec(query).first()


def item_for_event(
    session: Session, org_id: str, rep_id: str, event_id: str, *, for_update: bool = False
) -> ActionItemRow | None:
    """The item linked to ``event_id`` (``for_update``: locked for the update that follows)."""
    query = select(ActionItemRow).where(
        ActionItemRow.org_id == org_id,
        ActionItemRow.rep_id == rep_id,
        ActionItemRow.event_id == event_id,
    )
    if for_update:
        query = query.with_for_update()
    return session.exec(query).first()


def list_items(
    session: Session, org_id: str, rep_id: str, *, after: str | None, limit: int
) -> list[ActionItemRow]:
    query = select(ActionItemRow).where(
        ActionItemRow.org_id == org_id, ActionItemRow.rep_id == rep_id
    )
    if after is not None:
        query = query.where(ActionItemRow.crm_item_id > after)
    return list(session.exec(query.order_by(col(ActionItemRow.crm_item_id)).limit(limit)))


def put_item(
    session: Session,
    org_id: str,
    rep_id: str,
    crm_item_id: str,
    document: ActionItemDocument,
    now: datetime,
) -> ItemWrite:
    """Create or update an item from the CRM (a CRM edit at ``document.changed_at``)."""
    row = find_item(session, org_id, rep_id, crm_item_id, for_update=True)
    created = row is None
    if row is None:
        row = ActionItemRow(
            org_id=org_id,
            rep_id=rep_id,
            crm_item_id=crm_item_id,
            content=document.content.to_json(),
            version_at=document.changed_at,
            version_side=int(Side.CRM),
            version_digest=document.content.digest(),
            sync_enabled=document.sync,
            notify_participants=document.notify_participants,
            push_state=PENDING,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        _record(session, row, "action_item.created", "create", now, source="crm")
        return ItemWrite(row, True, Effect.PUSH)
    result = apply_change(session, row, CrmEdit(document.changed_at, document.content))
    flags_changed = (row.sync_enabled, row.notify_participants) != (
        document.sync,
        document.notify_participants,
    )
    if result.effect is not Effect.IGNORE or flags_changed:
        row.sync_enabled = document.sync
        row.notify_participants = document.notify_participants
        if result.effect is Effect.PUSH or flags_changed:
            mark_pending(row)
        _new_version(session, row, "action_item.updated", now, source="crm")
    return ItemWrite(row, created, result.effect)


def delete_item(session: Session, row: ActionItemRow, at: datetime, now: datetime) -> Effect:
    """The CRM deleted the item: the item is kept, marked, and its event goes."""
    result = apply_change(session, row, CrmDelete(at))
    if result.effect is Effect.DELETE_EVENT:
        if row.event_id is not None:
            mark_pending(row)
        _new_version(session, row, "action_item.deleted", now, operation="delete", source="crm")
    return result.effect


def apply_change(session: Session, row: ActionItemRow, change: Change) -> Reconciled:
    """Reconcile ``change`` into the row's sync state (content, version, deletions)."""
    result = reconcile(sync_state(row), change)
    state = result.state
    row.content = state.content.to_json()
    row.version_at = state.version.at
    row.version_side = int(state.version.side)
    row.version_digest = state.version.digest
    row.deleted_in_calendar_at = state.deleted_in_calendar_at
    if state.deleted_in_crm and row.deleted_in_crm_at is None:
        row.deleted_in_crm_at = change.at
    session.add(row)
    return result


def record_calendar_effect(
    session: Session, row: ActionItemRow, effect: Effect, now: datetime
) -> None:
    """Save what a calendar notification did to the item, with its change."""
    if effect is Effect.APPLY_TO_CRM:
        _new_version(session, row, "action_item.updated", now, source="calendar")
    elif effect is Effect.UNLINK:
        _new_version(session, row, "action_item.unlinked", now, source="calendar")
    elif effect is Effect.PUSH:
        mark_pending(row)
        session.add(row)


def mark_pending(row: ActionItemRow) -> None:
    """The calendar must be written: the dispatcher will queue the push."""
    row.push_state = PENDING
    row.push_queued_at = None


def record_push(
    session: Session,
    row: ActionItemRow,
    *,
    event_id: str | None,
    calendar_id: str | None,
    written_digest: str | None,
    written_updated_at: datetime | None,
    now: datetime,
) -> None:
    """Save what the push wrote; a first link (or a new event) records ``action_item.linked``."""
    linked = event_id is not None and event_id != row.event_id
    row.event_id = event_id
    row.calendar_id = calendar_id
    row.written_digest = written_digest
    row.written_updated_at = written_updated_at
    row.push_state = IDLE
    row.push_queued_at = None
    row.last_pushed_at = now
    row.last_push_error = None
    session.add(row)
    if linked:
        _new_version(session, row, "action_item.linked", now, source="calendar")


def pushes_to_queue(session: Session, requeue_before: datetime, limit: int = 500) -> list[int]:
    """Pending items never queued, or queued before ``requeue_before`` without a recorded
    failure (their message was lost); the caller marks them queued in its transaction."""
    query = (
        select(ActionItemRow)
        .where(ActionItemRow.push_state == PENDING)
        .where(
            col(ActionItemRow.push_queued_at).is_(None)
            | (
                (col(ActionItemRow.push_queued_at) < requeue_before)
                # a failing push is retried by the queue, then kept as a dead letter
                & col(ActionItemRow.last_push_error).is_(None)
            )
        )
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [row.id for row in session.exec(query) if row.id is not None]


def mark_queued(session: Session, item_ids: Sequence[int], now: datetime) -> None:
    for row in session.exec(select(ActionItemRow).where(col(ActionItemRow.id).in_(item_ids))):
        row.push_queued_at = now
        session.add(row)


def sync_state(row: ActionItemRow) -> SyncState:
    return SyncState(
        content=content_from_json(row.content),
        version=VersionKey(row.version_at, Side(row.version_side), row.version_digest),
        deleted_in_calendar_at=row.deleted_in_calendar_at,
        deleted_in_crm=row.deleted_in_crm_at is not None,
    )


def content_from_json(document: dict[str, Any]) -> ItemContent:
    when_doc = document["when"]
    when: When
    if when_doc.get("all_day"):
        when = AllDay(
            date.fromisoformat(when_doc["start_date"]), date.fromisoformat(when_doc["end_date"])
        )
    else:
        start, end = parse_rfc3339(when_doc["start"]), parse_rfc3339(when_doc["end"])
        assert start is not None
        assert end is not None
        when = Timespan(start, end, when_doc.get("timezone"))
    return ItemContent(
        title=document["title"],
        description=document["description"],
        location=document["location"],
        when=when,
        participants=tuple(document["participants"]),
    )


def sync_status(row: ActionItemRow) -> answers.CalendarSyncStatus:
    """Where the item stands with its calendar, in a word."""
    if row.deleted_in_crm_at is not None:
        return "deleted" if row.event_id is None else "pending_delete"
    if sync_state(row).unlinked:
        return "unlinked"
    if row.push_state == FAILED:
        return "push_failed"
    if row.push_state == PENDING:
        return "pending_push"
    return "linked" if row.event_id else "not_synced"


def item_json(row: ActionItemRow) -> answers.ActionItem:
    """An action item as the API shows it and its changes carry it."""
    return {
        "id": row.crm_item_id,
        "rep_id": row.rep_id,
        # The content was written by ItemContent.to_json (the same keys, always all).
        "title": row.content["title"],
        "description": row.content["description"],
        "location": row.content["location"],
        "when": row.content["when"],
        "participants": row.content["participants"],
        "sync": row.sync_enabled,
        "notify_participants": row.notify_participants,
        "changed_at": format_time(row.version_at),
        "changed_by": "crm" if row.version_side == Side.CRM else "calendar",
        "deleted": row.deleted_in_crm_at is not None,
        "calendar": {
            "status": sync_status(row),
            "event_id": row.event_id,
            "calendar_id": row.calendar_id,
            "last_pushed_at": format_time(row.last_pushed_at) if row.last_pushed_at else None,
            "last_push_error": row.last_push_error,
            "deleted_in_calendar_at": format_time(row.deleted_in_calendar_at)
            if row.deleted_in_calendar_at
            else None,
        },
        "version": row.version,
    }


def _new_version(
    session: Session,
    row: ActionItemRow,
    change_type: str,
    now: datetime,
    *,
    operation: str = "update",
    source: str,
) -> None:
    row.version += 1
    row.updated_at = now
    session.add(row)
    session.flush()
    _record(session, row, change_type, operation, now, source=source)


def _record(
    session: Session,
    row: ActionItemRow,
    change_type: str,
    operation: str,
    now: datetime,
    *,
    source: str,
) -> None:
    append_change(
        session,
        org_id=row.org_id,
        change_type=change_type,
        entity="action_item",
        entity_id=row.crm_item_id,
        rep_id=row.rep_id,
        operation=operation,
        entity_version=row.version,
        payload={**item_json(row), "source": source},
        now=now,
    )
