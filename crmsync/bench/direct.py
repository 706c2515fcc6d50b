"""The storage limit: the e2e benchmark's emails inserted straight into the database.

What a worker writes for a matching message, without the queue, the HTTP, the notification
bookkeeping or the folder lookup: find the rep's contacts among the message's addresses,
decide the matches, insert the email, its contact links and its change record. Once with a
transaction per email (a worker finishing one notification at a time), and once with a
batch of emails per transaction written set-based, as the workers' group commit and a
backfill page write them: each rep's contacts read in one query and its emails, links and
changes inserted in three statements (``storage.emails.store_emails``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session

from crmsync.bench.seeding import seed_rep
from domain.contacts import match_contacts
from domain.messages import MailMessage, parse_message
from domain.organizations import DEFAULT_ORG_ID
from simulator.traffic import SimMessage, SimRep
from storage.contacts import contacts_by_address, contacts_for_addresses
from storage.emails import NewEmail, store_email, store_emails
from storage.engine import create_database_engine, transaction


@dataclass(frozen=True, slots=True)
class DirectResult:
    emails: int
    per_transaction_per_second: float
    batched_per_second: float
    batch: int


def measure_direct_inserts(
    database_url: str, reps: Sequence[SimRep], messages: Sequence[SimMessage], *, batch: int
) -> DirectResult:
    """Insert the matching ``messages`` for copies of ``reps``: one per transaction, then
    ``batch`` per transaction; emails per second of each."""
    engine = create_database_engine(database_url)
    now = datetime.now(UTC)
    try:
        for suffix in ("direct-single", "direct-batched"):
            for rep in reps:
                seed_rep(engine, rep, rep_id=f"{rep.rep_id}-{suffix}", now=now)
        emails = [(m.rep_id, parse_message(m.message)) for m in messages if m.matching]

        started = time.perf_counter()
        for rep_id, message in emails:
            with transaction(engine) as session:
                _store(session, f"{rep_id}-direct-single", message, now)
        single = len(emails) / (time.perf_counter() - started)

        started = time.perf_counter()
        for start in range(0, len(emails), batch):
            with transaction(engine) as session:
                _store_batch(session, emails[start : start + batch], "-direct-batched", now)
        batched = len(emails) / (time.perf_counter() - started)
    finally:
        engine.dispose()
    return DirectResult(len(emails), single, batched, batch)


def _store(session: Session, rep_id: str, message: MailMessage, now: datetime) -> None:
    indexed = contacts_for_addresses(session, DEFAULT_ORG_ID, rep_id, message.matching_addresses())
    matches = match_contacts(message, rep_id, [i.contact for i in indexed])
    by_id = {i.contact.crm_contact_id: i for i in indexed}
    stored = store_email(
        session,
        org_id=DEFAULT_ORG_ID,
        rep_id=rep_id,
        message=message,
        folder_names=list(message.folder_ids),
        contacts=[(by_id[m.crm_contact_id], m) for m in matches],
        observed_at=now,
        now=now,
    )
    if stored is None:
        raise RuntimeError(f"{rep_id}/{message.message_id} was already stored")


def _store_batch(
    session: Session, emails: Sequence[tuple[str, MailMessage]], suffix: str, now: datetime
) -> None:
    by_rep: dict[str, list[MailMessage]] = {}
    for rep_id, message in emails:
        by_rep.setdefault(f"{rep_id}{suffix}", []).append(message)
    for rep_id, messages in by_rep.items():
        addresses = set().union(*(m.matching_addresses() for m in messages))
        contacts = contacts_by_address(session, DEFAULT_ORG_ID, rep_id, addresses)
        new: list[NewEmail] = []
        for message in messages:
            indexed = {
                i.key: i for a in message.matching_addresses() for i in contacts.get(a, ())
            }.values()
            matches = match_contacts(message, rep_id, [i.contact for i in indexed])
            by_id = {i.contact.crm_contact_id: i for i in indexed}
            pairs = [(by_id[m.crm_contact_id], m) for m in matches]
            new.append(NewEmail(message, list(message.folder_ids), pairs, now))
        stored = store_emails(session, DEFAULT_ORG_ID, rep_id, new, now)
        if len(stored) != len(new):
            raise RuntimeError(f"{len(new) - len(stored)} emails of {rep_id} were already stored")
