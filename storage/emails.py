"""Emails stored for reps (E4, E6, E7): one row per (rep, message), each write a change.

Writes are idempotent on the unique (rep, message) key: a second store of the same message,
by a duplicate, a replay or a concurrent worker, inserts nothing and is turned into an
update by the caller. Updates change only the mailbox state; the hidden flag belongs to
the CRM and no mailbox update ever clears it.

This module only writes: finding and listing emails is ``storage.email_reads``'s, and the
email's shape in the API and in its changes is ``storage.email_changes``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, insert
from sqlmodel import Session

from domain import answers
from domain.contacts import ContactMatch
from domain.email_rules import EmailUpdate, StoredMailboxState
from domain.messages import MailMessage
from storage.changes import Change, append_changes
from storage.contacts import IndexedContact
from storage.email_changes import email_change, new_email_version
from storage.email_reads import SOURCE_SYNCED
from storage.tables import EmailContactRow, EmailRow
from storage.upsert import insert_ignore_rows

_EMAILS: Table = EmailRow.__table__  # type: ignore[attr-defined]
_EMAIL_CONTACTS: Table = EmailContactRow.__table__  # type: ignore[attr-defined]


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
        changes.append(email_change(row, contacts, "email.stored", "create"))
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
    """A linked contact as :func:`storage.email_reads.email_contacts` reads it back."""
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
