"""Folders created, renamed and deleted in a fake mailbox, and the ``folder.*`` they cause.

A user who adds a label in Gmail or a folder in Outlook makes Nylas send ``folder.created``;
renaming it sends ``folder.updated``, deleting it ``folder.deleted`` (Nylas's notification
reference, "Folders and Labels"). crmsync keeps its folder cache current from them (E2), so the
simulator must be able to cause them, with ids as each provider spells them (NYLAS.md 3.2):
Gmail user labels are ``Label_<n>``, Microsoft ids are opaque and nest through ``parent_id``,
IMAP ids embed the path.

The rules here are pure: they read the mailbox's folders and return what changes, and
``FakeNylas`` applies it under its lock. Every refusal is a :class:`FolderRefused` carrying the
HTTP status the control route answers with.
"""

from __future__ import annotations

import base64
import copy
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from simulator.control_bodies import Refused
from simulator.notifications import envelope

Wire = dict[str, Any]

MAX_NAME_LENGTH = 255  # Gmail's and Microsoft Graph's limit for a label or folder name
MAX_ATTRIBUTES = 8
MAX_ATTRIBUTE_LENGTH = 32
MAX_FOLDERS_PER_MAILBOX = 1_000  # keeps a hostile caller from growing the fake without bound
# A special-use flag as Nylas writes it (RFC 9051 / RFC 6154): a backslash and a word.
_ATTRIBUTE = re.compile(r"\\[A-Za-z][A-Za-z0-9]*")
# A folder carrying one of these is the provider's own: neither renamed nor deleted.
SYSTEM_ROLES = ("\\Inbox", "\\Sent", "\\Drafts", "\\Junk", "\\Trash", "\\Archive")
MICROSOFT_ROOT_PREFIX = "AAMkAD"

FOLDER_CREATED = "folder.created"
FOLDER_UPDATED = "folder.updated"
FOLDER_DELETED = "folder.deleted"


class FolderRefused(Refused):
    """Raised when a folder write is refused; ``status`` is the HTTP status to answer."""


def checked_name(value: object) -> str:
    """A folder name as a caller sent it: text of 1 to 255 characters, no control characters."""
    if not isinstance(value, str) or not value.strip():
        raise FolderRefused(400, "name must be a non-empty string")
    name = value.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise FolderRefused(400, f"name must be at most {MAX_NAME_LENGTH} characters")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise FolderRefused(400, "name must not hold control characters")
    return name


def checked_attributes(value: object) -> list[str]:
    """Special-use flags such as ``\\Archive``: at most 8, each a backslash and a word."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_ATTRIBUTES:
        raise FolderRefused(400, f"attributes must be a list of at most {MAX_ATTRIBUTES} flags")
    for flag in value:
        if (
            not isinstance(flag, str)
            or len(flag) > MAX_ATTRIBUTE_LENGTH
            or not _ATTRIBUTE.fullmatch(flag)
        ):
            raise FolderRefused(400, 'each attribute is a flag such as "\\\\Archive"')
    return list(dict.fromkeys(value))


def is_system_folder(folder: Mapping[str, Any]) -> bool:
    """Whether the provider owns ``folder`` (Gmail's system labels, well-known folders)."""
    if folder.get("system_folder") is True:
        return True
    return any(role in (folder.get("attributes") or []) for role in SYSTEM_ROLES)


def new_folder(
    grant_id: str,
    provider: str,
    folders: Mapping[str, Wire],
    *,
    name: str,
    attributes: Sequence[str] = (),
    parent_id: str | None = None,
) -> Wire:
    """The Folder object a new label or folder gets, as ``GET /folders`` would list it.

    ``parent_id`` nests a Microsoft folder (the default parent is the mailbox root); Gmail
    nests labels by name (``Clients/Acme``) and IMAP by path (``INBOX.Clients``), so they
    refuse it, as Nylas's Create Folder does ("Microsoft only").
    """
    if len(folders) >= MAX_FOLDERS_PER_MAILBOX:
        raise FolderRefused(400, f"a mailbox holds at most {MAX_FOLDERS_PER_MAILBOX} folders")
    if parent_id is not None and provider != "microsoft":
        raise FolderRefused(
            400, "parent_id is for Microsoft folders; nest a Gmail label or IMAP folder by name"
        )
    if parent_id is not None and parent_id not in folders:
        raise FolderRefused(404, f"no folder {parent_id} in grant {grant_id}")
    if provider == "microsoft" and parent_id is None:
        parent_id = microsoft_root(folders)
    _refuse_duplicate(folders.values(), name, parent_id, keep=None)
    folder: Wire = {
        "id": _new_id(grant_id, provider, folders, name),
        "grant_id": grant_id,
        "object": "folder",
        "name": name,
        "attributes": list(attributes),
    }
    if provider == "google":
        folder["system_folder"] = False
    elif provider == "microsoft":
        folder.update(parent_id=parent_id, child_count=0)
    return folder


def renamed_folder(folders: Mapping[str, Wire], folder_id: str, name: str) -> Wire:
    """The folder ``folder_id`` under its new ``name``, its id unchanged (as Nylas keeps Gmail
    and Microsoft ids; an IMAP id, which embeds the path, keeps the old one here)."""
    folder = _user_folder(folders, folder_id, "renamed")
    _refuse_duplicate(folders.values(), name, folder.get("parent_id"), keep=folder_id)
    return {**copy.deepcopy(folder), "name": name}


def deleted_folders(folders: Mapping[str, Wire], folder_id: str) -> list[Wire]:
    """The folders deleting ``folder_id`` removes: its subfolders first (deepest first), then
    itself, as Outlook deletes a folder with everything below it."""
    _user_folder(folders, folder_id, "deleted")
    removed: list[Wire] = []

    def below(parent: str, seen: set[str]) -> None:
        for child in sorted(f["id"] for f in folders.values() if f.get("parent_id") == parent):
            if child not in seen:
                seen.add(child)
                below(child, seen)
                removed.append(copy.deepcopy(folders[child]))

    below(folder_id, {folder_id})
    removed.append(copy.deepcopy(folders[folder_id]))
    return removed


def folder_notification(trigger: str, folder: Mapping[str, Any], *, provider: str, at: int) -> Wire:
    """``folder.created``, ``.updated`` or ``.deleted`` carrying the Folder object.

    Shape from Nylas's notification reference (``folder-created``, ``folder-updated``,
    ``folder-deleted``): ``data.object`` is the folder (``id``, ``grant_id``, ``name``,
    ``object: "folder"``, ``system_folder`` for Google), and the source is the provider's
    incremental email sync (``/google/emails/incremental``). The object is the folder as the
    API lists it, so ``attributes`` and Microsoft's ``parent_id`` ride along.
    """
    return envelope(
        trigger, copy.deepcopy(dict(folder)), source=f"/{provider}/emails/incremental", at=at
    )


def microsoft_root(folders: Mapping[str, Wire]) -> str | None:
    """The (unlisted) root folder of a Microsoft mailbox: the parent of its inbox."""
    for folder in folders.values():
        if "\\Inbox" in (folder.get("attributes") or []):
            parent = folder.get("parent_id")
            return parent if isinstance(parent, str) else None
    return None


def _user_folder(folders: Mapping[str, Wire], folder_id: str, change: str) -> Wire:
    folder = folders.get(folder_id)
    if folder is None:
        raise FolderRefused(404, f"no folder {folder_id}")
    if is_system_folder(folder):
        raise FolderRefused(400, f"{folder.get('name')!r} is a system folder: not {change}")
    return folder


def _refuse_duplicate(
    folders: Iterable[Wire], name: str, parent_id: object, *, keep: str | None
) -> None:
    """Providers refuse two folders of one name under one parent (compared ignoring case)."""
    for folder in folders:
        same_parent = folder.get("parent_id") == parent_id
        same_name = str(folder.get("name", "")).casefold() == name.casefold()
        if same_parent and same_name and folder["id"] != keep:
            raise FolderRefused(409, f"a folder named {name!r} already exists here")


def _new_id(grant_id: str, provider: str, folders: Mapping[str, Wire], name: str) -> str:
    if provider == "google":
        numbers = [
            int(key.removeprefix("Label_"))
            for key in folders
            if key.startswith("Label_") and key.removeprefix("Label_").isdigit()
        ]
        return f"Label_{max(numbers, default=0) + 1}"
    if provider == "microsoft":
        raw = uuid.uuid4().bytes + uuid.uuid5(uuid.NAMESPACE_URL, grant_id).bytes
        return MICROSOFT_ROOT_PREFIX + base64.urlsafe_b64encode(raw).decode()
    # IMAP: the path is in the id (see simulator.folder_presets.imap_folder_id).
    return f"v0:{uuid.uuid5(uuid.NAMESPACE_URL, grant_id)}:{name}"
