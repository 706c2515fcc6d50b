"""An email as the API shows it, and the change that records each version of it.

Every write of an email, a message stored or updated by the workers (``storage.emails``) or
an email the CRM sends (``storage.sends``), ends the same way: the row's next version and an
``email.*`` change in the same transaction, carrying the email as the API shows it without
its body. One module builds both, so the change feed and the API never describe an email
two ways.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlmodel import Session

from domain import answers
from domain.answers import DeliveryStateName
from domain.times import format_time
from storage.changes import Change, append_changes
from storage.email_reads import email_contacts
from storage.tables import EmailRow


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
    append_changes(session, [email_change(row, contacts, change_type, operation, changed)], now)


def email_change(
    row: EmailRow,
    contacts: list[answers.EmailContact],
    change_type: str,
    operation: str,
    changed: list[str] | None = None,
) -> Change:
    """The change recording the row's version: the email without its body, and the columns
    that changed when an update names them."""
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
