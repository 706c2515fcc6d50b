"""The grants of the fake Nylas and what each holds: its folders and messages, under one lock.

:class:`GrantStore` is the state the fake API reads and tests fill; the ways a grant comes and
goes through hosted auth (``simulator.grant_lifecycle``) and what a send does to it
(``simulator.outbox``) are built on it, and ``simulator.mailbox.FakeNylas`` puts them together.
Everything is kept as wire dicts (NYLAS.md 3.1, 3.2, 5.1), so what is stored is what is served.
The state is shared between the server's event loop and the test's thread, hence one lock.
A new mailbox starts with its provider's folders from ``simulator.folder_presets``; messages
are kept in list order by ``simulator.message_index``. Calendars and events are the base
class's (``simulator.calendar``), so one object holds a whole account.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from simulator.applications import Applications
from simulator.calendar import Clock, FakeCalendars, google_calendars, microsoft_calendars
from simulator.folder_presets import (
    folder_with_role,
    gmail_folders,
    imap_folders,
    microsoft_folders,
)
from simulator.folder_writes import (
    FOLDER_CREATED,
    FOLDER_DELETED,
    FOLDER_UPDATED,
    deleted_folders,
    folder_notification,
    new_folder,
    renamed_folder,
)
from simulator.message_index import MessageIndex, MessageQuery

Wire = dict[str, Any]


@dataclass(slots=True)
class StoredGrant:
    """One grant: its wire dict, its folders by id, its messages, the addresses that bounce."""

    wire: Wire
    folders: dict[str, Wire] = field(default_factory=dict)
    messages: MessageIndex = field(default_factory=MessageIndex)
    bouncing: set[str] = field(default_factory=set)


def grant_wire(grant_id: str, provider: str, email: str, *, now: int) -> Wire:
    """A new valid grant's wire dict, with no scope yet."""
    return {
        "id": grant_id,
        "provider": provider,
        "grant_status": "valid",
        "email": email,
        "scope": [],
        "created_at": now,
        "updated_at": now,
    }


class GrantStore(FakeCalendars):
    """Grants, their folders and messages; each grant is one of ``applications``' grants.

    ``clock`` (unix seconds) stamps grants and, through the base class, every calendar write
    and the notifications queued for :meth:`drain_notifications`.
    """

    def __init__(self, applications: Applications, clock: Clock) -> None:
        FakeCalendars.__init__(self, clock)
        self.applications = applications
        self._lock = threading.Lock()
        self._grants: dict[str, StoredGrant] = {}

    # Content -------------------------------------------------------------------------------

    def credential_of_grant(self, grant_id: str) -> str | None:
        """The connector credential the grant's latest consent went through, or None."""
        with self._lock:
            return self._grant(grant_id).wire.get("credential_id")

    def add_grant(
        self, grant_id: str, provider: str, email: str, *, application: str | None = None
    ) -> Wire:
        """Add (or replace) a valid grant with no folders, messages, calendars or events, as a
        grant of the application with client id ``application`` (the first by default)."""
        wire = grant_wire(grant_id, provider, email, now=int(self._clock()))
        self.applications.assign(grant_id, application)
        with self._lock:
            self._grants[grant_id] = StoredGrant(wire)
        self._open_calendars(grant_id, provider, email)
        return copy.deepcopy(wire)

    def add_mailbox(
        self, grant_id: str, provider: str, email: str, *, application: str | None = None
    ) -> Wire:
        """A grant with the folder and calendar presets of its provider (IMAP has no calendars)."""
        grant = self.add_grant(grant_id, provider, email, application=application)
        self._add_presets(grant_id, provider, email)
        return grant

    def set_grant_status(self, grant_id: str, status: str) -> None:
        """Mark a grant ``valid`` or ``invalid`` (expired: the user must sign in again)."""
        with self._lock:
            grant = self._grant(grant_id)
            grant.wire["grant_status"] = status
            grant.wire["updated_at"] = int(self._clock())

    def add_folder(self, grant_id: str, folder: Wire) -> None:
        """Add or replace one folder (a wire dict with at least ``id`` and ``name``)."""
        self.add_folders(grant_id, [folder])

    def add_folders(self, grant_id: str, folders: Iterable[Wire]) -> None:
        """Add or replace several folders, e.g. a preset such as :func:`gmail_folders`."""
        with self._lock:
            grant = self._grant(grant_id)
            for folder in folders:
                stored = copy.deepcopy(folder)
                stored.setdefault("object", "folder")
                stored["grant_id"] = grant_id
                grant.folders[stored["id"]] = stored

    def create_folder(
        self,
        grant_id: str,
        name: str,
        *,
        attributes: Sequence[str] = (),
        parent_id: str | None = None,
    ) -> Wire:
        """A user adds a label or folder: the new folder; ``folder.created`` is queued.

        Raises:
            FolderRefused: see ``simulator.folder_writes.new_folder``.
        """
        with self._lock:
            grant = self._grant(grant_id)
            provider = grant.wire["provider"]
            folder = new_folder(
                grant_id,
                provider,
                grant.folders,
                name=name,
                attributes=attributes,
                parent_id=parent_id,
            )
            grant.folders[folder["id"]] = copy.deepcopy(folder)
        at = int(self._clock())
        self._queue_notifications(
            folder_notification(FOLDER_CREATED, folder, provider=provider, at=at)
        )
        return folder

    def rename_folder(self, grant_id: str, folder_id: str, name: str) -> Wire:
        """A user renames a folder: the folder; ``folder.updated`` is queued."""
        with self._lock:
            grant = self._grant(grant_id)
            provider = grant.wire["provider"]
            folder = renamed_folder(grant.folders, folder_id, name)
            grant.folders[folder_id] = copy.deepcopy(folder)
            if provider == "microsoft":
                folder["child_count"] = sum(
                    1 for f in grant.folders.values() if f.get("parent_id") == folder_id
                )
        at = int(self._clock())
        self._queue_notifications(
            folder_notification(FOLDER_UPDATED, folder, provider=provider, at=at)
        )
        return folder

    def delete_folder(self, grant_id: str, folder_id: str) -> list[Wire]:
        """A user deletes a folder and its subfolders: those removed, deepest first, each with
        its ``folder.deleted`` queued. Messages filed in them are left as they are."""
        with self._lock:
            grant = self._grant(grant_id)
            provider = grant.wire["provider"]
            removed = deleted_folders(grant.folders, folder_id)
            for folder in removed:
                del grant.folders[folder["id"]]
        at = int(self._clock())
        self._queue_notifications(
            *(folder_notification(FOLDER_DELETED, f, provider=provider, at=at) for f in removed)
        )
        return removed

    def put_message(self, grant_id: str, message: Wire) -> None:
        """Insert or replace a message (see ``simulator.notifications.message_object``)."""
        self.add_messages(grant_id, [message])

    def add_messages(self, grant_id: str, messages: Iterable[Wire]) -> int:
        """Insert or replace many messages at once (one sort, however many); how many.

        ``simulator.mailbox_fill`` makes realistic ones in bulk.
        """
        stored = [{**copy.deepcopy(m), "grant_id": grant_id} for m in messages]
        with self._lock:
            self._grant(grant_id).messages.put_many(stored)
        return len(stored)

    def remove_message(self, grant_id: str, message_id: str) -> None:
        """Delete a message; later lookups get 404. Unknown ids are ignored."""
        with self._lock:
            self._grant(grant_id).messages.remove(message_id)

    # Reads (used by the API) -----------------------------------------------------------------

    def grants(self) -> list[Wire]:
        """Every grant, in the order they were added."""
        with self._lock:
            return [copy.deepcopy(grant.wire) for grant in self._grants.values()]

    def grant(self, grant_id: str) -> Wire | None:
        """The grant's wire dict, or None."""
        with self._lock:
            grant = self._grants.get(grant_id)
            return None if grant is None else copy.deepcopy(grant.wire)

    def folders(self, grant_id: str) -> list[Wire]:
        """All of a grant's folders in id order; for Microsoft, ``child_count`` kept true."""
        with self._lock:
            grant = self._grant(grant_id)
            folders = [copy.deepcopy(grant.folders[key]) for key in sorted(grant.folders)]
            provider = grant.wire["provider"]
        if provider == "microsoft":
            for folder in folders:
                folder["child_count"] = sum(
                    1 for f in folders if f.get("parent_id") == folder["id"]
                )
        return folders

    def folder_id(self, grant_id: str, role: str) -> str | None:
        """The id of the grant's folder with special-use ``role`` (``\\Inbox``, ``\\Sent``)."""
        with self._lock:
            return folder_with_role(self._grant(grant_id).folders.values(), role)

    def messages(self, grant_id: str, query: MessageQuery | None = None) -> list[Wire]:
        """A grant's messages passing ``query``, newest first (ties by id)."""
        with self._lock:
            return self._grant(grant_id).messages.all(query or MessageQuery())

    def message_page(
        self,
        grant_id: str,
        query: MessageQuery,
        *,
        limit: int,
        after: tuple[int, str] | None = None,
    ) -> tuple[list[Wire], bool]:
        """One page of :meth:`messages`: up to ``limit`` after the sort key ``after``, and
        whether more follow. Costs the page, not the mailbox (see ``simulator.message_index``).
        """
        with self._lock:
            return self._grant(grant_id).messages.page(query, limit=limit, after=after)

    def message(self, grant_id: str, message_id: str) -> Wire | None:
        """One message, or None when the grant has no such message."""
        with self._lock:
            return self._grant(grant_id).messages.get(message_id)

    # Internals -----------------------------------------------------------------------------

    def _queue_notifications(self, *notifications: Wire) -> None:
        """Queue them, each with its grant's application's ``data.application_id``."""
        super()._queue_notifications(*(self.applications.stamped(n) for n in notifications))

    def _grant(self, grant_id: str) -> StoredGrant:
        try:
            return self._grants[grant_id]
        except KeyError:
            raise KeyError(f"no grant {grant_id!r} in the fake Nylas") from None

    def _add_presets(self, grant_id: str, provider: str, email: str) -> None:
        """The folders and calendars a new mailbox of ``provider`` starts with."""
        presets = {"google": gmail_folders, "microsoft": microsoft_folders, "imap": imap_folders}
        if provider in presets:
            self.add_folders(grant_id, presets[provider](grant_id))
        if provider == "google":
            self.add_calendars(grant_id, google_calendars(grant_id, email))
        elif provider == "microsoft":
            self.add_calendars(grant_id, microsoft_calendars(grant_id))
