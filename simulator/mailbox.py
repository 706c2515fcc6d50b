"""The state behind the fake Nylas API: grants, folders and messages, and the faults to serve.

Tests, ``crmsync demo`` and the benchmarks fill a :class:`FakeNylas` and serve it with
``simulator.nylas_api.build_nylas_api``; the real ``nylas`` SDK then talks to it over HTTP.
Everything is kept as wire dicts (NYLAS.md 3.1, 3.2, 5.1), so what is stored is what is served.
The object is shared between the server's event loop and the test's thread, hence one lock.

The folder presets reproduce what makes each provider awkward (NYLAS.md 3.2): Gmail label ids
that read like names, Microsoft opaque ids nested three levels deep (the API lists only two),
IMAP ids that embed the path and attributes passed through from the server.

Calendars and events (presets, writes, the notifications they cause) live in
``simulator.calendar``; :class:`FakeNylas` inherits them, so one object holds a whole account.
"""

from __future__ import annotations

import copy
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from simulator.calendar import Clock, FakeCalendars, google_calendars, microsoft_calendars

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


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the fake received: decoded path, and each query key's values in order."""

    method: str
    path: str
    query: dict[str, list[str]]


@dataclass(slots=True)
class Fault:
    """A planned misbehaviour, served to the next ``times`` matching requests.

    ``status`` None means "answer normally, after ``delay_seconds``". ``body`` replaces the
    JSON error body (e.g. an HTML 502 page from a proxy).
    """

    status: int | None
    path_contains: str | None = None
    method: str | None = None
    times: int = 1
    retry_after: int | str | None = None
    delay_seconds: float = 0.0
    body: str | None = None
    error_type: str | None = None
    content_type: str = "text/html; charset=utf-8"

    def matches(self, method: str, path: str) -> bool:
        """Whether a request with ``method`` and ``path`` is one this fault is for."""
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path_contains is None or self.path_contains in path


@dataclass(frozen=True, slots=True)
class MessageQuery:
    """The filters of ``GET /messages`` (NYLAS.md 3.1), all optional and combined with AND."""

    any_email: tuple[str, ...] = ()
    in_folder: str | None = None
    received_after: int | None = None
    received_before: int | None = None
    unread: bool | None = None
    starred: bool | None = None


def message_addresses(message: Wire) -> set[str]:
    """Every address in a message's from, to, cc and bcc, lower-cased."""
    found: set[str] = set()
    for key in ("from", "to", "cc", "bcc"):
        for participant in message.get(key) or []:
            email = participant.get("email")
            if isinstance(email, str):
                found.add(email.strip().lower())
    return found


def message_matches(message: Wire, query: MessageQuery) -> bool:
    """Whether ``message`` passes ``query``.

    ``received_after`` and ``received_before`` are strict bounds on ``date``: the stricter
    reading of the docs, so code that needs a boundary message must ask for one second more.
    """
    date = int(message.get("date") or 0)
    checks = (
        not query.any_email
        or not message_addresses(message).isdisjoint(a.lower() for a in query.any_email),
        query.in_folder is None or query.in_folder in (message.get("folders") or []),
        query.received_after is None or date > query.received_after,
        query.received_before is None or date < query.received_before,
        query.unread is None or bool(message.get("unread")) == query.unread,
        query.starred is None or bool(message.get("starred")) == query.starred,
    )
    return all(checks)


def message_order(message: Wire) -> tuple[int, str]:
    """The sort key of the message list: newest ``date`` first, then by id."""
    return (-int(message.get("date") or 0), str(message["id"]))


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
    messages: dict[str, Wire] = field(default_factory=dict)


class FakeNylas(FakeCalendars):
    """In-memory Nylas: what the fake API serves, the faults it injects, the requests it saw.

    ``clock`` (unix seconds, ``time.time`` by default) stamps grants and every calendar write.
    """

    def __init__(self, api_key: str = "fake-nylas-api-key", *, clock: Clock = time.time) -> None:
        super().__init__(clock)
        self.api_key = api_key
        self._lock = threading.Lock()
        self._grants: dict[str, _Grant] = {}
        self._faults: list[Fault] = []
        self._requests: list[RecordedRequest] = []

    # Content -------------------------------------------------------------------------------

    def add_grant(self, grant_id: str, provider: str, email: str) -> Wire:
        """Add (or replace) a valid grant with no folders, messages, calendars or events."""
        now = int(self._clock())
        wire: Wire = {
            "id": grant_id,
            "provider": provider,
            "grant_status": "valid",
            "email": email,
            "scope": [],
            "created_at": now,
            "updated_at": now,
        }
        with self._lock:
            self._grants[grant_id] = _Grant(wire)
        self._open_calendars(grant_id, provider, email)
        return copy.deepcopy(wire)

    def add_mailbox(self, grant_id: str, provider: str, email: str) -> Wire:
        """A grant with the folder and calendar presets of its provider (IMAP has no calendars)."""
        presets = {"google": gmail_folders, "microsoft": microsoft_folders, "imap": imap_folders}
        grant = self.add_grant(grant_id, provider, email)
        self.add_folders(grant_id, presets[provider](grant_id))
        if provider == "google":
            self.add_calendars(grant_id, google_calendars(grant_id, email))
        elif provider == "microsoft":
            self.add_calendars(grant_id, microsoft_calendars(grant_id))
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

    def put_message(self, grant_id: str, message: Wire) -> None:
        """Insert or replace a message (see ``simulator.notifications.message_object``)."""
        with self._lock:
            stored = copy.deepcopy(message)
            stored["grant_id"] = grant_id
            self._grant(grant_id).messages[stored["id"]] = stored

    def remove_message(self, grant_id: str, message_id: str) -> None:
        """Delete a message; later lookups get 404. Unknown ids are ignored."""
        with self._lock:
            self._grant(grant_id).messages.pop(message_id, None)

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

    def messages(self, grant_id: str, query: MessageQuery | None = None) -> list[Wire]:
        """A grant's messages passing ``query``, newest first (ties by id)."""
        query = query or MessageQuery()
        with self._lock:
            found = [
                copy.deepcopy(m)
                for m in self._grant(grant_id).messages.values()
                if message_matches(m, query)
            ]
        return sorted(found, key=message_order)

    def message(self, grant_id: str, message_id: str) -> Wire | None:
        """One message, or None when the grant has no such message."""
        with self._lock:
            message = self._grant(grant_id).messages.get(message_id)
            return None if message is None else copy.deepcopy(message)

    def _grant(self, grant_id: str) -> _Grant:
        try:
            return self._grants[grant_id]
        except KeyError:
            raise KeyError(f"no grant {grant_id!r} in the fake Nylas") from None

    # Faults and the request log ----------------------------------------------------------------

    def inject(
        self,
        status: int | None,
        *,
        path_contains: str | None = None,
        method: str | None = None,
        times: int = 1,
        retry_after: int | str | None = None,
        delay_seconds: float = 0.0,
        body: str | None = None,
        error_type: str | None = None,
        content_type: str = "text/html; charset=utf-8",
    ) -> None:
        """Serve ``status`` to the next ``times`` matching requests, after ``delay_seconds``.

        Faults are consumed in the order they were injected. ``status`` None answers normally
        after the delay. ``retry_after`` (seconds or an HTTP date) becomes the ``Retry-After``
        header; ``body`` (sent as ``content_type``) replaces the JSON error: an HTML page
        breaks the SDK's decoding, a JSON document without a required field breaks its models.
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        fault = Fault(
            status,
            path_contains=path_contains,
            method=method,
            times=times,
            retry_after=retry_after,
            delay_seconds=delay_seconds,
            body=body,
            error_type=error_type,
            content_type=content_type,
        )
        with self._lock:
            self._faults.append(fault)

    def slow(
        self,
        delay_seconds: float,
        *,
        path_contains: str | None = None,
        method: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` matching requests normally, but ``delay_seconds`` late."""
        self.inject(
            None,
            path_contains=path_contains,
            method=method,
            times=times,
            delay_seconds=delay_seconds,
        )

    def take_fault(self, method: str, path: str) -> Fault | None:
        """The first pending fault matching this request, counted as served once."""
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.matches(method, path):
                    fault.times -= 1
                    if fault.times == 0:
                        del self._faults[index]
                    return copy.copy(fault)
        return None

    @property
    def pending_faults(self) -> int:
        """How many injected faults are not yet used up."""
        with self._lock:
            return len(self._faults)

    def record(self, method: str, path: str, query: dict[str, list[str]]) -> None:
        """Log one received request."""
        with self._lock:
            self._requests.append(RecordedRequest(method, path, query))

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    def requests_to(
        self, path_contains: str, *, method: str | None = None
    ) -> list[RecordedRequest]:
        """The requests whose path contains ``path_contains`` (and of ``method``, if given)."""
        return [
            r
            for r in self.requests
            if path_contains in r.path and (method is None or r.method == method.upper())
        ]

    def clear_requests(self) -> None:
        """Forget the request log (e.g. after setting a test up through the API)."""
        with self._lock:
            self._requests.clear()
