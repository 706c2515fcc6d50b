"""Saving a page of one rep's messages (E2, E4, E9, N2): the one place a message becomes a
stored email, whatever brought it (notifications finished together, a backfill's page, a
parked message decided again).

Most of a mailbox matches no contact, and most of what matches is new: those cost the
page's two reads and its one insert of new emails (:func:`storage.emails.store_emails`), not
statements of their own. A message whose folders are not yet known and that would otherwise
be stored is parked (``folder_pending``, ``storage.parked``); every other decision unparks
the message if it was parked and gives its parked notifications that decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from domain.contacts import match_contacts
from domain.email_rules import SkipReason, decide_new_email, plan_email_update
from domain.folders import ResolvedFolders
from domain.messages import MailMessage
from domain.reps import Rep
from storage.contacts import IndexedContact, contacts_by_address
from storage.email_reads import find_email, find_emails
from storage.emails import NewEmail, mailbox_state, store_emails, update_email
from storage.parked import park_messages, settle_parked
from storage.sends import attach_sent_copy
from storage.tables import EmailRow
from workers.context import WorkerContext
from workers.nylas_client import IDEMPOTENCY_METADATA_KEY

PENDING = SkipReason.FOLDER_PENDING.value


@dataclass(frozen=True, slots=True)
class PageEntry:
    """A message to save, with its resolved folders and when its state was observed.

    ``final``: its wait for unknown folders is over (``domain.parking``), so they count as
    folders it is not synced in instead of parking it again.
    """

    message: MailMessage
    folders: ResolvedFolders
    observed_at: datetime
    final: bool = False


@dataclass(frozen=True, slots=True)
class _PageRows:
    """What saving a page reads once for all of its messages: the emails already stored
    (locked, as :func:`find_email` locks one) and the rep's contacts by each address of
    the page (as :func:`contacts_for_addresses` finds them for one message)."""

    emails: dict[str, EmailRow]
    contacts: dict[str, list[IndexedContact]]

    def contacts_for(self, addresses: Iterable[str]) -> list[IndexedContact]:
        """The contacts holding any of ``addresses``, each once."""
        found: dict[int, IndexedContact] = {}
        for address in addresses:
            for indexed in self.contacts.get(address, ()):
                found.setdefault(indexed.key, indexed)
        return list(found.values())


def _read_page(session: Session, rep: Rep, messages: Sequence[MailMessage]) -> _PageRows:
    addresses: set[str] = set()
    for message in messages:
        addresses |= message.matching_addresses()
    message_ids = [m.message_id for m in messages]
    return _PageRows(
        emails=find_emails(session, rep.org_id, rep.rep_id, message_ids, for_update=True),
        contacts=contacts_by_address(session, rep.org_id, rep.rep_id, addresses),
    )


def save_page(
    session: Session, context: WorkerContext, rep: Rep, entries: Sequence[PageEntry]
) -> list[str]:
    """:func:`save_pages` for one rep's page."""
    return save_pages(session, context, [(rep, entries)])[0]


def save_pages(
    session: Session, context: WorkerContext, pages: Sequence[tuple[Rep, Sequence[PageEntry]]]
) -> list[list[str]]:
    """Store, update or park the messages of each rep's page in ``session``: one outcome
    per message, in order, page by page.

    The messages decided are unparked in one statement for all the pages (most transactions
    hold no parked message at all; a statement per rep cost the batch a round trip each).
    """
    now = context.clock()
    saved = [_save_one(session, rep, entries, now) for rep, entries in pages]
    decided: dict[tuple[str, str], str] = {}
    for (rep, entries), outcomes in zip(pages, saved, strict=True):
        if rep.grant_id is None:
            continue
        last = {e.message.message_id: (o, e) for e, o in zip(entries, outcomes, strict=True)}
        pending = [(e.message, e.observed_at) for o, e in last.values() if o == PENDING]
        if pending:
            park_messages(session, rep.grant_id, pending, now, context.folder_park_wait)
        for message_id, (outcome, _) in last.items():
            if outcome != PENDING:
                decided[(rep.grant_id, message_id)] = outcome
    settle_parked(session, decided)
    return saved


def _save_one(session: Session, rep: Rep, entries: Sequence[PageEntry], now: datetime) -> list[str]:
    """Store or update a rep's messages, or find them pending: one outcome each, in order.

    Updates of stored emails are written one by one. A message met twice in the page is
    applied in order: its first sight inserted, the next ones applied to the stored email
    afterwards.
    """
    page = _read_page(session, rep, [entry.message for entry in entries])
    outcomes = ["" for _ in entries]
    new: dict[str, tuple[int, NewEmail]] = {}
    again: list[int] = []
    for index, entry in enumerate(entries):
        message = entry.message
        if message.message_id in new:
            again.append(index)
            continue
        row = page.emails.get(message.message_id)
        send_key = message.metadata.get(IDEMPOTENCY_METADATA_KEY)
        if (
            row is None
            and send_key
            and attach_sent_copy(session, rep, send_key, message.message_id)
        ):
            # The Sent folder's copy of an email the CRM sent through crmsync (E9): one email.
            row = find_email(session, rep.org_id, rep.rep_id, message.message_id, for_update=True)
        if row is not None:
            page.emails[message.message_id] = row
            outcomes[index] = _update(session, row, entry, now)
            continue
        indexed = page.contacts_for(message.matching_addresses())
        matches = match_contacts(message, rep.rep_id, [i.contact for i in indexed])
        unknown = () if entry.final else entry.folders.unknown
        decision = decide_new_email(
            rep.email_settings(), message, entry.folders.known, matches, unknown
        )
        if decision.skip_reason is not None:
            outcomes[index] = decision.skip_reason.value
            continue
        by_id = {i.contact.crm_contact_id: i for i in indexed}
        contacts = [(by_id[m.crm_contact_id], m) for m in decision.contacts]
        folder_names = [folder.name for folder in entry.folders.known]
        new[message.message_id] = (
            index,
            NewEmail(message, folder_names, contacts, entry.observed_at),
        )
    stored = store_emails(
        session, rep.org_id, rep.rep_id, [email for _, email in new.values()], now
    )
    for message_id, (index, _) in new.items():
        if message_id in stored:
            outcomes[index] = "stored"
        else:
            # Another worker stored it between our read and our insert: update it instead.
            again.append(index)
    for index in sorted(again):
        entry = entries[index]
        row = find_email(session, rep.org_id, rep.rep_id, entry.message.message_id, for_update=True)
        assert row is not None
        outcomes[index] = _update(session, row, entry, now)
    return outcomes


def _update(session: Session, row: EmailRow, entry: PageEntry, now: datetime) -> str:
    update = plan_email_update(mailbox_state(row), entry.message, entry.observed_at)
    changed = update_email(
        session,
        row,
        update,
        folder_names=[folder.name for folder in entry.folders.known],
        observed_at=entry.observed_at,
        now=now,
    )
    return "updated" if changed else "unchanged"
