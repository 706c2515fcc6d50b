"""Which kind of work a Nylas trigger is, and how a delivered ``type`` splits into parts.

Rule N1: route on the first two dot-segments of ``type`` (``message.created``); whatever
follows (``.truncated``, ``.transformed``, ``.cleaned``, ``.metadata``, ``.legacy``) is a flag
on that trigger, never a trigger of its own. Nylas adds suffixes over time and combines them
(``message.created.cleaned.transformed.truncated``), so no suffix is ever rejected.

The routing table is explicit, one trigger per row, so that a new Nylas trigger is a decision
(add a row) rather than an accident. A trigger that is not listed is kept (rule N3): it goes to
the queue of :attr:`WorkKind.OTHER`, whose workers store it with the outcome ``not_handled``,
so that once a handler for it is added it can be reprocessed like any stored notification.
"""

from __future__ import annotations

from enum import StrEnum


class WorkKind(StrEnum):
    """A kind of work; each has its own queue so a flood of one never starves another."""

    MESSAGES = "messages"
    EVENTS = "events"
    GRANTS = "grants"
    FOLDERS = "folders"
    OTHER = "other"


ROUTES: dict[str, WorkKind] = {
    # Messages, sending and tracking (v3, and the v2 names that match them).
    "message.created": WorkKind.MESSAGES,
    "message.updated": WorkKind.MESSAGES,
    "message.deleted": WorkKind.MESSAGES,
    "message.send_success": WorkKind.MESSAGES,
    "message.send_failed": WorkKind.MESSAGES,
    "message.bounce_detected": WorkKind.MESSAGES,
    "message.opened": WorkKind.MESSAGES,
    "message.link_clicked": WorkKind.MESSAGES,
    "thread.replied": WorkKind.MESSAGES,
    # Calendars and their events: calendar changes decide which calendar a rep syncs with.
    "event.created": WorkKind.EVENTS,
    "event.updated": WorkKind.EVENTS,
    "event.deleted": WorkKind.EVENTS,
    "calendar.created": WorkKind.EVENTS,
    "calendar.updated": WorkKind.EVENTS,
    "calendar.deleted": WorkKind.EVENTS,
    # Connected accounts: v3 grants, and the v2 account states.
    "grant.created": WorkKind.GRANTS,
    "grant.updated": WorkKind.GRANTS,
    "grant.deleted": WorkKind.GRANTS,
    "grant.expired": WorkKind.GRANTS,
    "grant.imap_sync_completed": WorkKind.GRANTS,
    "account.connected": WorkKind.GRANTS,
    "account.running": WorkKind.GRANTS,
    "account.stopped": WorkKind.GRANTS,
    "account.invalid": WorkKind.GRANTS,
    "account.sync_error": WorkKind.GRANTS,
    # Folder cache refreshes.
    "folder.created": WorkKind.FOLDERS,
    "folder.updated": WorkKind.FOLDERS,
    "folder.deleted": WorkKind.FOLDERS,
    # Kept for reprocessing, no behaviour yet.
    "contact.created": WorkKind.OTHER,
    "contact.updated": WorkKind.OTHER,
    "contact.deleted": WorkKind.OTHER,
}


def split_type(delivered_type: str) -> tuple[str, frozenset[str]]:
    """Split a delivered ``type`` into its base trigger and its suffix flags.

    >>> split_type("message.created.cleaned.truncated")
    ('message.created', frozenset({'cleaned', 'truncated'}))
    """
    segments = delivered_type.split(".")
    return ".".join(segments[:2]), frozenset(segments[2:])


def route(trigger: str) -> WorkKind:
    """The kind of work for a base trigger; :attr:`WorkKind.OTHER` (kept, not handled) for
    one crmsync has no handler for."""
    return ROUTES.get(trigger, WorkKind.OTHER)
