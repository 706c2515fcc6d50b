"""Emails stored for reps (E4, E6, E7): one row per (rep, message), each write a change.

Writes are idempotent on the unique (rep, message) key: a second store of the same message,
by a duplicate, a replay or a concurrent worker, inserts nothing and is turned into an
update by the caller. Updates change only the mailbox state; the hidden flag belongs to
the CRM and no mailbox update ever clears it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from domain.contacts import ContactMatch
from domain.email_rules import EmailUpdate, StoredMailboxState
from domain.messages import MailMessage
from domain.times import format_time
from storage.changes import append_change
from storage.contacts import IndexedContact
from storage.tables import ContactRow, EmailContactRow, EmailRow
from storage.upsert import insert_ignore

SOURCE_SYNCED = "synced"
SOURCE_SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class EmailPageKey:
    """Where a newest-first page of emails stops: the last email's date and id."""

    date: datetime
    email_id: int


def find_email(
    session: Session, rep_id: str, message_id: str, *, for_update: bool = False
) -> EmailRow | None:
    """The rep's email of ``message_id``; ``for_update`` locks its row until the transaction
    ends, so concurrent updates of one email apply one after the other, none lost."""
    query = select(EmailRow).where(EmailRow.rep_id == rep_id, EmailRow.message_id == message_id)
    if for_update:
        query = query.with_for_update()
    return session.exec(query).first()


def find_emails(
    session: Session, rep_id: str, message_ids: Collection[str], *, for_update: bool = False
) -> dict[str, EmailRow]:
    """:func:`find_email` for a page of messages in one query, by message id.

    Locked in message-id order, so two transactions locking overlapping pages take the
    locks in the same order and never wait on each other in a cycle.
    """
    if not message_ids:
        return {}
    query = (
        select(EmailRow)
        .where(EmailRow.rep_id == rep_id, col(EmailRow.message_id).in_(sorted(message_ids)))
        .order_by(col(EmailRow.message_id))
    )
    if for_update:
        query = query.with_for_update()
    return {row.message_id: row for row in session.exec(query) if row.message_id is not None}


def mailbox_state(row: EmailRow) -> StoredMailboxState:
    return StoredMailboxState(
        folder_ids=tuple(row.folder_ids),
        unread=row.unread,
        starred=row.starred,
        has_body=row.body is not None,
        observed_at=row.observed_at,
    )


def store_email(
    session: Session,
    *,
    rep_id: str,
    message: MailMessage,
    folder_names: Sequence[str],
    contacts: Sequence[tuple[IndexedContact, ContactMatch]],
    observed_at: datetime,
    now: datetime,
) -> EmailRow | None:
    """Insert the email and its contact links, and record ``email.stored``.

    Returns None, writing nothing, when the rep already has this message.
    """
    assert message.date is not None
    inserted = insert_ignore(
        session,
        EmailRow.__table__,  # type: ignore[attr-defined]
        {
            "rep_id": rep_id,
            "grant_id": message.grant_id,
            "message_id": message.message_id,
            "thread_id": message.thread_id,
            "subject": message.subject,
            "snippet": message.snippet,
            "body": message.body,
            "sender": [p.to_json() for p in message.sender],
            "to": [p.to_json() for p in message.to],
            "cc": [p.to_json() for p in message.cc],
            "bcc": [p.to_json() for p in message.bcc],
            "date": message.date,
            "folder_ids": list(message.folder_ids),
            "folder_names": list(folder_names),
            "unread": message.unread,
            "starred": message.starred,
            "attachments": [a.to_json() for a in message.attachments],
            "source": SOURCE_SYNCED,
            "hidden": False,
            "observed_at": observed_at,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        },
        ["rep_id", "message_id"],
    )
    if not inserted:
        return None
    row = find_email(session, rep_id, message.message_id)
    assert row is not None
    assert row.id is not None
    for indexed, match in contacts:
        session.add(
            EmailContactRow(
                email_id=row.id, contact_id=indexed.key, roles=sorted(r.value for r in match.roles)
            )
        )
    session.flush()
    record_email_change(session, row, "email.stored", "create", now)
    return row


def update_email(
    session: Session,
    row: EmailRow,
    update: EmailUpdate,
    *,
    folder_names: Sequence[str] | None,
    observed_at: datetime,
    now: datetime,
) -> bool:
    """Apply a planned mailbox update; records ``email.updated``. False if nothing changed."""
    if not update:
        if row.observed_at is None or observed_at > row.observed_at:
            row.observed_at = observed_at
            session.add(row)
        return False
    for column, value in update.changes.items():
        setattr(row, column, value)
    if "folder_ids" in update.changes and folder_names is not None:
        row.folder_names = list(folder_names)
    row.observed_at = observed_at
    new_email_version(session, row, "email.updated", now, changed=sorted(update.changes))
    return True


def mark_mailbox_deleted(session: Session, row: EmailRow, now: datetime) -> bool:
    """Note that the message was deleted from the mailbox; the CRM keeps its email."""
    if row.mailbox_deleted_at is not None:
        return False
    row.mailbox_deleted_at = now
    new_email_version(session, row, "email.mailbox_deleted", now)
    return True


def hide_email(session: Session, row: EmailRow, now: datetime) -> bool:
    """Hide an email in the CRM (E7), never in the mailbox. False if already hidden."""
    if row.hidden:
        return False
    row.hidden = True
    row.hidden_at = now
    new_email_version(session, row, "email.hidden", now)
    return True


def get_email(session: Session, email_id: int, *, for_update: bool = False) -> EmailRow | None:
    """The email ``email_id``; ``for_update`` as in :func:`find_email`."""
    return session.get(EmailRow, email_id, with_for_update=for_update)


def list_emails(
    session: Session,
    *,
    rep_id: str | None,
    crm_contact_id: str | None,
    account_ref: str | None,
    include_hidden: bool,
    after: EmailPageKey | None,
    limit: int,
) -> list[EmailRow]:
    """Emails newest first, filtered by rep, contact or account, from just after ``after``."""
    query = select(EmailRow)
    if crm_contact_id is not None or account_ref is not None:
        linked = select(EmailContactRow.email_id).join(
            ContactRow, col(ContactRow.id) == col(EmailContactRow.contact_id)
        )
        if crm_contact_id is not None:
            linked = linked.where(ContactRow.crm_contact_id == crm_contact_id)
        if account_ref is not None:
            linked = linked.where(ContactRow.account_ref == account_ref)
        if rep_id is not None:
            linked = linked.where(ContactRow.rep_id == rep_id)
        query = query.where(col(EmailRow.id).in_(linked))
    if rep_id is not None:
        query = query.where(EmailRow.rep_id == rep_id)
    if not include_hidden:
        query = query.where(col(EmailRow.hidden).is_(False))
    if after is not None:
        query = query.where(
            (col(EmailRow.date) < after.date)
            | ((col(EmailRow.date) == after.date) & (col(EmailRow.id) < after.email_id))
        )
    query = query.order_by(col(EmailRow.date).desc(), col(EmailRow.id).desc()).limit(limit)
    return list(session.exec(query))


def activity_counts(
    session: Session, rep_id: str, start: datetime, end: datetime
) -> dict[str, int]:
    """E10: the rep's emails dated in [start, end), by source; hidden emails not counted."""
    rows = session.exec(
        select(EmailRow.source, func.count())
        .where(
            EmailRow.rep_id == rep_id,
            col(EmailRow.hidden).is_(False),
            col(EmailRow.date) >= start,
            col(EmailRow.date) < end,
        )
        .group_by(col(EmailRow.source))
    ).all()
    counts = {SOURCE_SYNCED: 0, SOURCE_SYSTEM: 0}
    counts.update({source: count for source, count in rows})
    return counts


def email_contacts(session: Session, email_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """The contacts linked to each of ``email_ids``, as the API shows them."""
    if not email_ids:
        return {}
    rows = session.execute(
        sa_select(
            col(EmailContactRow.email_id),
            col(ContactRow.crm_contact_id),
            col(ContactRow.account_ref),
            col(ContactRow.lead_ref),
            col(EmailContactRow.roles),
        )
        .join(ContactRow, col(ContactRow.id) == col(EmailContactRow.contact_id))
        .where(col(EmailContactRow.email_id).in_(email_ids))
        .order_by(col(ContactRow.crm_contact_id))
    ).all()
    found: dict[int, list[dict[str, Any]]] = {}
    for email_id, crm_contact_id, account_ref, lead_ref, roles in rows:
        found.setdefault(email_id, []).append(
            {"id": crm_contact_id, "account_ref": account_ref, "lead_ref": lead_ref, "roles": roles}
        )
    return found


def email_json(
    row: EmailRow, contacts: list[dict[str, Any]], *, include_body: bool
) -> dict[str, Any]:
    """An email as the API shows it; changes carry it without the body."""
    document: dict[str, Any] = {
        "id": row.id,
        "rep_id": row.rep_id,
        "message_id": row.message_id,
        "grant_id": row.grant_id,
        "thread_id": row.thread_id,
        "source": row.source,
        "subject": row.subject,
        "snippet": row.snippet,
        "from": row.sender,
        "to": row.to,
        "cc": row.cc,
        "bcc": row.bcc,
        "date": format_time(row.date),
        "folders": row.folder_names,
        "folder_ids": row.folder_ids,
        "unread": row.unread,
        "starred": row.starred,
        "attachments": row.attachments,
        "contacts": contacts,
        "hidden": row.hidden,
        "mailbox_deleted": row.mailbox_deleted_at is not None,
        "delivery": (
            {
                "state": row.delivery_state,
                "error": row.delivery_error,
                "send_key": row.send_key,
                "reference": row.crm_reference or {},
            }
            if row.send_key is not None
            else None
        ),
        "version": row.version,
        "created_at": format_time(row.created_at),
        "updated_at": format_time(row.updated_at),
    }
    if include_body:
        document["body"] = row.body
    return document


def new_email_version(
    session: Session,
    row: EmailRow,
    change_type: str,
    now: datetime,
    changed: list[str] | None = None,
) -> None:
    """Write the row's changes as its next version, with the change that says so."""
    row.version += 1
    row.updated_at = now
    session.add(row)
    session.flush()
    record_email_change(session, row, change_type, "update", now, changed)


def record_email_change(
    session: Session,
    row: EmailRow,
    change_type: str,
    operation: str,
    now: datetime,
    changed: list[str] | None = None,
) -> None:
    assert row.id is not None
    payload = email_json(row, email_contacts(session, [row.id]).get(row.id, []), include_body=False)
    if changed is not None:
        payload["changed"] = changed
    append_change(
        session,
        change_type=change_type,
        entity="email",
        entity_id=str(row.id),
        rep_id=row.rep_id,
        operation=operation,
        entity_version=row.version,
        payload=payload,
        now=now,
    )
