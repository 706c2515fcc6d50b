"""Each provider's folder presets, and the rules by which each lists and names its folders.

What makes each provider awkward (NYLAS.md 3.2) lives here rather than in the state that holds
the folders (``simulator.grant_store``), so the state stays the same for every provider: Gmail
label ids that read like names, Microsoft opaque ids nested three levels deep (the API lists
only two), IMAP ids that embed the path and attributes passed through from the server. Tests
and the benchmarks name the preset ids to file messages in the folders a new mailbox starts
with.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

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
