"""Whether a message becomes a CRM email for a rep, and what an update changes (E1, E2, E4, E7).

:func:`decide_new_email` is rule E2 as one function: email sync on, a synced folder, dated
on or after the rep's sync-from, and a From, To or CC address of one of the rep's contacts.
Its answer names the first rule that failed, so an operator asked "why is this email not in
the CRM?" can read the reason instead of guessing.

:func:`plan_email_update` is rule E4 for a message already stored: only what may change in a
mailbox changes (folders, read and starred state, a body that a truncated notification left
out), and a state older than the one already applied is ignored, because Nylas delivers out
of order. The hidden flag (E7) is not a mailbox state and is never touched here.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from domain.contacts import ContactMatch
from domain.folders import Folder, FolderSelection
from domain.messages import MailMessage

DEFAULT_LOOKBACK = timedelta(days=30)


class SkipReason(StrEnum):
    """Why a message was not stored for a rep: the first rule of E2 it failed, or
    ``folder_pending`` when only its folders, not yet known, keep it from being stored (N2:
    it is parked and decided again, never dropped on a guess)."""

    EMAIL_SYNC_OFF = "email_sync_off"
    FOLDER_NOT_SYNCED = "folder_not_synced"
    FOLDER_PENDING = "folder_pending"
    UNDATED = "undated"
    BEFORE_SYNC_FROM = "before_sync_from"
    NO_CONTACT = "no_contact"


@dataclass(frozen=True, slots=True)
class EmailSyncSettings:
    """The part of a rep's settings (E1) that decides which emails are stored."""

    enabled: bool
    folders: FolderSelection
    sync_from: datetime


@dataclass(frozen=True, slots=True)
class EmailDecision:
    """The outcome of E2 for one message and one rep."""

    skip_reason: SkipReason | None
    synced_folders: tuple[Folder, ...] = ()
    contacts: tuple[ContactMatch, ...] = ()

    @property
    def store(self) -> bool:
        return self.skip_reason is None


def resolve_sync_from(
    requested: datetime | None,
    authorised_at: datetime | None,
    now: datetime,
    lookback: timedelta = DEFAULT_LOOKBACK,
) -> datetime:
    """A rep's sync-from (E1): as the CRM set it, else authorisation time minus the look-back.

    A rep registered before its mailbox is authorised counts from ``now``.
    """
    if requested is not None:
        return requested
    return (authorised_at or now) - lookback


def in_sync_window(date: datetime, sync_from: datetime) -> bool:
    """True when a message dated ``date`` is on or after the rep's ``sync_from``."""
    return date >= sync_from


def decide_new_email(
    settings: EmailSyncSettings,
    message: MailMessage,
    folders: tuple[Folder, ...],
    contacts: tuple[ContactMatch, ...],
    unknown_folder_ids: Collection[str] = (),
) -> EmailDecision:
    """Rule E2 for a message not yet stored for the rep, with N2 for folders not yet known.

    ``folders`` are the message's folders resolved through the grant's folder cache and
    ``unknown_folder_ids`` those the cache does not know (yet); ``contacts`` are the rep's
    own contacts the message touches (:func:`match_contacts`).

    A message in no synced folder but in an unknown one is not decided on its folders: if
    every other rule would store it, the answer is ``folder_pending`` (N2); if another rule
    already refuses it, that rule is the answer, since no folder could change it.
    """
    if not settings.enabled:
        return EmailDecision(SkipReason.EMAIL_SYNC_OFF)
    synced = tuple(f for f in folders if settings.folders.matches(f))
    pending = not synced and bool(unknown_folder_ids)
    if not synced and not pending:
        return EmailDecision(SkipReason.FOLDER_NOT_SYNCED)
    if message.date is None:
        return EmailDecision(SkipReason.UNDATED)
    if not in_sync_window(message.date, settings.sync_from):
        return EmailDecision(SkipReason.BEFORE_SYNC_FROM)
    if not contacts:
        return EmailDecision(SkipReason.NO_CONTACT)
    if pending:
        return EmailDecision(SkipReason.FOLDER_PENDING)
    return EmailDecision(None, synced, contacts)


@dataclass(frozen=True, slots=True)
class StoredMailboxState:
    """What of a stored email mirrors the mailbox, and as of when it was observed."""

    folder_ids: tuple[str, ...]
    unread: bool | None
    starred: bool | None
    has_body: bool
    observed_at: datetime | None


@dataclass(frozen=True, slots=True)
class EmailUpdate:
    """The columns an update changes; empty when the update changes nothing."""

    changes: dict[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.changes)


def plan_email_update(
    stored: StoredMailboxState, message: MailMessage, observed_at: datetime
) -> EmailUpdate:
    """What ``message``, observed at ``observed_at``, changes in a stored email (E4).

    A state observed before the one stored is stale and changes nothing; at the same time
    the later arrival wins. An empty folder list or an absent flag is read as "not sent"
    rather than "cleared", so a partial object never wipes what is known.
    """
    if stored.observed_at is not None and observed_at < stored.observed_at:
        return EmailUpdate()
    changes: dict[str, Any] = {}
    # Compared as sets: Nylas promises no order for a message's folders (a Gmail message
    # carries several labels), and the same folders in a new order are not a move.
    if message.folder_ids and set(message.folder_ids) != set(stored.folder_ids):
        changes["folder_ids"] = list(message.folder_ids)
    if message.unread is not None and message.unread != stored.unread:
        changes["unread"] = message.unread
    if message.starred is not None and message.starred != stored.starred:
        changes["starred"] = message.starred
    if message.body is not None and not stored.has_body:
        changes["body"] = message.body
    return EmailUpdate(changes)
