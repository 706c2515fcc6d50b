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
from typing import Any, cast

from sqlalchemy import Table, func, insert
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from domain import answers
from domain.answers import DeliveryStateName
from domain.contacts import ContactMatch
from domain.email_rules import EmailUpdate, StoredMailboxState
from domain.messages import MailMessage
from domain.times import format_time
from storage.changes import Change, append_changes
from storage.contacts import IndexedContact
from storage.tables import ContactRow, EmailContactRow, EmailRow
from storage.upsert import insert_ignore_rows

SOURCE_SYNCED = "synced"
SOURCE_SYSTEM = "system"

_EMAILS: Table = EmailRow.__table__  # type: ignore[attr-defined]
_EMAIL_CONTACTS: Table = EmailContactRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class EmailPageKey:
    """Where a newest-first page of emails stops: the last email's date and id."""

    date: datetime
    email_id: int


def find_email(
    session: Session, org_id: str, rep_id: str, message_id: str, *, for_update: bool = False
) -> EmailRow | None:
    """The rep's email of ``message_id``; ``for_update`` locks its row until the transaction
    ends, so concurrent updates of one email apply one after the other, none lost."""
    query = select(EmailRow).where(
        EmailRow.org_id == org_id, EmailRow.rep_id == rep_id, EmailRow.message_id == message_id
    )
    if for_update:
        query = query.with_for_update()
    return session.exec(query).first()


def find_emails(
    session: Session,
    org_id: str,
    rep_id: str,
    message_ids: Collection[str],
    *,
    for_update: bool = False,
) -> dict[str, EmailRow]:
    """:func:`find_email` for a page of messages in one query, by message id.

    Locked in message-id order, so two transactions locking overlapping pages take the
    locks in the same order and never wait on each other in a cycle.
    """
    if not message_ids:
        return {}
    query = (
        select(EmailRow)
        .where(
            EmailRow.org_id == org_id,
            EmailRow.rep_id == rep_id,
            col(EmailRow.message_id).in_(sorted(message_ids)),
        )
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


@dataclass(frozen=True, slots=True)
class NewEmail:
    """A message to store as a new email, with the contacts it touches (E4, E5)."""

    message: MailMessage
    folder_names: Sequence[str]
    contacts: Sequence[tuple[IndexedContact, ContactMatch]]
    observed_at: datetime


def store_email(
    session: Session,
    *,
    org_id: str,
    rep_id: str,
    message: MailMessage,
    folder_names: Sequence[str],
    contacts: Sequence[tuple[IndexedContact, ContactMatch]],
    observed_at: datetime,
    now: datetime,
) -> EmailRow | None:
    """:func:`store_emails` for one message: its row, or None when the rep already has it."""
    stored = store_emails(
        session, org_id, rep_id, [NewEmail(message, folder_names, contacts, observed_at)], now
    )
    return stored.get(message.message_id)


def store_emails(
    session: Session, org_id: str, rep_id: str, emails: Sequence[NewEmail], now: datetime
) -> dict[str, EmailRow]:
    """Insert the emails, their contact links and their ``email.stored`` changes, three
    statements whatever their number; the rows inserted, by message id.

    A message the rep already has (stored by a duplicate, a replay or a concurrent worker)
    is left out of the result, writing nothing: the caller turns it into an update. The
    message ids must be distinct. Rows are inserted in message-id order, so two
    transactions inserting overlapping sets wait on each other's keys in the same order.
    The changes' payloads are built from what was inserted, not read back.
    """
    by_message = {email.message.message_id: email for email in emails}
    if len(by_message) != len(emails):
        raise ValueError("store_emails takes each message once")
    values = [_new_row_values(org_id, rep_id, by_message[m], now) for m in sorted(by_message)]
    inserted = insert_ignore_rows(
        session,
        _EMAILS,
        values,
        ["org_id", "rep_id", "message_id"],
        returning=["id", "message_id"],
    )
    ids: dict[str, int] = {row.message_id: row.id for row in inserted}
    rows: dict[str, EmailRow] = {}
    links: list[dict[str, Any]] = []
    changes: list[Change] = []
    for row_values in values:
        message_id = row_values["message_id"]
        if message_id not in ids:
            continue
        row = EmailRow(**row_values, id=ids[message_id])
        email = by_message[message_id]
        links.extend(
            {"email_id": row.id, "contact_id": indexed.key, "roles": _roles(match)}
            for indexed, match in email.contacts
        )
        contacts = sorted(
            (_contact_json(indexed, match) for indexed, match in email.contacts),
            key=lambda contact: contact["id"],
        )
        changes.append(_email_change(row, contacts, "email.stored", "create"))
        rows[message_id] = row
    if links:
        session.execute(insert(_EMAIL_CONTACTS), links)
    append_changes(session, changes, now)
    return rows


def _new_row_values(org_id: str, rep_id: str, email: NewEmail, now: datetime) -> dict[str, Any]:
    message = email.message
    assert message.date is not None
    return {
        "org_id": org_id,
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
        "folder_names": list(email.folder_names),
        "unread": message.unread,
        "starred": message.starred,
        "attachments": [a.to_json() for a in message.attachments],
        "source": SOURCE_SYNCED,
        "hidden": False,
        "observed_at": email.observed_at,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


def _roles(match: ContactMatch) -> list[answers.HeaderRoleName]:
    return sorted(role.value for role in match.roles)


def _contact_json(indexed: IndexedContact, match: ContactMatch) -> answers.EmailContact:
    """A linked contact as :func:`email_contacts` reads it back."""
    contact = indexed.contact
    return {
        "id": contact.crm_contact_id,
        "account_ref": contact.account_ref,
        "lead_ref": contact.lead_ref,
        "roles": _roles(match),
    }


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
    org_id: str,
    rep_id: str | None,
    crm_contact_id: str | None,
    account_ref: str | None,
    include_hidden: bool,
    after: EmailPageKey | None,
    limit: int,
) -> list[EmailRow]:
    """The organization's emails newest first, filtered by rep, contact or account, from
    just after ``after``."""
    query = select(EmailRow).where(EmailRow.org_id == org_id)
    if crm_contact_id is not None or account_ref is not None:
        linked = (
            select(EmailContactRow.email_id)
            .join(ContactRow, col(ContactRow.id) == col(EmailContactRow.contact_id))
            .where(ContactRow.org_id == org_id)
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
    session: Session, org_id: str, rep_id: str, start: datetime, end: datetime
) -> dict[str, int]:
    """E10: the rep's emails dated in [start, end), by source; hidden emails not counted."""
    rows = session.exec(
        select(EmailRow.source, func.count())
        .where(
            EmailRow.org_id == org_id,
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


def email_contacts(
    session: Session, email_ids: Sequence[int]
) -> dict[int, list[answers.EmailContact]]:
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
    found: dict[int, list[answers.EmailContact]] = {}
    for email_id, crm_contact_id, account_ref, lead_ref, roles in rows:
        found.setdefault(email_id, []).append(
            {"id": crm_contact_id, "account_ref": account_ref, "lead_ref": lead_ref, "roles": roles}
        )
    return found


def email_json(
    row: EmailRow, contacts: list[answers.EmailContact], *, include_body: bool
) -> answers.Email:
    """An email as the API shows it; changes carry it without the body.

    Its JSON columns (participants, attachments, the CRM's reference) were written from the
    same shapes when the email was stored; they are read back as those shapes.
    """
    assert row.id is not None, "an email is shown once it is stored"
    document: answers.Email = {
        "id": row.id,
        "rep_id": row.rep_id,
        "message_id": row.message_id,
        "grant_id": row.grant_id,
        "thread_id": row.thread_id,
        "source": cast(answers.EmailSource, row.source),
        "subject": row.subject,
        "snippet": row.snippet,
        "from": cast(list[answers.EmailAddress], row.sender),
        "to": cast(list[answers.EmailAddress], row.to),
        "cc": cast(list[answers.EmailAddress], row.cc),
        "bcc": cast(list[answers.EmailAddress], row.bcc),
        "date": format_time(row.date),
        "folders": row.folder_names,
        "folder_ids": row.folder_ids,
        "unread": row.unread,
        "starred": row.starred,
        "attachments": cast(list[answers.Attachment], row.attachments),
        "contacts": contacts,
        "hidden": row.hidden,
        "mailbox_deleted": row.mailbox_deleted_at is not None,
        "delivery": (
            {
                "state": cast(DeliveryStateName, row.delivery_state),
                "error": row.delivery_error,
                "send_key": row.send_key,
                "reference": cast(dict[str, str], row.crm_reference or {}),
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
    contacts = email_contacts(session, [row.id]).get(row.id, [])
    append_changes(session, [_email_change(row, contacts, change_type, operation, changed)], now)


def _email_change(
    row: EmailRow,
    contacts: list[answers.EmailContact],
    change_type: str,
    operation: str,
    changed: list[str] | None = None,
) -> Change:
    assert row.id is not None
    payload: dict[str, Any] = {**email_json(row, contacts, include_body=False)}
    if changed is not None:
        payload["changed"] = changed
    return Change(
        org_id=row.org_id,
        change_type=change_type,
        entity="email",
        entity_id=str(row.id),
        rep_id=row.rep_id,
        operation=operation,
        entity_version=row.version,
        payload=payload,
    )
