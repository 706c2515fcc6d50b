"""Which of a message's folders a rep syncs (rule E2), for each provider's folder shapes.

Folder objects follow NYLAS.md 3.2: Gmail label ids read like names, Microsoft ids are opaque
and names are final, IMAP ids embed the path and attributes pass through from the server.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from domain.folders import (
    DEFAULT_ROLES,
    Folder,
    FolderRole,
    FolderSelection,
    InvalidFolderSetting,
    ResolvedFolders,
    leaf_name,
    parse_folder,
    parse_folder_setting,
    resolve_folders,
    should_refresh_folders,
)

GRANT = "0e8f1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
MS_ROOT = "AAMkADRmYTk1ZjQ0LTRhZjctNDM1Ny1hMmYzLTdhYjgxNDQ5ZWQxOAAuAAAAAAAQvEAAAQ=="
MS_INBOX = "AAMkADRmYTk1ZjQ0LTRhZjctNDM1Ny1hMmYzLTdhYjgxNDQ5ZWQxOAAuAAAAAAAQvEAAAg=="
IMAP = "v0:6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f:"


def wire(folder_id: str, name: str | None, attributes: Any = None, **extra: Any) -> dict[str, Any]:
    """A Nylas Folder object; ``attributes`` None leaves the key out."""
    obj: dict[str, Any] = {"id": folder_id, "grant_id": GRANT, "object": "folder", **extra}
    if name is not None:
        obj["name"] = name
    if attributes is not None:
        obj["attributes"] = attributes
    return obj


# The rep's setting -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        pytest.param("", (), id="an empty setting means the default folders"),
        pytest.param("  ", (), id="a blank setting means the default folders"),
        pytest.param(";;", (), id="separators alone mean the default folders"),
        pytest.param("CoolStuff", ("CoolStuff",), id="one folder name is kept as typed"),
        pytest.param(
            "CoolStuff;NotAsCoolStuff",
            ("CoolStuff", "NotAsCoolStuff"),
            id="names are separated by semicolons",
        ),
        pytest.param(
            "CoolStuff;NotAsCoolStuff;Awesome",
            ("CoolStuff", "NotAsCoolStuff", "Awesome"),
            id="three names keep their order",
        ),
        pytest.param(
            " CoolStuff ;  NotAsCoolStuff ",
            ("CoolStuff", "NotAsCoolStuff"),
            id="spaces around names are trimmed",
        ),
        pytest.param("Sent Items", ("Sent Items",), id="spaces inside a name are kept"),
        pytest.param("CoolStuff;", ("CoolStuff",), id="a trailing separator is ignored"),
        pytest.param(
            "CoolStuff;coolstuff;COOLSTUFF;Awesome",
            ("CoolStuff", "Awesome"),
            id="a name repeated in any case is kept once as first typed",
        ),
        pytest.param("Inbox\\CoolStuff", ("CoolStuff",), id="a backslash path gives its last name"),
        pytest.param("Inbox/CoolStuff", ("CoolStuff",), id="a slash path gives its last name"),
        pytest.param(
            "/folder/subfolder/sub-subfolder",
            ("sub-subfolder",),
            id="a deep path gives its final folder",
        ),
        pytest.param(
            "Inbox\\CoolStuff; Inbox\\NotAsCoolStuff",
            ("CoolStuff", "NotAsCoolStuff"),
            id="the manual's two subfolders give their final names",
        ),
        pytest.param(
            "Inbox\\CoolStuff;CoolStuff",
            ("CoolStuff",),
            id="a path and its final name are the same folder",
        ),
        pytest.param("Inbox\\", ("Inbox",), id="a trailing path separator is ignored"),
        pytest.param("Inbox\\ ", ("Inbox",), id="a trailing separator and space are ignored"),
        pytest.param("Q3.2026", ("Q3.2026",), id="a dot in a typed name is part of the name"),
    ],
)
def test_a_folder_setting_is_read_as_final_names(raw: str, names: tuple[str, ...]) -> None:
    selection = parse_folder_setting(raw)

    assert selection.names == names
    assert selection.is_default is (names == ())


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        pytest.param([], (), id="an empty list means the default folders"),
        pytest.param(["", "  "], (), id="a list of blanks means the default folders"),
        pytest.param(
            ["CoolStuff", " Inbox/Awesome ", "coolstuff"],
            ("CoolStuff", "Awesome"),
            id="a list is read name by name like the typed setting",
        ),
        pytest.param(("Sent Items",), ("Sent Items",), id="a tuple is read like a list"),
    ],
)
def test_a_folder_setting_may_be_a_list(raw: list[str], names: tuple[str, ...]) -> None:
    assert parse_folder_setting(raw).names == names


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("x" * 256, id="a name of 256 characters is too long"),
        pytest.param("CoolStuff;" + "x" * 300, id="one long name among short ones is too long"),
        pytest.param(["x" * 256], id="a long name in a list is too long"),
        pytest.param("Inbox\\" + "x" * 256, id="a long final name after a path is too long"),
    ],
)
def test_an_over_long_folder_name_is_refused(raw: str | list[str]) -> None:
    with pytest.raises(InvalidFolderSetting) as raised:
        parse_folder_setting(raw)

    assert raised.value.reason == "invalid_folders"
    assert "longer than 255 characters" in raised.value.message


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("x" * 255, id="a name of 255 characters is accepted"),
        pytest.param(
            "a" * 300 + "/CoolStuff", id="a long path with a short final name is accepted"
        ),
    ],
)
def test_a_folder_name_up_to_the_limit_is_accepted(raw: str) -> None:
    assert len(parse_folder_setting(raw).names) == 1


@pytest.mark.parametrize(
    ("selection", "setting"),
    [
        pytest.param(FolderSelection(), "", id="the default is written as an empty setting"),
        pytest.param(
            FolderSelection(("CoolStuff", "Sent Items")),
            "CoolStuff;Sent Items",
            id="names are written joined by semicolons",
        ),
    ],
)
def test_a_selection_is_written_as_a_rep_would_type_it(
    selection: FolderSelection, setting: str
) -> None:
    assert selection.setting() == setting


# Final names per provider ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "provider", "leaf"),
    [
        pytest.param(
            "Clients/Acme", "google", "Acme", id="a nested gmail label ends after its slash"
        ),
        pytest.param("Q3.2026", "google", "Q3.2026", id="a dot in a gmail label is not a path"),
        pytest.param("INBOX", "google", "INBOX", id="a gmail system label is its own name"),
        pytest.param(
            "INBOX.CoolStuff", "imap", "CoolStuff", id="an imap dotted path ends after its dot"
        ),
        pytest.param(
            "INBOX/CoolStuff", "imap", "CoolStuff", id="an imap slashed path ends after its slash"
        ),
        pytest.param("INBOX.", "imap", "INBOX", id="an imap trailing separator is ignored"),
        pytest.param(
            "Mr. Smith", "microsoft", "Mr. Smith", id="a microsoft name is never split on dots"
        ),
        pytest.param(
            "Q3/2026", "microsoft", "Q3/2026", id="a microsoft name is never split on slashes"
        ),
        pytest.param(
            "INBOX.Sent", None, "Sent", id="an unknown provider splits on dots and slashes"
        ),
        pytest.param("", "imap", "", id="an empty name stays empty"),
    ],
)
def test_the_final_name_follows_the_providers_path_separators(
    name: str, provider: str | None, leaf: str
) -> None:
    assert leaf_name(name, provider) == leaf


# Roles and the default selection (inbox and sent by role) ----------------------------------

ROLES = [
    # Gmail: ids read like names; Nylas maps the special-use attributes.
    pytest.param(
        "google",
        wire("INBOX", "INBOX", ["\\Inbox"]),
        FolderRole.INBOX,
        id="gmail INBOX is the inbox",
    ),
    pytest.param(
        "google",
        wire("SENT", "SENT", ["\\Sent"]),
        FolderRole.SENT,
        id="gmail SENT is the sent folder",
    ),
    pytest.param(
        "google",
        wire("DRAFT", "DRAFT", ["\\Drafts"]),
        FolderRole.DRAFTS,
        id="gmail DRAFT is drafts",
    ),
    pytest.param(
        "google", wire("TRASH", "TRASH", ["\\Trash"]), FolderRole.TRASH, id="gmail TRASH is trash"
    ),
    pytest.param(
        "google", wire("SPAM", "SPAM", ["\\Junk"]), FolderRole.JUNK, id="gmail SPAM is junk"
    ),
    pytest.param("google", wire("UNREAD", "UNREAD", []), None, id="gmail UNREAD has no role"),
    pytest.param(
        "google", wire("IMPORTANT", "IMPORTANT", []), None, id="gmail IMPORTANT has no role"
    ),
    pytest.param(
        "google",
        wire("CATEGORY_PERSONAL", "CATEGORY_PERSONAL", []),
        None,
        id="a gmail category has no role",
    ),
    pytest.param(
        "google", wire("Label_1", "CoolStuff", []), None, id="a gmail user label has no role"
    ),
    # Microsoft: opaque ids, display names, attributes mapped by Nylas.
    pytest.param(
        "microsoft",
        wire(MS_INBOX, "Inbox", ["\\Inbox"], parent_id=MS_ROOT),
        FolderRole.INBOX,
        id="microsoft Inbox is the inbox",
    ),
    pytest.param(
        "microsoft",
        wire("AAMkAD-sent=", "Sent Items", ["\\Sent"]),
        FolderRole.SENT,
        id="microsoft Sent Items is the sent folder",
    ),
    pytest.param(
        "microsoft",
        wire("AAMkAD-sent=", "Éléments envoyés", ["\\Sent"]),
        FolderRole.SENT,
        id="a localised microsoft sent folder is found by its attribute",
    ),
    pytest.param(
        "microsoft",
        wire("AAMkAD-drafts=", "Drafts", ["\\Drafts"]),
        FolderRole.DRAFTS,
        id="microsoft Drafts is drafts",
    ),
    pytest.param(
        "microsoft",
        wire("AAMkAD-deleted=", "Deleted Items", ["\\Trash"]),
        FolderRole.TRASH,
        id="microsoft Deleted Items is trash",
    ),
    pytest.param(
        "microsoft",
        wire("AAMkAD-junk=", "Junk Email", ["\\Junk"]),
        FolderRole.JUNK,
        id="microsoft Junk Email is junk",
    ),
    pytest.param(
        "microsoft",
        wire("AAMkAD-archive=", "Archive", ["\\Archive"]),
        FolderRole.ARCHIVE,
        id="microsoft Archive is the archive",
    ),
    pytest.param(
        "microsoft",
        wire("AAMkAD-cool=", "CoolStuff", [], parent_id=MS_INBOX),
        None,
        id="a microsoft user folder under the inbox has no role",
    ),
    # IMAP with SPECIAL-USE: attributes pass through, INBOX has no special-use flag.
    pytest.param(
        "imap",
        wire(IMAP + "INBOX", "INBOX", ["\\HasChildren"]),
        FolderRole.INBOX,
        id="imap INBOX with only a children flag is the inbox by name",
    ),
    pytest.param(
        "imap",
        wire(IMAP + "INBOX", "INBOX", ["\\HasNoChildren", "\\Marked"]),
        FolderRole.INBOX,
        id="imap INBOX with several structural flags is the inbox by name",
    ),
    pytest.param(
        "imap",
        wire(IMAP + "INBOX.Sent", "INBOX.Sent", ["\\Sent"]),
        FolderRole.SENT,
        id="imap INBOX.Sent flagged sent is the sent folder",
    ),
    pytest.param(
        "imap",
        wire(IMAP + "INBOX.Sent", "INBOX.Sent", ["\\HasNoChildren", "\\Sent"]),
        FolderRole.SENT,
        id="imap sent flag is found among structural flags",
    ),
    pytest.param(
        "imap",
        wire(IMAP + "INBOX.Drafts", "INBOX.Drafts", ["\\Drafts"]),
        FolderRole.DRAFTS,
        id="imap INBOX.Drafts flagged drafts is drafts",
    ),
    pytest.param(
        "imap",
        wire(IMAP + "Archive.Sent", "Archive.Sent", ["\\All"]),
        None,
        id="an imap folder with another special use is not read by its name",
    ),
    pytest.param(
        "imap",
        wire(IMAP + "INBOX.CoolStuff", "INBOX.CoolStuff", []),
        None,
        id="an imap user folder has no role",
    ),
    # IMAP without SPECIAL-USE: no attributes at all, so the name decides.
    pytest.param(
        "imap",
        wire(IMAP + "INBOX", "INBOX", []),
        FolderRole.INBOX,
        id="imap INBOX without attributes is the inbox by name",
    ),
    pytest.param(
        "imap",
        wire(IMAP + "INBOX.Sent", "INBOX.Sent", []),
        FolderRole.SENT,
        id="imap INBOX.Sent without attributes is the sent folder by name",
    ),
    pytest.param(
        "imap",
        wire(IMAP + "Sent Messages", "Sent Messages", None),
        FolderRole.SENT,
        id="imap Sent Messages without an attributes key is the sent folder by name",
    ),
    pytest.param(
        "imap",
        wire(IMAP + "INBOX.Trash", "INBOX.Trash", []),
        None,
        id="imap INBOX.Trash without attributes has no role",
    ),
    # SDK 6.18 turns the attributes list into its repr string (NYLAS.md 6.7).
    pytest.param(
        "microsoft",
        wire("AAMkAD-sent=", "Sent Items", "['\\\\Sent']"),
        FolderRole.SENT,
        id="the sdk string of a sent attribute is read",
    ),
    pytest.param(
        "microsoft",
        wire("AAMkAD-sent=", "Sent Items", "['\\Sent']"),
        FolderRole.SENT,
        id="the sdk string with single backslashes is read",
    ),
    pytest.param(
        "google",
        wire("INBOX", "INBOX", "['\\\\Inbox']"),
        FolderRole.INBOX,
        id="the sdk string of an inbox attribute is read",
    ),
    pytest.param(
        "google",
        wire("DRAFT", "DRAFT", "['\\\\Drafts']"),
        FolderRole.DRAFTS,
        id="the sdk string of a drafts attribute is read",
    ),
    pytest.param(
        "imap",
        wire(IMAP + "INBOX.Sent", "INBOX.Sent", "['\\\\HasNoChildren', '\\\\Sent']"),
        FolderRole.SENT,
        id="the sdk string of several attributes is read",
    ),
    pytest.param(
        "imap",
        wire(IMAP + "INBOX", "INBOX", "[]"),
        FolderRole.INBOX,
        id="the sdk string of no attributes falls back on the name",
    ),
]


@pytest.mark.parametrize(("provider", "obj", "role"), ROLES)
def test_a_folder_role_comes_from_its_attributes_else_its_name(
    provider: str, obj: dict[str, Any], role: FolderRole | None
) -> None:
    assert parse_folder(obj, provider).role is role


@pytest.mark.parametrize(("provider", "obj", "role"), ROLES)
def test_the_default_selection_is_the_inbox_and_sent_by_role(
    provider: str, obj: dict[str, Any], role: FolderRole | None
) -> None:
    folder = parse_folder(obj, provider)

    assert FolderSelection().matches(folder) is (role in (FolderRole.INBOX, FolderRole.SENT))


def test_the_default_roles_are_inbox_and_sent() -> None:
    assert frozenset({FolderRole.INBOX, FolderRole.SENT}) == DEFAULT_ROLES


# Named selection: final segment, case-insensitive, exact -----------------------------------

NAMED = [
    pytest.param(
        "sent", "google", wire("SENT", "SENT", ["\\Sent"]), True, id="sent matches gmail SENT"
    ),
    pytest.param(
        "Sent Mail",
        "google",
        wire("SENT", "SENT", ["\\Sent"]),
        False,
        id="gmail's displayed Sent Mail does not match SENT",
    ),
    pytest.param(
        "inbox", "google", wire("INBOX", "INBOX", ["\\Inbox"]), True, id="inbox matches gmail INBOX"
    ),
    pytest.param(
        "CoolStuff",
        "google",
        wire("INBOX", "INBOX", ["\\Inbox"]),
        False,
        id="named folders leave out the inbox",
    ),
    pytest.param(
        "CoolStuff",
        "google",
        wire("Label_1", "CoolStuff", []),
        True,
        id="a gmail label matches its name",
    ),
    pytest.param(
        "COOLSTUFF",
        "google",
        wire("Label_1", "CoolStuff", []),
        True,
        id="a gmail label matches in any case",
    ),
    pytest.param(
        "Cool", "google", wire("Label_1", "CoolStuff", []), False, id="a prefix does not match"
    ),
    pytest.param(
        "Stuff", "google", wire("Label_1", "CoolStuff", []), False, id="a suffix does not match"
    ),
    pytest.param(
        "CoolStuffs",
        "google",
        wire("Label_1", "CoolStuff", []),
        False,
        id="a longer name does not match",
    ),
    pytest.param(
        "Acme",
        "google",
        wire("Label_2", "Clients/Acme", []),
        True,
        id="a nested gmail label matches its final name",
    ),
    pytest.param(
        "Clients/Acme",
        "google",
        wire("Label_2", "Clients/Acme", []),
        True,
        id="a typed gmail path matches by its final name",
    ),
    pytest.param(
        "Clients",
        "google",
        wire("Label_2", "Clients/Acme", []),
        False,
        id="a gmail parent label does not match its child",
    ),
    pytest.param(
        "Sent Items",
        "microsoft",
        wire("AAMkAD-sent=", "Sent Items", ["\\Sent"]),
        True,
        id="microsoft Sent Items matches its name",
    ),
    pytest.param(
        "sent",
        "microsoft",
        wire("AAMkAD-sent=", "Sent Items", ["\\Sent"]),
        False,
        id="sent does not match microsoft Sent Items",
    ),
    pytest.param(
        "CoolStuff",
        "microsoft",
        wire("AAMkAD-cool=", "CoolStuff", [], parent_id=MS_INBOX),
        True,
        id="a microsoft subfolder matches its name",
    ),
    pytest.param(
        "Inbox\\CoolStuff",
        "microsoft",
        wire("AAMkAD-cool=", "CoolStuff", [], parent_id=MS_INBOX),
        True,
        id="a typed microsoft path matches its subfolder",
    ),
    pytest.param(
        "Inbox",
        "microsoft",
        wire("AAMkAD-cool=", "CoolStuff", [], parent_id=MS_INBOX),
        False,
        id="a microsoft parent does not match its subfolder",
    ),
    pytest.param(
        "Mr. Smith",
        "microsoft",
        wire("AAMkAD-smith=", "Mr. Smith", []),
        True,
        id="a microsoft name with a dot matches whole",
    ),
    pytest.param(
        "Smith",
        "microsoft",
        wire("AAMkAD-smith=", "Mr. Smith", []),
        False,
        id="a microsoft name is not split on its dot",
    ),
    pytest.param(
        "coolstuff",
        "imap",
        wire(IMAP + "INBOX.CoolStuff", "INBOX.CoolStuff", []),
        True,
        id="an imap dotted folder matches its final name",
    ),
    pytest.param(
        "Sent",
        "imap",
        wire(IMAP + "INBOX.Sent", "INBOX.Sent", ["\\Sent"]),
        True,
        id="imap INBOX.Sent matches sent",
    ),
    pytest.param(
        "INBOX",
        "imap",
        wire(IMAP + "INBOX.Sent", "INBOX.Sent", ["\\Sent"]),
        False,
        id="imap INBOX does not match its child",
    ),
    pytest.param(
        "Drafts;CoolStuff",
        "imap",
        wire(IMAP + "INBOX.CoolStuff", "INBOX.CoolStuff", []),
        True,
        id="any one of several names matches",
    ),
]


@pytest.mark.parametrize(("setting", "provider", "obj", "matches"), NAMED)
def test_a_named_selection_matches_the_final_name_case_insensitively_and_exactly(
    setting: str, provider: str, obj: dict[str, Any], matches: bool
) -> None:
    folder = parse_folder(obj, provider)

    assert parse_folder_setting(setting).matches(folder) is matches


# Reading a folder object -------------------------------------------------------------------


def test_a_folder_object_is_read_for_the_cache() -> None:
    obj = wire("AAMkAD-cool=", "CoolStuff", [], parent_id=MS_INBOX, child_count=1)

    assert parse_folder(obj, "microsoft") == Folder(
        id="AAMkAD-cool=",
        name="CoolStuff",
        leaf_name="CoolStuff",
        parent_id=MS_INBOX,
        role=None,
    )


@pytest.mark.parametrize(
    ("obj", "name", "parent_id"),
    [
        pytest.param(
            wire("Label_9", None), "Label_9", None, id="a folder without a name is named by its id"
        ),
        pytest.param(
            wire("Label_9", ""), "Label_9", None, id="an empty name is replaced by the id"
        ),
        pytest.param(
            wire("Label_9", "X", parent_id=""), "X", None, id="an empty parent id is none"
        ),
        pytest.param(
            wire("Label_9", "X", parent_id=7), "X", None, id="a parent id that is not text is none"
        ),
    ],
)
def test_loose_folder_fields_are_tolerated(
    obj: dict[str, Any], name: str, parent_id: str | None
) -> None:
    folder = parse_folder(obj, "google")

    assert (folder.name, folder.parent_id) == (name, parent_id)


@pytest.mark.parametrize(
    "obj",
    [
        pytest.param({"name": "INBOX"}, id="a folder without an id is refused"),
        pytest.param({"id": "", "name": "INBOX"}, id="a folder with an empty id is refused"),
        pytest.param({"id": 3, "name": "INBOX"}, id="a folder with a numeric id is refused"),
    ],
)
def test_a_folder_without_an_id_is_refused(obj: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="needs an 'id'"):
        parse_folder(obj, "google")


# Resolving message folder ids through the cache --------------------------------------------

INBOX = Folder("INBOX", "INBOX", "INBOX", None, FolderRole.INBOX)
SENT = Folder("SENT", "SENT", "SENT", None, FolderRole.SENT)
CACHE = {folder.id: folder for folder in (INBOX, SENT)}


@pytest.mark.parametrize(
    ("ids", "resolved"),
    [
        pytest.param([], ResolvedFolders((), ()), id="no ids resolve to nothing"),
        pytest.param(
            ["INBOX"], ResolvedFolders((INBOX,), ()), id="a cached id resolves to its folder"
        ),
        pytest.param(
            ["UNREAD", "INBOX", "Label_7", "SENT"],
            ResolvedFolders((INBOX, SENT), ("UNREAD", "Label_7")),
            id="known and unknown ids are split keeping their order",
        ),
        pytest.param(
            ["Label_7"], ResolvedFolders((), ("Label_7",)), id="an uncached id is unknown"
        ),
        pytest.param(["inbox"], ResolvedFolders((), ("inbox",)), id="ids are looked up exactly"),
    ],
)
def test_folder_ids_are_resolved_through_the_cache(
    ids: list[str], resolved: ResolvedFolders
) -> None:
    assert resolve_folders(ids, CACHE) == resolved


NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
INTERVAL = timedelta(minutes=5)


@pytest.mark.parametrize(
    ("unknown", "refreshed_at", "refresh"),
    [
        pytest.param((), None, True, id="a cache never filled is refreshed even without a miss"),
        pytest.param(("Label_7",), None, True, id="a cache never filled is refreshed on a miss"),
        pytest.param(
            ("Label_7",),
            NOW - timedelta(minutes=1),
            False,
            id="a miss within the interval does not refresh",
        ),
        pytest.param(
            ("Label_7",), NOW - INTERVAL, True, id="a miss exactly one interval later refreshes"
        ),
        pytest.param(
            ("Label_7",), NOW - timedelta(hours=1), True, id="a miss after the interval refreshes"
        ),
        pytest.param(
            (), NOW - timedelta(days=30), False, id="no miss never refreshes a filled cache"
        ),
    ],
)
def test_folders_are_refreshed_when_never_filled_or_on_a_miss_after_the_interval(
    unknown: tuple[str, ...], refreshed_at: datetime | None, refresh: bool
) -> None:
    assert should_refresh_folders(unknown, refreshed_at, NOW, INTERVAL) is refresh


# Properties --------------------------------------------------------------------------------

NAME_TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=30)


@given(st.lists(NAME_TEXT, max_size=6).map(";".join))
def test_a_typed_setting_round_trips_through_its_written_form(raw: str) -> None:
    selection = parse_folder_setting(raw)

    assert parse_folder_setting(selection.setting()) == selection


@given(st.lists(NAME_TEXT.filter(lambda n: ";" not in n), max_size=6))
def test_a_listed_setting_round_trips_through_its_written_form(raw: list[str]) -> None:
    selection = parse_folder_setting(raw)

    assert parse_folder_setting(selection.setting()) == selection


@given(st.lists(NAME_TEXT, max_size=6).map(";".join))
def test_parsed_names_are_final_trimmed_and_distinct(raw: str) -> None:
    names = parse_folder_setting(raw).names

    assert all(n and n == n.strip() and not set(n) & set("\\/;") for n in names)
    assert len({n.casefold() for n in names}) == len(names)


@given(NAME_TEXT)
def test_a_named_folder_matches_its_final_name_in_any_case_and_nothing_else(raw: str) -> None:
    selection = parse_folder_setting(raw)
    assume(len(selection.names) == 1)
    name = selection.names[0]

    for spelling in (name, name.upper(), name.lower(), name.swapcase(), name + "s", name[1:]):
        folder = Folder("id", spelling, spelling, None, None)
        assert selection.matches(folder) is (spelling.casefold() == name.casefold())
