"""Message notifications into stored emails (E2, E4, E5, E7): load, decide, save.

``message.created`` and ``message.updated`` are the same operation, an upsert, because
Nylas mislabels one as the other and delivers them in any order. The message comes from the
notification itself, or from the Messages API when the notification does not carry all of
it (``.truncated``, ``.transformed``, every v2 delta); a 404 there means the message is gone,
which is an outcome, not a failure. ``message.deleted`` marks the stored email and never
deletes it.

Saving is set-based: the messages of concurrent notifications (:func:`save_messages`, run
by ``workers.actors.finishing``) and the messages of a backfill's page (:func:`apply_messages`)
are saved a rep at a time by ``workers.email_pages.save_page``, which reads the page's stored
emails and contacts in two queries and inserts its new emails in three statements, however
many.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from domain.folders import needs_folder_refresh, resolve_folders
from domain.messages import MailMessage, MalformedMessage, parse_message
from domain.notifications import Notification
from domain.reps import Rep
from domain.sending import DeliveryReport, delivery_report
from storage.email_reads import find_email
from storage.emails import mark_mailbox_deleted
from storage.engine import transaction
from storage.folders import load_folder_caches
from storage.reps import rep_for_grant, reps_for_grants
from storage.sends import find_send, record_delivery_event
from workers.actors.handled import Handled, MessageToSave, acknowledge_only
from workers.context import WorkerContext
from workers.email_pages import PageEntry, save_page, save_pages
from workers.folder_cache import resolve_page_folders
from workers.group_commit import SplitOnFailure
from workers.nylas_client import IDEMPOTENCY_METADATA_KEY

logger = logging.getLogger(__name__)

# Suffixes that mean the notification's object is not the whole message (NYLAS.md 1.4).
_FETCH_FLAGS = frozenset({"truncated", "transformed"})


def handle_message_notification(
    context: WorkerContext, notification: Notification
) -> Handled | MessageToSave:
    """The handler of the messages queue."""
    if notification.trigger in ("message.created", "message.updated"):
        return message_to_save(context, notification)
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
            row = find_email(session, rep.org_id, rep.rep_id, report.message_id, for_update=True)
        if row is None and send_key:
            row = find_send(session, rep.org_id, rep.rep_id, send_key, for_update=True)
        if row is None or row.send_key is None:
            return Handled.processed("not_sent_by_crm")
        changed = record_delivery_event(session, row, report.event, context.clock(), report.error)
    return Handled.processed(f"delivery_{report.event.value}" if changed else "unchanged")


def message_to_save(context: WorkerContext, notification: Notification) -> Handled | MessageToSave:
    """The message to store or update, from the notification or, when it does not carry
    all of it, from the Messages API; saved by :func:`save_messages` with others."""
    if notification.grant_id is None or notification.object_id is None:
        return Handled.processed("no_grant_or_message")
    obj = _object_of(notification)
    if obj is not None and not (notification.flags & _FETCH_FLAGS):
        observed = notification.occurred_at
        observed_at = datetime.fromtimestamp(observed, UTC) if observed else context.clock()
        return MessageToSave(notification.grant_id, parse_message(obj), observed_at)
    # The Messages API is called only for a rep who syncs email.
    rep = _rep_of(context, notification)
    if isinstance(rep, Handled):
        return rep
    if not rep.email_sync_enabled:
        return Handled.processed("email_sync_off")
    fetched_at = context.clock()
    wire = context.nylas_for(notification.grant_id).find_message(
        notification.grant_id, notification.object_id
    )
    if wire is None:
        return Handled.processed("gone")
    return MessageToSave(notification.grant_id, parse_message(wire), fetched_at)


@dataclass(frozen=True, slots=True)
class FoldersToRefresh:
    """A message's folders are missing from its grant's cache and might be synced ones:
    fetch the grant's folders from Nylas (outside any transaction), then save it again."""

    rep: Rep
    grant_id: str


def save_messages(
    session: Session, context: WorkerContext, items: Sequence[MessageToSave]
) -> list[str | FoldersToRefresh]:
    """Save the messages of many notifications in ``session``: one outcome each, in order.

    The reps and folder caches of all their grants are read in three queries, then each
    rep's messages are saved as one page (``workers.email_pages.save_pages``).
    """
    grant_ids = {item.grant_id for item in items}
    reps = reps_for_grants(session, grant_ids)
    caches = load_folder_caches(session, reps.keys())
    now = context.clock()
    outcomes: list[str | FoldersToRefresh] = ["" for _ in items]
    pages: dict[str, tuple[Rep, list[tuple[int, PageEntry]]]] = {}
    for index, item in enumerate(items):
        rep = reps.get(item.grant_id)
        if rep is None:
            outcomes[index] = "unknown_grant"
            continue
        if not rep.email_sync_enabled:
            outcomes[index] = "email_sync_off"
            continue
        cache = caches[item.grant_id]
        folders = resolve_folders(item.message.folder_ids, cache.folders)
        if not item.folders_refreshed and needs_folder_refresh(
            [folders], rep.folders, cache.refreshed_at, now, context.folder_refresh_interval
        ):
            outcomes[index] = FoldersToRefresh(rep, item.grant_id)
            continue
        entry = PageEntry(item.message, folders, item.observed_at)
        pages.setdefault(rep.rep_id, (rep, []))[1].append((index, entry))
    ordered = [pages[rep_id] for rep_id in sorted(pages)]
    saved = save_pages(
        session, context, [(rep, [e for _, e in entries]) for rep, entries in ordered]
    )
    for (_, entries), page_outcomes in zip(ordered, saved, strict=True):
        for (index, _), outcome in zip(entries, page_outcomes, strict=True):
            outcomes[index] = outcome
    return outcomes


def apply_messages(
    context: WorkerContext, rep: Rep, grant_id: str, wires: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Apply a page of messages read from the API (a backfill) by the live rules: one
    outcome per message ("stored", "unchanged", "no_contact", ..., "failed").

    The page is saved in one transaction; if that fails, each message is saved alone, so
    one poison message costs its own outcome ("failed", logged), never the page's.
    """
    if not rep.email_sync_enabled:
        return ["email_sync_off"] * len(wires)
    observed_at = context.clock()
    parsed = [_parsed_or_none(wire) for wire in wires]
    messages = [message for message in parsed if message is not None]
    folders = resolve_page_folders(context, rep, grant_id, [m.folder_ids for m in messages])
    entries = [PageEntry(m, f, observed_at) for m, f in zip(messages, folders, strict=True)]

    def save_together(entries: list[PageEntry]) -> list[str]:
        with transaction(context.engine) as session:
            return save_page(session, context, rep, entries)

    # An empty page (a day window without mail) writes nothing: no transaction, no batch.
    saved = SplitOnFailure("backfill_page", save_together)(entries) if entries else []
    outcomes = iter(saved)
    return [
        _outcome_of(next(outcomes), grant_id, message) if message is not None else "malformed"
        for message in parsed
    ]


def _outcome_of(saved: str | Exception, grant_id: str, message: MailMessage) -> str:
    if not isinstance(saved, Exception):
        return saved
    logger.error(
        "message could not be saved",
        exc_info=saved,
        extra={"grant_id": grant_id, "message_id": message.message_id},
    )
    return "failed"


def _parsed_or_none(wire: Mapping[str, Any]) -> MailMessage | None:
    try:
        return parse_message(wire)
    except MalformedMessage:
        logger.warning("message without an id skipped", extra={"message_id": None})
        return None


def mark_deleted(context: WorkerContext, notification: Notification) -> Handled:
    """The message left the mailbox: mark its email, keep it in the CRM."""
    rep = _rep_of(context, notification)
    if isinstance(rep, Handled):
        return rep
    assert notification.object_id is not None
    with transaction(context.engine) as session:
        row = find_email(session, rep.org_id, rep.rep_id, notification.object_id, for_update=True)
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


def _object_of(notification: Notification) -> Mapping[str, Any] | None:
    if notification.api_version != "v3":
        return None  # v2 deltas carry ids only
    data = notification.payload.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    return obj if isinstance(obj, Mapping) else None
