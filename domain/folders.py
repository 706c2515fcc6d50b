"""Which of a message's folders a rep syncs (rule E2).

A rep names folders by their final segment, ``;``-separated (``CoolStuff;Awesome``), compared
case-insensitively and exactly: ``Inbox\\CoolStuff`` is entered as ``CoolStuff``, and Gmail's
"Sent Mail" is matched as ``sent``. An empty setting means the inbox and sent folders, found
by their system role (the RFC 9051 ``\\Inbox`` and ``\\Sent`` attributes Nylas maps for every
provider) rather than by name, because names are localised and renamed: Gmail's ``SENT``,
Microsoft's ``Sent Items`` and an IMAP server's ``INBOX.Sent`` all count.

Messages carry folder ids. Gmail ids read like names (``INBOX``, ``Label_12``), Microsoft ids
are opaque, IMAP ids embed the path (``v0:<uuid>:INBOX.Sent``): ids are resolved through a
folder cache per grant before any of these rules apply.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from domain.errors import DomainError
from domain.text import without_nul


class FolderRole(StrEnum):
    """A folder's system role, from its special-use attribute."""

    INBOX = "inbox"
    SENT = "sent"
    DRAFTS = "drafts"
    TRASH = "trash"
    JUNK = "junk"
    ARCHIVE = "archive"


DEFAULT_ROLES = frozenset({FolderRole.INBOX, FolderRole.SENT})

_ROLE_BY_ATTRIBUTE = {f"\\{role.value}": role for role in FolderRole}

# Used only when a folder carries no special-use attribute at all (IMAP servers without the
# SPECIAL-USE extension): INBOX is the inbox by IMAP's own definition, and these are the
# names such servers give their sent folder.
_INBOX_NAMES = frozenset({"inbox"})
_SENT_NAMES = frozenset({"sent", "sent items", "sent mail", "sent messages"})
# Special-use attributes (RFC 6154, and Gmail's \\Important) that give no role crmsync uses:
# a folder carrying one has a known purpose, so its name is not read as a role.
_OTHER_SPECIAL_USE = frozenset({"\\all", "\\flagged", "\\important"})

# One attribute inside the string SDK 6.18 makes of the list: a backslash-prefixed word.
_FLAG = re.compile(r"\\+([A-Za-z][A-Za-z-]*)")

_MAX_FOLDER_NAME = 255


class InvalidFolderSetting(DomainError):
    """Raised when a rep's folder setting cannot be read as folder names."""


@dataclass(frozen=True, slots=True)
class Folder:
    """A folder (or Gmail label) of one grant, as the folder cache keeps it."""

    id: str
    name: str
    leaf_name: str
    parent_id: str | None
    role: FolderRole | None


@dataclass(frozen=True, slots=True)
class FolderSelection:
    """The folders a rep syncs: named ones, or (no names) the inbox and sent by role."""

    names: tuple[str, ...] = ()

    @property
    def is_default(self) -> bool:
        return not self.names

    def matches(self, folder: Folder) -> bool:
        """True when ``folder`` is one the rep syncs."""
        if self.is_default:
            return folder.role in DEFAULT_ROLES
        return folder.leaf_name.casefold() in {n.casefold() for n in self.names}

    def setting(self) -> str:
        """The setting as a rep would type it (``""`` for the default)."""
        return ";".join(self.names)


def parse_folder_setting(raw: str | Iterable[str]) -> FolderSelection:
    """Read a rep's folder setting: ``"CoolStuff; Awesome"`` or a list of names.

    Each name is reduced to its final segment (``Inbox\\CoolStuff`` and ``Inbox/CoolStuff``
    become ``CoolStuff``), blanks are dropped, and repeats (compared case-insensitively) are
    kept once, in the order given.

    Raises:
        InvalidFolderSetting: a name is longer than a folder name can be.
    """
    parts = raw.split(";") if isinstance(raw, str) else list(raw)
    names: list[str] = []
    seen: set[str] = set()
    for part in parts:
        # The last segment that holds a name: "Inbox\\" (a trailing separator) is Inbox.
        segments = [s.strip() for s in re.split(r"[\\/]", part) if s.strip()]
        if not segments:
            continue
        name = segments[-1]
        if len(name) > _MAX_FOLDER_NAME:
            raise InvalidFolderSetting(
                "invalid_folders", f"folder name {name[:40]!r}... is longer than 255 characters"
            )
        if name.casefold() not in seen:
            seen.add(name.casefold())
            names.append(name)
    return FolderSelection(tuple(names))


def leaf_name(name: str, provider: str | None) -> str:
    """The final path segment of a folder name as the provider spells paths.

    Gmail nests labels with ``/``; IMAP servers use ``.`` or ``/``; Microsoft names are
    already final (its hierarchy is ``parent_id``).
    """
    if provider == "microsoft":
        return name
    separators = r"[/]" if provider == "google" else r"[./]"
    segments = [s for s in re.split(separators, name) if s]
    return segments[-1] if segments else name


def folder_role(attributes: Iterable[str], leaf: str) -> FolderRole | None:
    """A folder's system role: from its special-use attributes, else (none) from its name.

    Attributes that are not special-use (IMAP's ``\\HasChildren``, ``\\HasNoChildren``,
    ``\\Noselect``, ``\\Marked``...) say nothing about the role: an IMAP server lists its
    INBOX with ``\\HasChildren`` or ``\\HasNoChildren`` and never with ``\\Inbox``.
    """
    flags = [attribute.strip().lower() for attribute in attributes]
    for flag in flags:
        role = _ROLE_BY_ATTRIBUTE.get(flag)
        if role is not None:
            return role
    if any(flag in _OTHER_SPECIAL_USE for flag in flags):
        return None
    if leaf.casefold() in _INBOX_NAMES:
        return FolderRole.INBOX
    if leaf.casefold() in _SENT_NAMES:
        return FolderRole.SENT
    return None


def parse_folder(obj: Mapping[str, Any], provider: str | None) -> Folder:
    """Read a Nylas Folder object (NYLAS.md 3.2) for the folder cache.

    Raises:
        ValueError: the object has no folder id.
    """
    folder_id = obj.get("id")
    if not isinstance(folder_id, str) or not folder_id:
        raise ValueError("a folder object needs an 'id'")
    folder_id = without_nul(folder_id)
    name = obj.get("name")
    name = without_nul(name) if isinstance(name, str) and name else folder_id
    leaf = leaf_name(name, provider)
    parent_id = obj.get("parent_id")
    parent_id = without_nul(parent_id) if isinstance(parent_id, str) else None
    return Folder(
        id=folder_id,
        name=name,
        leaf_name=leaf,
        parent_id=parent_id if isinstance(parent_id, str) and parent_id else None,
        role=folder_role(_attributes(obj.get("attributes")), leaf),
    )


def _attributes(value: object) -> list[str]:
    """Attributes as a list, also when SDK 6.18 has turned the list into its repr string.

    The string (``"['\\\\Sent']"``, NYLAS.md 6.7) is searched for ``\\Flag`` words rather
    than evaluated: its backslashes may come doubled or single, and a single one is an
    invalid escape that ``ast.literal_eval`` warns about.
    """
    if isinstance(value, str):
        return ["\\" + flag for flag in _FLAG.findall(value)]
    if not isinstance(value, list | tuple):
        return []
    return [v for v in value if isinstance(v, str)]


@dataclass(frozen=True, slots=True)
class ResolvedFolders:
    """A message's folder ids split into those the cache knows and those it does not."""

    known: tuple[Folder, ...]
    unknown: tuple[str, ...]


def resolve_folders(folder_ids: Iterable[str], cache: Mapping[str, Folder]) -> ResolvedFolders:
    """Look ``folder_ids`` up in a grant's folder cache."""
    known: list[Folder] = []
    unknown: list[str] = []
    for folder_id in folder_ids:
        folder = cache.get(folder_id)
        if folder is None:
            unknown.append(folder_id)
        else:
            known.append(folder)
    return ResolvedFolders(tuple(known), tuple(unknown))


def should_refresh_folders(
    unknown_ids: Collection[str],
    refreshed_at: datetime | None,
    now: datetime,
    min_interval: timedelta,
) -> bool:
    """Whether to fetch a grant's folders from Nylas before applying the folder rule.

    Always when the cache was never filled; on a miss only if the last refresh is older
    than ``min_interval``, so ids Nylas never lists (or a burst of messages in a folder
    just created) cost one refresh, not one per message.
    """
    if refreshed_at is None:
        return True
    return bool(unknown_ids) and now - refreshed_at >= min_interval


def needs_folder_refresh(
    resolved: Iterable[ResolvedFolders],
    selection: FolderSelection,
    refreshed_at: datetime | None,
    now: datetime,
    min_interval: timedelta,
) -> bool:
    """Whether messages with these resolved folders need the grant's folders fetched first.

    A message already in a folder the rep syncs is decided whatever its unknown folders are;
    the unknown folders of the others might be synced ones, so they count as misses for
    :func:`should_refresh_folders`.
    """
    unknown = frozenset(
        folder_id
        for folders in resolved
        if not any(selection.matches(folder) for folder in folders.known)
        for folder_id in folders.unknown
    )
    return should_refresh_folders(unknown, refreshed_at, now, min_interval)
