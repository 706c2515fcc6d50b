"""Emails the CRM sends through crmsync (E9): stored at once, sent by a worker, tracked.

The email is stored as system-generated, linked to its contacts, with ``email.stored``, in
the request's transaction, before anything is sent: the CRM sees it at once, and a crash can
only delay the send. The send key is unique per rep, so a retried request finds the email
it already made. Once Nylas accepts it, the email gets its message id; the copy Nylas later
reports from the Sent folder carries the send key in its metadata and lands on this row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from domain.contacts import match_contacts
from domain.messages import MailMessage, Participant
from domain.reps import Rep
from domain.sending import DeliveryEvent, SendRequest, next_delivery_state
from storage.contacts import contacts_for_addresses
from storage.email_changes import new_email_version, record_email_change
from storage.email_reads import SOURCE_SYSTEM, find_email
from storage.tables import EmailContactRow, EmailRow
from storage.upsert import insert_ignore


def queue_send(
    session: Session, rep: Rep, request: SendRequest, now: datetime
) -> tuple[EmailRow, bool]:
    """Store the email to send, queued; returns it and whether it is new (False: the send key
    was used before, and the email it made is returned unchanged)."""
    message = _as_message(rep, request)
    inserted = insert_ignore(
        session,
        EmailRow.__table__,  # type: ignore[attr-defined]
        {
            "org_id": rep.org_id,
            "rep_id": rep.rep_id,
            "grant_id": rep.grant_id,
            "message_id": None,
            "thread_id": None,
            "subject": request.subject,
            "snippet": request.body[:200],
            "body": request.body,
            "sender": [p.to_json() for p in message.sender],
            "to": [p.to_json() for p in request.to],
            "cc": [p.to_json() for p in request.cc],
            "bcc": [p.to_json() for p in request.bcc],
            "date": now,
            "folder_ids": [],
            "folder_names": [],
            "unread": False,
            "starred": False,
            "attachments": [],
            "source": SOURCE_SYSTEM,
            "hidden": False,
            # No mailbox state seen yet: the Sent copy's, whenever it comes, is newer.
            "observed_at": None,
            "send_key": request.send_key,
            "reply_to_message_id": request.reply_to_message_id,
            "crm_reference": dict(request.reference),
            "delivery_state": "queued",
            "version": 1,
            "created_at": now,
            "updated_at": now,
        },
        ["org_id", "rep_id", "send_key"],
    )
    row = find_send(session, rep.org_id, rep.rep_id, request.send_key)
    assert row is not None
    assert row.id is not None
    if not inserted:
        return row, False
    indexed = contacts_for_addresses(session, rep.org_id, rep.rep_id, request.matching_addresses())
    by_id = {i.contact.crm_contact_id: i for i in indexed}
    for match in match_contacts(message, rep.rep_id, [i.contact for i in indexed]):
        session.add(
            EmailContactRow(
                email_id=row.id,
                contact_id=by_id[match.crm_contact_id].key,
                roles=sorted(r.value for r in match.roles),
            )
        )
    session.flush()
    record_email_change(session, row, "email.stored", "create", now)
    return row, True


def find_send(
    session: Session, org_id: str, rep_id: str, send_key: str, *, for_update: bool = False
) -> EmailRow | None:
    query = select(EmailRow).where(
        EmailRow.org_id == org_id, EmailRow.rep_id == rep_id, EmailRow.send_key == send_key
    )
    if for_update:
        query = query.with_for_update()
    return session.exec(query).first()


def sends_to_queue(session: Session, stale_before: datetime) -> list[int]:
    """Queued sends never handed to the queue, or handed long ago and still not sent."""
    query = (
        select(EmailRow.id)
        .where(
            EmailRow.delivery_state == "queued",
            (col(EmailRow.queued_at).is_(None)) | (col(EmailRow.queued_at) < stale_before),
        )
        .order_by(col(EmailRow.id))
        .limit(100)
        .with_for_update(skip_locked=True)
    )
    return [email_id for email_id in session.exec(query) if email_id is not None]


def mark_sends_queued(session: Session, email_ids: Sequence[int], now: datetime) -> None:
    if email_ids:
        session.execute(
            update(EmailRow).where(col(EmailRow.id).in_(email_ids)).values(queued_at=now)
        )


def record_sent(session: Session, row: EmailRow, sent: Mapping[str, Any], now: datetime) -> None:
    """Nylas accepted the email: give it the message's id, thread and date."""
    state = next_delivery_state(row.delivery_state, DeliveryEvent.ACCEPTED)
    message_id = sent.get("id")
    if isinstance(message_id, str) and row.message_id is None:
        taken = find_email(session, row.org_id, row.rep_id, message_id)
        if taken is None:  # else the Sent copy was stored on its own first; keep both apart
            row.message_id = message_id
    thread_id = sent.get("thread_id")
    row.thread_id = thread_id if isinstance(thread_id, str) else row.thread_id
    date = sent.get("date")
    if isinstance(date, int) and not isinstance(date, bool):
        row.date = datetime.fromtimestamp(date, row.date.tzinfo)
    if state is not None:
        row.delivery_state = state.value
    row.delivery_error = None
    new_email_version(session, row, "email.updated", now, changed=["delivery", "message_id"])


def record_delivery_event(
    session: Session, row: EmailRow, event: DeliveryEvent, now: datetime, error: str | None
) -> bool:
    """Apply a send outcome (refused, failed, bounced...); False when it changes nothing."""
    state = next_delivery_state(row.delivery_state, event)
    if state is None or (state.value == row.delivery_state and error == row.delivery_error):
        return False
    row.delivery_state = state.value
    row.delivery_error = error
    new_email_version(session, row, "email.updated", now, changed=["delivery"])
    return True


def attach_sent_copy(session: Session, rep: Rep, send_key: str, message_id: str) -> bool:
    """The Sent folder's copy of a send arrived before the send recorded its id: give the
    email that id, so the copy updates it instead of making a second email."""
    row = find_send(session, rep.org_id, rep.rep_id, send_key, for_update=True)
    if row is None or row.message_id is not None:
        return False
    row.message_id = message_id
    if row.delivery_state == "queued":
        row.delivery_state = "sent"
    session.add(row)
    session.flush()
    return True


def _as_message(rep: Rep, request: SendRequest) -> MailMessage:
    """The request as a message from the rep, for contact matching."""
    return MailMessage(
        message_id="",
        grant_id=rep.grant_id,
        thread_id=None,
        subject=request.subject,
        snippet="",
        body=None,
        sender=(Participant(email=rep.email),),
        to=request.to,
        cc=request.cc,
        bcc=request.bcc,
        date=None,
        folder_ids=(),
        unread=None,
        starred=None,
        attachments=(),
    )
