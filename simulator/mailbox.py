"""The state behind the fake Nylas API: grants, folders and messages, and the faults to serve.

Tests, ``crmsync demo`` and the benchmarks fill a :class:`FakeNylas` and serve it with
``simulator.nylas_api.build_nylas_api``; the real ``nylas`` SDK then talks to it over HTTP.
Everything is kept as wire dicts (NYLAS.md 3.1, 3.2, 5.1), so what is stored is what is served.
The object is shared between the server's event loop and the test's thread, hence one lock.

The folder presets reproduce what makes each provider awkward (NYLAS.md 3.2): Gmail label ids
that read like names, Microsoft opaque ids nested three levels deep (the API lists only two),
IMAP ids that embed the path and attributes passed through from the server.

Calendars and events (presets, writes, the notifications they cause) live in
``simulator.calendar``; :class:`FakeNylas` inherits them, so one object holds a whole account,
and it inherits the faults and request log of ``simulator.faults``. Messages are kept in list
order by ``simulator.message_index``; hosted auth (consent, codes, the token exchange) follows
``simulator.hosted_auth`` and sends ``simulator.sending``. Every notification Nylas would send
after a write (events, grant lifecycle, sends, bounces) waits in one queue, read with
:meth:`FakeNylas.drain_notifications`.
"""

from __future__ import annotations

import copy
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from simulator.applications import Application, Applications
from simulator.calendar import Clock, FakeCalendars, google_calendars, microsoft_calendars
from simulator.faults import Fault as Fault  # re-exported: the API and tests name it here
from simulator.faults import FaultLog
from simulator.faults import RecordedRequest as RecordedRequest
from simulator.folder_writes import (
    FOLDER_CREATED,
    FOLDER_DELETED,
    FOLDER_UPDATED,
    deleted_folders,
    folder_notification,
    new_folder,
    renamed_folder,
)
from simulator.hosted_auth import (
    ACCESS_TYPES,
    DEFAULT_CLIENT_ID,
    PROVIDERS,
    AuthError,
    CodeBook,
    IssuedCode,
    default_scope,
    display_name,
    generated_email,
    token_response,
)
from simulator.message_index import MessageIndex
from simulator.message_index import MessageQuery as MessageQuery  # re-exported, as Fault
from simulator.message_index import message_addresses as message_addresses
from simulator.message_index import message_matches as message_matches
from simulator.message_index import message_order as message_order
from simulator.notifications import (
    grant_created,
    grant_deleted,
    grant_expired,
    grant_updated,
    message_bounce_detected,
    message_notification,
    message_send_success,
)
from simulator.sending import InvalidSend, new_message_id, recipient_addresses, sent_message

Wire = dict[str, Any]

# Gmail: label ids read like names; user labels are Label_<n>.
GMAIL_INBOX_ID = "INBOX"
GMAIL_SENT_ID = "SENT"
GMAIL_COOLSTUFF_ID = "Label_1"
GMAIL_CLIENTS_ACME_ID = "Label_2"

# Microsoft: opaque ids. Top-level folders have the (unlisted) root folder as their parent.
MICROSOFT_ROOT_ID = "AAMkADRmYTk1ZjQ0LTRhZjctNDM1Ny1hMmYzLTdhYjgxNDQ5ZWQxOAAuAAAAAAAQvEAAAQ=="
MICROSOFT_INBOX_ID = "AAMkADRmYTk1ZjQ0LTRhZjctNDM1Ny1hMmYzLTdhYjgxNDQ5ZWQxOAAuAAAAAAAQvEAAAg=="
MICROSOFT_SENT_ID = "AAMkADRmYTk1ZjQ0LTRhZjctNDM1Ny1hMmYzLTdhYjgxNDQ5ZWQxOAAuAAAAAAAQvEAAAw=="
MICROSOFT_DRAFTS_ID = "AAMkADRmYTk1ZjQ0LTRhZjctNDM1Ny1hMmYzLTdhYjgxNDQ5ZWQxOAAuAAAAAAAQvEAABA=="
MICROSOFT_DELETED_ID = "AAMkADRmYTk1ZjQ0LTRhZjctNDM1Ny1hMmYzLTdhYjgxNDQ5ZWQxOAAuAAAAAAAQvEAABQ=="
MICROSOFT_JUNK_ID = "AAMkADRmYTk1ZjQ0LTRhZjctNDM1Ny1hMmYzLTdhYjgxNDQ5ZWQxOAAuAAAAAAAQvEAABg=="
MICROSOFT_ARCHIVE_ID = "AAMkADRmYTk1ZjQ0LTRhZjctNDM1Ny1hMmYzLTdhYjgxNDQ5ZWQxOAAuAAAAAAAQvEAABw=="
MICROSOFT_COOLSTUFF_ID = "AAMkADRmYTk1ZjQ0LTRhZjctNDM1Ny1hMmYzLTdhYjgxNDQ5ZWQxOAAuAAAAAAAQvEAACA=="
MICROSOFT_DEEP_ID = "AAMkADRmYTk1ZjQ0LTRhZjctNDM1Ny1hMmYzLTdhYjgxNDQ5ZWQxOAAuAAAAAAAQvEAACQ=="

MICROSOFT_VISIBLE_DEPTH = 2  # GET /folders without parent_id lists only the top two levels


def gmail_folders(grant_id: str) -> list[Wire]:
    """A Gmail mailbox's labels: system ones, a user label and a nested user label."""

    def label(label_id: str, name: str, attributes: list[str], *, system: bool) -> Wire:
        return {
            "id": label_id,
            "grant_id": grant_id,
            "object": "folder",
            "name": name,
            "system_folder": system,
            "attributes": attributes,
        }

    return [
        label(GMAIL_INBOX_ID, "INBOX", ["\\Inbox"], system=True),
        label(GMAIL_SENT_ID, "SENT", ["\\Sent"], system=True),
        label("DRAFT", "DRAFT", ["\\Drafts"], system=True),
        label("TRASH", "TRASH", ["\\Trash"], system=True),
        label("SPAM", "SPAM", ["\\Junk"], system=True),
        label("IMPORTANT", "IMPORTANT", [], system=True),
        label("UNREAD", "UNREAD", [], system=True),
        label("CATEGORY_PERSONAL", "CATEGORY_PERSONAL", [], system=True),
        label(GMAIL_COOLSTUFF_ID, "CoolStuff", [], system=False),
        label(GMAIL_CLIENTS_ACME_ID, "Clients/Acme", [], system=False),
    ]


def microsoft_folders(grant_id: str) -> list[Wire]:
    """A Microsoft mailbox: well-known folders, and Inbox > CoolStuff > Deep (three levels)."""

    def folder(
        folder_id: str, name: str, attributes: list[str], parent_id: str, children: int = 0
    ) -> Wire:
        return {
            "id": folder_id,
            "grant_id": grant_id,
            "object": "folder",
            "name": name,
            "parent_id": parent_id,
            "child_count": children,
            "attributes": attributes,
        }

    return [
        folder(MICROSOFT_INBOX_ID, "Inbox", ["\\Inbox"], MICROSOFT_ROOT_ID, children=1),
        folder(MICROSOFT_SENT_ID, "Sent Items", ["\\Sent"], MICROSOFT_ROOT_ID),
        folder(MICROSOFT_DRAFTS_ID, "Drafts", ["\\Drafts"], MICROSOFT_ROOT_ID),
        folder(MICROSOFT_DELETED_ID, "Deleted Items", ["\\Trash"], MICROSOFT_ROOT_ID),
        folder(MICROSOFT_JUNK_ID, "Junk Email", ["\\Junk"], MICROSOFT_ROOT_ID),
        folder(MICROSOFT_ARCHIVE_ID, "Archive", ["\\Archive"], MICROSOFT_ROOT_ID),
        folder(MICROSOFT_COOLSTUFF_ID, "CoolStuff", [], MICROSOFT_INBOX_ID, children=1),
        folder(MICROSOFT_DEEP_ID, "Deep", [], MICROSOFT_COOLSTUFF_ID),
    ]


def imap_folder_id(grant_id: str, path: str) -> str:
    """The id Nylas gives the IMAP folder at ``path`` (``v0:<uuid>:<path>``), stable per grant."""
    return f"v0:{uuid.uuid5(uuid.NAMESPACE_URL, grant_id)}:{path}"


def imap_folders(grant_id: str) -> list[Wire]:
    """An IMAP mailbox with ``.`` as separator; attributes as an IMAP server passes them.

    INBOX carries no ``\\Inbox`` special-use flag (RFC 6154 defines none: the name INBOX is
    what makes it the inbox), so code that finds the inbox by attribute alone will miss it.
    """

    def folder(path: str, attributes: list[str]) -> Wire:
        return {
            "id": imap_folder_id(grant_id, path),
            "grant_id": grant_id,
            "object": "folder",
            "name": path,
            "attributes": attributes,
        }

    return [
        folder("INBOX", ["\\HasChildren"]),
        folder("INBOX.Sent", ["\\Sent"]),
        folder("INBOX.CoolStuff", []),
    ]


def folder_depth(folder: Wire, by_id: dict[str, Wire]) -> int:
    """1 for a top-level folder, 2 for its children...; a parent not listed counts as the root."""
    depth, seen = 1, {folder["id"]}
    parent = folder.get("parent_id")
    while parent in by_id and parent not in seen:
        seen.add(parent)
        depth += 1
        parent = by_id[parent].get("parent_id")
    return depth


def listed_folders(
    folders: list[Wire], *, provider: str, parent_id: str | None, single_level: bool = False
) -> list[Wire]:
    """What ``GET /folders`` lists (NYLAS.md 3.2).

    For Microsoft: without ``parent_id`` only the top two levels (one with ``single_level``);
    with it, the folder's direct children. Other providers ignore both options.
    """
    if provider != "microsoft":
        return list(folders)
    if parent_id is not None:
        return [f for f in folders if f.get("parent_id") == parent_id]
    by_id = {f["id"]: f for f in folders}
    deepest = 1 if single_level else MICROSOFT_VISIBLE_DEPTH
    return [f for f in folders if folder_depth(f, by_id) <= deepest]


@dataclass(slots=True)
class _Grant:
    wire: Wire
    folders: dict[str, Wire] = field(default_factory=dict)
    messages: MessageIndex = field(default_factory=MessageIndex)
    bouncing: set[str] = field(default_factory=set)


def folder_with_role(folders: Iterable[Wire], role: str) -> str | None:
    """The id of the folder with special-use ``role`` (``\\Inbox``, ``\\Sent``...), or None.

    IMAP's INBOX carries no ``\\Inbox`` flag (see :func:`imap_folders`): its name makes it one.
    """
    listed = list(folders)
    for folder in sorted(listed, key=lambda f: str(f["id"])):
        if role in (folder.get("attributes") or []):
            return str(folder["id"])
    if role == "\\Inbox":
        named = [f for f in listed if str(f.get("name", "")).upper() == "INBOX"]
        return str(named[0]["id"]) if named else None
    return None


def _grant_wire(grant_id: str, provider: str, email: str, *, now: int) -> Wire:
    return {
        "id": grant_id,
        "provider": provider,
        "grant_status": "valid",
        "email": email,
        "scope": [],
        "created_at": now,
        "updated_at": now,
    }


class FakeNylas(FakeCalendars, FaultLog):
    """In-memory Nylas: what the fake API serves, the faults it injects, the requests it saw.

    ``clock`` (unix seconds, ``time.time`` by default) stamps grants, sent messages, every
    calendar write and the notifications queued for :meth:`drain_notifications`.
    ``client_id`` is the application's, checked by hosted auth (the API key is its client
    secret); more applications, each with its own grants, come from :meth:`add_application`
    (``simulator.applications``). ``notify_send_success`` queues ``message.send_success``
    after each send, as Nylas does when the application enables it for immediate sends
    (NYLAS.md 1.3).
    """

    def __init__(
        self,
        api_key: str = "fake-nylas-api-key",
        *,
        clock: Clock = time.time,
        client_id: str = DEFAULT_CLIENT_ID,
        notify_send_success: bool = False,
    ) -> None:
        FakeCalendars.__init__(self, clock)
        FaultLog.__init__(self)
        self.api_key = api_key  # the first application's (the API serves every application's)
        self.client_id = client_id
        self.applications = Applications(client_id, api_key, clock=clock)
        self.notify_send_success = notify_send_success
        self._lock = threading.Lock()
        self._grants: dict[str, _Grant] = {}
        self._codes = CodeBook()
        self._refusals: dict[str, str] = {}

    # Content -------------------------------------------------------------------------------

    def add_application(
        self, client_id: str, api_key: str, *, webhook_secret: str | None = None
    ) -> Application:
        """Another Nylas application; ``webhook_secret`` signs its grants' notifications."""
        return self.applications.add(client_id, api_key, webhook_secret=webhook_secret)

    def credential_of_grant(self, grant_id: str) -> str | None:
        """The connector credential the grant's latest consent went through, or None."""
        with self._lock:
            return self._grant(grant_id).wire.get("credential_id")

    def add_grant(
        self, grant_id: str, provider: str, email: str, *, application: str | None = None
    ) -> Wire:
        """Add (or replace) a valid grant with no folders, messages, calendars or events, as a
        grant of the application with client id ``application`` (the first by default)."""
        wire = _grant_wire(grant_id, provider, email, now=int(self._clock()))
        self.applications.assign(grant_id, application)
        with self._lock:
            self._grants[grant_id] = _Grant(wire)
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

    # Hosted auth and the grant lifecycle (simulator.hosted_auth) -------------------------------

    def authorize(
        self,
        email: str | None = None,
        provider: str = "google",
        *,
        redirect_uri: str,
        client_id: str | None = None,
        scope: Sequence[str] | None = None,
        access_type: str = "online",
        credential_id: str | None = None,
    ) -> str:
        """The user at ``email`` consents (what ``GET /v3/connect/auth`` does); the one-time code.

        The grant is the application ``client_id``'s (the first by default), one per address
        per application; ``credential_id`` (a connector credential of that application and
        provider) is recorded on the code and on the grant (``credential_id``).

        A new address gets a new grant (with its provider's presets) and queues
        ``grant.created``; an address that already has a grant re-authenticates it (same id,
        ``grant_status`` valid again) and queues ``grant.updated``, with
        ``reauthentication_flag`` true when the grant had expired. Refusals
        (:meth:`refuse_consent`) are the API's to answer; this always consents.
        """
        if provider not in PROVIDERS:
            raise ValueError(f"provider must be one of {PROVIDERS}, got {provider!r}")
        if access_type not in ACCESS_TYPES:
            raise ValueError(f"access_type must be one of {ACCESS_TYPES}")
        client_id = client_id or self.client_id
        if self.applications.get(client_id) is None:
            raise ValueError(f"no application has client_id {client_id!r}")
        if credential_id is not None and not self.applications.usable_credential(
            client_id, credential_id, provider
        ):
            raise ValueError(f"credential_id is not a {provider} credential of {client_id!r}")
        granted = tuple(scope) if scope else default_scope(provider)
        email = email or generated_email(provider)
        grant_id = self._consent(email, provider, granted, client_id, credential_id)
        with self._lock:
            return self._codes.issue(
                grant_id=grant_id,
                client_id=client_id,
                redirect_uri=redirect_uri,
                scope=granted,
                access_type=access_type,
                at=int(self._clock()),
                credential_id=credential_id,
            )

    def issued_code(self, code: str) -> IssuedCode | None:
        """What a code not yet redeemed stands for (its application, credential...), or None."""
        with self._lock:
            return self._codes.issued(code)

    def refuse_consent(
        self, email: str, description: str = "The user denied access to their account."
    ) -> None:
        """From now on the user at ``email`` (the ``login_hint``) refuses to consent."""
        with self._lock:
            self._refusals[email.strip().lower()] = description

    def allow_consent(self, email: str) -> None:
        """Undo :meth:`refuse_consent`."""
        with self._lock:
            self._refusals.pop(email.strip().lower(), None)

    def consent_refusal(self, email: str | None) -> str | None:
        """Why the user at ``email`` refuses to consent, or None when they consent."""
        if email is None:
            return None
        with self._lock:
            return self._refusals.get(email.strip().lower())

    def exchange_code(
        self, code: str, *, client_id: str, client_secret: str, redirect_uri: str
    ) -> Wire:
        """``POST /v3/connect/token``: the token answer for a code, which is used up.

        Raises:
            AuthError: a wrong client, or a code unknown, used, expired, issued for another
                ``redirect_uri`` or whose grant was deleted since.
        """
        self.applications.check_client(client_id, client_secret)
        with self._lock:
            issued = self._codes.redeem(
                code, client_id=client_id, redirect_uri=redirect_uri, now=int(self._clock())
            )
            grant = self._grants.get(issued.grant_id)
            if grant is None:
                raise AuthError(400, "invalid_grant", "The grant of this code was deleted.")
            return token_response(issued, grant.wire)

    def delete_grant(self, grant_id: str) -> bool:
        """``DELETE /v3/grants/{id}``: the grant and its content go; ``grant.deleted`` is
        queued. False (and nothing queued) when there was no such grant."""
        with self._lock:
            grant = self._grants.pop(grant_id, None)
            self._codes.forget_grant(grant_id)
        if grant is None:
            return False
        self._close_calendars(grant_id)
        wire = grant.wire
        at = int(self._clock())
        notification = grant_deleted(
            grant_id, provider=wire["provider"], email=wire.get("email"), at=at
        )
        self._queue_notifications(notification)
        return True

    def expire_grant(self, grant_id: str) -> Wire:
        """The grant's credentials stop working: ``invalid``, and ``grant.expired`` queued
        (and returned). Connecting the same address again brings it back."""
        at = int(self._clock())
        with self._lock:
            wire = self._grant(grant_id).wire
            refreshed = int(wire.get("updated_at") or at)
            wire["grant_status"] = "invalid"
            wire["updated_at"] = at
            provider, email = wire["provider"], wire.get("email")
        notification = grant_expired(
            grant_id, provider=provider, email=email, grant_updated_at=refreshed, at=at
        )
        self._queue_notifications(notification)
        return notification

    # Sending and bounces (simulator.sending) ---------------------------------------------------

    def api_send_message(self, grant_id: str, body: Mapping[str, Any]) -> Wire:
        """``POST /messages/send``: the sent message, stored in the grant's Sent folder.

        Queues ``message.created`` for the Sent copy (Nylas syncs it), ``message.send_success``
        when :attr:`notify_send_success` is on, and ``message.bounce_detected`` for each
        recipient in the grant's bouncing addresses (:meth:`set_bouncing_addresses`).

        Raises:
            InvalidSend: a body the Send API refuses, or an unknown ``reply_to_message_id``.
        """
        at = int(self._clock())
        with self._lock:
            grant = self._grant(grant_id)
            provider = grant.wire["provider"]
            thread_id = self._thread_of(grant, body.get("reply_to_message_id"))
            sent_folder = folder_with_role(grant.folders.values(), "\\Sent")
            message = sent_message(
                grant.wire,
                body,
                message_id=new_message_id(provider),
                thread_id=thread_id or new_message_id(provider),
                folders=[] if sent_folder is None else [sent_folder],
                at=at,
            )
            grant.messages.put(copy.deepcopy(message))
            bounced = [a for a in recipient_addresses(message) if a in grant.bouncing]
        notifications = [message_notification(message, provider=provider, at=at)]
        if self.notify_send_success:
            notifications.append(message_send_success(message, at=at))
        notifications += [
            message_bounce_detected(message, bounced_address=address, at=at) for address in bounced
        ]
        self._queue_notifications(*notifications)
        return message

    def set_bouncing_addresses(self, grant_id: str, addresses: Iterable[str]) -> None:
        """Mail this grant sends to any of ``addresses`` bounces from now on (replaces the set)."""
        with self._lock:
            self._grant(grant_id).bouncing = {a.strip().lower() for a in addresses}

    def bounce(
        self,
        grant_id: str,
        message_id: str,
        reason: str = "550 5.1.1 The email account that you tried to reach does not exist.",
        *,
        address: str | None = None,
    ) -> Wire:
        """A non-delivery report arrives for a sent message: ``message.bounce_detected`` is
        queued (and returned), for ``address`` or else the message's first recipient."""
        with self._lock:
            message = self._grant(grant_id).messages.get(message_id)
        if message is None:
            raise KeyError(f"no message {message_id!r} in grant {grant_id!r}")
        recipients = recipient_addresses(message)
        bounced = address or (recipients[0] if recipients else "")
        notification = message_bounce_detected(
            message, bounced_address=bounced, reason=reason, at=int(self._clock())
        )
        self._queue_notifications(notification)
        return notification

    # Internals -----------------------------------------------------------------------------

    def _queue_notifications(self, *notifications: Wire) -> None:
        """Queue them, each with its grant's application's ``data.application_id``."""
        super()._queue_notifications(*(self.applications.stamped(n) for n in notifications))

    def _grant(self, grant_id: str) -> _Grant:
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

    def _consent(
        self,
        email: str,
        provider: str,
        scope: tuple[str, ...],
        client_id: str,
        credential_id: str | None,
    ) -> str:
        """Create or re-authenticate ``client_id``'s grant of ``email``; queue what Nylas
        sends; its id. ``credential_id`` (SDK ``Grant.credential_id``) is the latest consent's."""
        at = int(self._clock())
        with self._lock:
            existing = next(
                (
                    g.wire
                    for g in self._grants.values()
                    if str(g.wire.get("email", "")).lower() == email.lower()
                    and self.applications.owns(client_id, g.wire["id"])
                ),
                None,
            )
            if existing is None:
                grant_id = str(uuid.uuid4())
                self.applications.assign(grant_id, client_id)
                wire = _grant_wire(grant_id, provider, email, now=at)
                wire.update(scope=list(scope), name=display_name(email))
                self._grants[grant_id] = _Grant(wire)
            else:
                expired = existing["grant_status"] != "valid"
                existing.update(grant_status="valid", updated_at=at, scope=list(scope))
                existing.pop("credential_id", None)
                grant_id, provider = existing["id"], existing["provider"]
            if credential_id is not None:
                self._grants[grant_id].wire["credential_id"] = credential_id
        if existing is not None:
            notification = grant_updated(
                grant_id, provider=provider, email=email, reauthentication_flag=expired, at=at
            )
        else:
            self._open_calendars(grant_id, provider, email)
            self._add_presets(grant_id, provider, email)
            notification = grant_created(
                grant_id,
                provider=provider,
                email=email,
                scope=scope,
                name=display_name(email),
                at=at,
            )
        self._queue_notifications(notification)
        return grant_id

    @staticmethod
    def _thread_of(grant: _Grant, reply_to_message_id: object) -> str | None:
        """The thread a reply joins; None for a new conversation."""
        if reply_to_message_id is None:
            return None
        original = grant.messages.get(str(reply_to_message_id))
        if original is None:
            raise InvalidSend(f"reply_to_message_id {reply_to_message_id} not found", status=404)
        return str(original.get("thread_id") or original["id"])
