"""Reading stored emails: a rep's email by its message or id (locked when a write
follows), the organization's emails newest first, a rep's activity counts, and the contacts
each email is linked to.

The API's lists and the workers' lookups read emails without writing them, and every writer
finds its email here first, so reading stands apart from writing (``storage.emails``) and
from how an email is shown (``storage.email_changes``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from domain import answers
from storage.tables import ContactRow, EmailContactRow, EmailRow

SOURCE_SYNCED = "synced"
SOURCE_SYSTEM = "system"


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
