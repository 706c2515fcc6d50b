"""Message notifications into stored emails (E2, E4, E5, E7): load, decide, save.

``message.created`` and ``message.updated`` are the same operation, an upsert, because
Nylas mislabels one as the other and delivers them in any order. The message comes from the
notification itself, or from the Messages API when the notification does not carry all of
it (``.truncated``, ``.transformed``, every v2 delta); a 404 there means the message is gone,
which is an outcome, not a failure. ``message.deleted`` marks the stored email and never
deletes it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from domain.contacts import match_contacts
from domain.email_rules import decide_new_email, plan_email_update
from domain.folders import ResolvedFolders
from domain.messages import MailMessage, MalformedMessage, parse_message
from domain.notifications import Notification
from domain.reps import Rep
from domain.sending import DeliveryReport, delivery_report
from storage.contacts import IndexedContact, contacts_by_address, contacts_for_addresses
from storage.emails import (
    find_email,
    find_emails,
    mailbox_state,
    mark_mailbox_deleted,
    store_email,
    update_email,
)
from storage.engine import transaction
from storage.reps import rep_for_grant
from storage.sends import attach_sent_copy, find_send, record_delivery_event
from storage.tables import EmailRow
from workers.actors.handled import Handled, acknowledge_only
from workers.context import WorkerContext
from workers.folder_cache import resolve_message_folders, resolve_page_folders
from workers.nylas_client import IDEMPOTENCY_METADATA_KEY

logger = logging.getLogger(__name__)

# Suffixes that mean the notification's object is not the whole message (NYLAS.md 1.4).
_FETCH_FLAGS = frozenset({"truncated", "transformed"})


def handle_message_notification(context: WorkerContext, notification: Notification) -> Handled:
    """The handler of the messages queue."""
    if notification.trigger in ("message.created", "message.updated"):
        return sync_message(context, notification)
    if notification.trigger == "message.deleted":
        return mark_deleted(context, notification)
    data = notification.payload.get("data")
    report = delivery_report(notification.trigger, data if isinstance(data, Mapping) else {})
    if report is not None:
        return record_delivery(context, notification, report)
    return acknowledge_only(context, notification)


def record_delivery(
    context: WorkerContext, notification: Notification, report: DeliveryReport
) -> Handled:
    """A send succeeded, failed or bounced: update the email the CRM sent (E9)."""
    if notification.grant_id is None:
        return Handled.processed("no_grant_or_message")
    send_key = report.metadata.get(IDEMPOTENCY_METADATA_KEY)
    with transaction(context.engine) as session:
        rep = rep_for_grant(session, notification.grant_id)
        if rep is None:
            return Handled.processed("unknown_grant")
        row = None
        if report.message_id is not None:
            row = find_email(session, rep.rep_id, report.message_id, for_update=True)
        if row is None and send_key:
            row = find_send(session, rep.rep_id, send_key, for_update=True)
        if row is None or row.send_key is None:
            return Handled.processed("not_sent_by_crm")
        changed = record_delivery_event(session, row, report.event, context.clock(), report.error)
    return Handled.processed(f"delivery_{report.event.value}" if changed else "unchanged")


def sync_message(context: WorkerContext, notification: Notification) -> Handled:
    """Store the message for the grant's rep if E2 says so, or update the stored email."""
    rep = _rep_of(context, notification)
    if isinstance(rep, Handled):
        return rep
    assert notification.grant_id is not None
    if not rep.email_sync_enabled:
        return Handled.processed("email_sync_off")
    fetched = _message_of(context, notification)
    if fetched is None:
        return Handled.processed("gone")
    message, observed_at = fetched
    folders = resolve_message_folders(context, rep, notification.grant_id, message.folder_ids)
    with transaction(context.engine) as session:
        return Handled.processed(_save(session, context, rep, message, folders, observed_at))


def apply_messages(
    context: WorkerContext, rep: Rep, grant_id: str, wires: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Apply a page of messages read from the API (a backfill) by the live rules: one
    outcome per message ("stored", "unchanged", "no_contact", ..., "failed").

    The page is saved in one transaction; if that fails, each message is saved alone, so
    one poison message costs its own outcome ("failed", logged), never the page's. In the
    page's transaction the stored emails and the contacts are read once for the whole page
    (:class:`_PageRows`), not once per message: most of a mailbox matches no contact, and
    those two lookups were most of what a message that is not stored cost.
    """
    if not rep.email_sync_enabled:
        return ["email_sync_off"] * len(wires)
    observed_at = context.clock()
    parsed = [_parsed_or_none(wire) for wire in wires]
    messages = [message for message in parsed if message is not None]
    folders = resolve_page_folders(context, rep, grant_id, [m.folder_ids for m in messages])
    pairs = list(zip(messages, folders, strict=True))
    try:
        with transaction(context.engine) as session:
            page = _read_page(session, rep.rep_id, messages)
            saved = [_save(session, context, rep, m, f, observed_at, page) for m, f in pairs]
    except Exception:
        logger.warning("a page of messages failed; saving them one by one", exc_info=True)
        saved = [_save_alone(context, rep, grant_id, m, f, observed_at) for m, f in pairs]
    outcomes = iter(saved)
    return [next(outcomes) if message is not None else "malformed" for message in parsed]


@dataclass(frozen=True, slots=True)
class _PageRows:
    """What :func:`_save` reads for each message, read for a whole page at once: the emails
    already stored (locked, as :func:`find_email` locks one) and the rep's contacts by each
    address of the page (as :func:`contacts_for_addresses` finds them for one message)."""

    emails: dict[str, EmailRow]
    contacts: dict[str, list[IndexedContact]]

    def contacts_for(self, addresses: Iterable[str]) -> list[IndexedContact]:
        """The contacts holding any of ``addresses``, each once."""
        found: dict[int, IndexedContact] = {}
        for address in addresses:
            for indexed in self.contacts.get(address, ()):
                found.setdefault(indexed.key, indexed)
        return list(found.values())


def _read_page(session: Session, rep_id: str, messages: Sequence[MailMessage]) -> _PageRows:
    addresses: set[str] = set()
    for message in messages:
        addresses |= message.matching_addresses()
    return _PageRows(
        emails=find_emails(session, rep_id, [m.message_id for m in messages], for_update=True),
        contacts=contacts_by_address(session, rep_id, addresses),
    )


def _parsed_or_none(wire: Mapping[str, Any]) -> MailMessage | None:
    try:
        return parse_message(wire)
    except MalformedMessage:
        logger.warning("message without an id skipped", extra={"message_id": None})
        return None


def _save_alone(
    context: WorkerContext,
    rep: Rep,
    grant_id: str,
    message: MailMessage,
    folders: ResolvedFolders,
    observed_at: datetime,
) -> str:
    try:
        with transaction(context.engine) as session:
            return _save(session, context, rep, message, folders, observed_at)
    except Exception:
        logger.exception(
            "message could not be saved",
            extra={"grant_id": grant_id, "message_id": message.message_id},
        )
        return "failed"


def mark_deleted(context: WorkerContext, notification: Notification) -> Handled:
    """The message left the mailbox: mark its email, keep it in the CRM."""
    rep = _rep_of(context, notification)
    if isinstance(rep, Handled):
        return rep
    assert notification.object_id is not None
    with transaction(context.engine) as session:
        row = find_email(session, rep.rep_id, notification.object_id, for_update=True)
        if row is None:
            return Handled.processed("not_stored")
        marked = mark_mailbox_deleted(session, row, context.clock())
    return Handled.processed("mailbox_deleted" if marked else "unchanged")


def _rep_of(context: WorkerContext, notification: Notification) -> Rep | Handled:
    """The rep whose mailbox the notification is about, or the outcome saying there is none."""
    if notification.grant_id is None or notification.object_id is None:
        return Handled.processed("no_grant_or_message")
    with transaction(context.engine) as session:
        rep = rep_for_grant(session, notification.grant_id)
    return rep if rep is not None else Handled.processed("unknown_grant")


def _message_of(
    context: WorkerContext, notification: Notification
) -> tuple[MailMessage, datetime] | None:
    """The whole message and the time its state was observed; None when it is gone."""
    obj = _object_of(notification)
    if obj is not None and not (notification.flags & _FETCH_FLAGS):
        observed = notification.occurred_at
        observed_at = datetime.fromtimestamp(observed, UTC) if observed else context.clock()
        return parse_message(obj), observed_at
    assert notification.grant_id is not None
    assert notification.object_id is not None
    fetched_at = context.clock()
    wire = context.nylas.find_message(notification.grant_id, notification.object_id)
    if wire is None:
        return None
    return parse_message(wire), fetched_at


def _object_of(notification: Notification) -> Mapping[str, Any] | None:
    if notification.api_version != "v3":
        return None  # v2 deltas carry ids only
    data = notification.payload.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    return obj if isinstance(obj, Mapping) else None


def _save(
    session: Session,
    context: WorkerContext,
    rep: Rep,
    message: MailMessage,
    folders: ResolvedFolders,
    observed_at: datetime,
    page: _PageRows | None = None,
) -> str:
    """Store or update one message; ``page`` holds what a page's transaction read already."""
    now = context.clock()
    folder_names = [folder.name for folder in folders.known]
    if page is not None:
        row = page.emails.get(message.message_id)
    else:
        row = find_email(session, rep.rep_id, message.message_id, for_update=True)
    send_key = message.metadata.get(IDEMPOTENCY_METADATA_KEY)
    if (
        row is None
        and send_key
        and attach_sent_copy(session, rep.rep_id, send_key, message.message_id)
    ):
        # The Sent folder's copy of an email the CRM sent through crmsync (E9): one email.
        row = find_email(session, rep.rep_id, message.message_id, for_update=True)
    if row is None:
        addresses = message.matching_addresses()
        if page is not None:
            indexed = page.contacts_for(addresses)
        else:
            indexed = contacts_for_addresses(session, rep.rep_id, addresses)
        matches = match_contacts(message, rep.rep_id, [i.contact for i in indexed])
        decision = decide_new_email(rep.email_settings(), message, folders.known, matches)
        if decision.skip_reason is not None:
            return decision.skip_reason.value
        by_id = {i.contact.crm_contact_id: i for i in indexed}
        stored = store_email(
            session,
            rep_id=rep.rep_id,
            message=message,
            folder_names=folder_names,
            contacts=[(by_id[m.crm_contact_id], m) for m in decision.contacts],
            observed_at=observed_at,
            now=now,
        )
        if stored is not None:
            return "stored"
        # Another worker stored it between our read and our insert: update it instead.
        row = find_email(session, rep.rep_id, message.message_id, for_update=True)
        assert row is not None
    update = plan_email_update(mailbox_state(row), message, observed_at)
    changed = update_email(
        session, row, update, folder_names=folder_names, observed_at=observed_at, now=now
    )
    return "updated" if changed else "unchanged"
