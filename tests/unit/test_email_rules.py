"""Whether a message becomes a CRM email for a rep (E1, E2) and what an update changes (E4)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.contacts import ContactMatch, HeaderRole
from domain.email_rules import (
    DEFAULT_LOOKBACK,
    EmailDecision,
    EmailSyncSettings,
    EmailUpdate,
    SkipReason,
    StoredMailboxState,
    decide_new_email,
    in_sync_window,
    plan_email_update,
    resolve_sync_from,
)
from domain.folders import Folder, FolderRole, FolderSelection, parse_folder_setting
from domain.messages import MailMessage, parse_message

SYNC_FROM = datetime(2026, 10, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

INBOX = Folder("INBOX", "INBOX", "INBOX", None, FolderRole.INBOX)
SENT = Folder("SENT", "SENT", "SENT", None, FolderRole.SENT)
DRAFTS = Folder("DRAFT", "DRAFT", "DRAFT", None, FolderRole.DRAFTS)
TRASH = Folder("TRASH", "TRASH", "TRASH", None, FolderRole.TRASH)
COOL = Folder("Label_1", "CoolStuff", "CoolStuff", None, None)

DANA = ContactMatch("c-dana", frozenset({HeaderRole.FROM}))
PRIYA = ContactMatch("c-priya", frozenset({HeaderRole.CC}))


def dated(when: datetime | None) -> MailMessage:
    wire: dict[str, Any] = {"id": "m-1", "from": [{"email": "dana@acme.example"}]}
    if when is not None:
        wire["date"] = int(when.timestamp())
    return parse_message(wire)


def settings(*, enabled: bool = True, folders: FolderSelection | None = None) -> EmailSyncSettings:
    return EmailSyncSettings(enabled, folders or FolderSelection(), SYNC_FROM)


IN_WINDOW = SYNC_FROM + timedelta(days=3)
BEFORE = SYNC_FROM - timedelta(seconds=1)

# Each row fails the rules it names; the reason is the first of them in the order of E2.
DECISIONS = [
    pytest.param(
        settings(enabled=False),
        (INBOX,),
        IN_WINDOW,
        (DANA,),
        SkipReason.EMAIL_SYNC_OFF,
        id="email sync off skips the message",
    ),
    pytest.param(
        settings(),
        (),
        IN_WINDOW,
        (DANA,),
        SkipReason.FOLDER_NOT_SYNCED,
        id="a message in no known folder is not synced",
    ),
    pytest.param(
        settings(),
        (DRAFTS, TRASH),
        IN_WINDOW,
        (DANA,),
        SkipReason.FOLDER_NOT_SYNCED,
        id="drafts and trash are not synced by default",
    ),
    pytest.param(
        settings(),
        (COOL,),
        IN_WINDOW,
        (DANA,),
        SkipReason.FOLDER_NOT_SYNCED,
        id="a user folder is not synced by default",
    ),
    pytest.param(
        settings(folders=parse_folder_setting("CoolStuff")),
        (INBOX,),
        IN_WINDOW,
        (DANA,),
        SkipReason.FOLDER_NOT_SYNCED,
        id="named folders leave the inbox out",
    ),
    pytest.param(
        settings(), (INBOX,), None, (DANA,), SkipReason.UNDATED, id="an undated message is skipped"
    ),
    pytest.param(
        settings(),
        (INBOX,),
        BEFORE,
        (DANA,),
        SkipReason.BEFORE_SYNC_FROM,
        id="a message one second before sync-from is skipped",
    ),
    pytest.param(
        settings(),
        (INBOX,),
        SYNC_FROM - timedelta(days=400),
        (DANA,),
        SkipReason.BEFORE_SYNC_FROM,
        id="an old message is skipped",
    ),
    pytest.param(
        settings(),
        (INBOX,),
        IN_WINDOW,
        (),
        SkipReason.NO_CONTACT,
        id="a message without a contact of the rep is skipped",
    ),
    pytest.param(
        settings(enabled=False),
        (),
        None,
        (),
        SkipReason.EMAIL_SYNC_OFF,
        id="sync off is named before every other failure",
    ),
    pytest.param(
        settings(),
        (DRAFTS,),
        None,
        (),
        SkipReason.FOLDER_NOT_SYNCED,
        id="the folder is named before the date and the contact",
    ),
    pytest.param(
        settings(),
        (INBOX,),
        None,
        (),
        SkipReason.UNDATED,
        id="a missing date is named before the contact",
    ),
    pytest.param(
        settings(),
        (INBOX,),
        BEFORE,
        (),
        SkipReason.BEFORE_SYNC_FROM,
        id="an early date is named before the contact",
    ),
]


@pytest.mark.parametrize(("rules", "folders", "date", "matches", "reason"), DECISIONS)
def test_a_message_failing_a_rule_is_skipped_with_the_first_failed_rule(
    rules: EmailSyncSettings,
    folders: tuple[Folder, ...],
    date: datetime | None,
    matches: tuple[ContactMatch, ...],
    reason: SkipReason,
) -> None:
    decision = decide_new_email(rules, dated(date), folders, matches)

    assert decision == EmailDecision(reason)
    assert not decision.store


STORED = [
    pytest.param(
        settings(),
        (INBOX,),
        IN_WINDOW,
        (DANA,),
        (INBOX,),
        id="an inbox message of a contact in the window is stored",
    ),
    pytest.param(
        settings(),
        (SENT,),
        IN_WINDOW,
        (DANA, PRIYA),
        (SENT,),
        id="a sent message to two contacts is stored for both",
    ),
    pytest.param(
        settings(),
        (INBOX,),
        SYNC_FROM,
        (DANA,),
        (INBOX,),
        id="a message dated exactly at sync-from is stored",
    ),
    pytest.param(
        settings(),
        (COOL, INBOX, DRAFTS),
        IN_WINDOW,
        (DANA,),
        (INBOX,),
        id="only the synced folders of the message are kept",
    ),
    pytest.param(
        settings(folders=parse_folder_setting("coolstuff;Sent")),
        (COOL, INBOX, SENT),
        IN_WINDOW,
        (DANA,),
        (COOL, SENT),
        id="named folders keep the named ones in message order",
    ),
    pytest.param(
        settings(),
        (INBOX,),
        NOW + timedelta(days=1),
        (DANA,),
        (INBOX,),
        id="a message dated in the future is stored",
    ),
]


@pytest.mark.parametrize(("rules", "folders", "date", "matches", "synced"), STORED)
def test_a_message_meeting_every_rule_is_stored(
    rules: EmailSyncSettings,
    folders: tuple[Folder, ...],
    date: datetime,
    matches: tuple[ContactMatch, ...],
    synced: tuple[Folder, ...],
) -> None:
    decision = decide_new_email(rules, dated(date), folders, matches)

    assert decision == EmailDecision(None, synced, matches)
    assert decision.store


# Folders not yet known (N2): (known folders, unknown ids, date, contacts, the decision).
PENDING = [
    pytest.param(
        (),
        ("Label_new",),
        IN_WINDOW,
        (DANA,),
        SkipReason.FOLDER_PENDING,
        id="a message only in an unknown folder that meets every other rule waits for it",
    ),
    pytest.param(
        (TRASH,),
        ("Label_new",),
        IN_WINDOW,
        (DANA,),
        SkipReason.FOLDER_PENDING,
        id="a known folder not synced does not decide while another is unknown",
    ),
    pytest.param(
        (INBOX,),
        ("Label_new",),
        IN_WINDOW,
        (DANA,),
        None,
        id="a message in a synced folder is stored whatever its unknown folders",
    ),
    pytest.param(
        (),
        ("Label_new",),
        IN_WINDOW,
        (),
        SkipReason.NO_CONTACT,
        id="a rule no folder can change decides at once: no contact",
    ),
    pytest.param(
        (),
        ("Label_new",),
        BEFORE,
        (DANA,),
        SkipReason.BEFORE_SYNC_FROM,
        id="a rule no folder can change decides at once: before sync-from",
    ),
    pytest.param(
        (),
        ("Label_new",),
        None,
        (DANA,),
        SkipReason.UNDATED,
        id="a rule no folder can change decides at once: undated",
    ),
    pytest.param(
        (TRASH,),
        (),
        IN_WINDOW,
        (DANA,),
        SkipReason.FOLDER_NOT_SYNCED,
        id="with every folder known, not synced is a decision",
    ),
]


@pytest.mark.parametrize(("known", "unknown", "date", "matches", "reason"), PENDING)
def test_a_message_whose_folders_are_unknown_is_pending_only_on_its_folders(
    known: tuple[Folder, ...],
    unknown: tuple[str, ...],
    date: datetime | None,
    matches: tuple[ContactMatch, ...],
    reason: SkipReason | None,
) -> None:
    decision = decide_new_email(settings(), dated(date), known, matches, unknown)

    assert decision.skip_reason is reason
    assert decision.store is (reason is None)


def test_sync_off_is_decided_before_unknown_folders() -> None:
    decision = decide_new_email(settings(enabled=False), dated(IN_WINDOW), (), (DANA,), ("x",))
    assert decision.skip_reason is SkipReason.EMAIL_SYNC_OFF


def test_skip_reasons_keep_their_stored_names() -> None:
    # Stored as the outcome of a notification: renaming one breaks operators' queries.
    assert [reason.value for reason in SkipReason] == [
        "email_sync_off",
        "folder_not_synced",
        "folder_pending",
        "undated",
        "before_sync_from",
        "no_contact",
    ]


@pytest.mark.parametrize(
    ("date", "inside"),
    [
        pytest.param(SYNC_FROM, True, id="the sync-from instant itself is inside"),
        pytest.param(SYNC_FROM + timedelta(microseconds=1), True, id="just after is inside"),
        pytest.param(SYNC_FROM - timedelta(microseconds=1), False, id="just before is outside"),
        pytest.param(
            datetime(2026, 10, 1, 1, 0, tzinfo=timezone(timedelta(hours=2))),
            False,
            id="a local time after midnight that is before it in utc is outside",
        ),
    ],
)
def test_the_sync_window_is_on_or_after_sync_from(date: datetime, inside: bool) -> None:
    assert in_sync_window(date, SYNC_FROM) is inside


AUTHORISED = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("requested", "authorised_at", "lookback", "expected"),
    [
        pytest.param(
            SYNC_FROM,
            AUTHORISED,
            DEFAULT_LOOKBACK,
            SYNC_FROM,
            id="an explicit sync-from wins over the authorisation",
        ),
        pytest.param(
            SYNC_FROM,
            None,
            DEFAULT_LOOKBACK,
            SYNC_FROM,
            id="an explicit sync-from wins without an authorisation",
        ),
        pytest.param(
            NOW + timedelta(days=1),
            AUTHORISED,
            DEFAULT_LOOKBACK,
            NOW + timedelta(days=1),
            id="an explicit sync-from in the future is kept",
        ),
        pytest.param(
            None,
            AUTHORISED,
            DEFAULT_LOOKBACK,
            AUTHORISED - timedelta(days=30),
            id="without one it is the authorisation minus 30 days",
        ),
        pytest.param(
            None,
            AUTHORISED,
            timedelta(days=7),
            AUTHORISED - timedelta(days=7),
            id="the look-back can be changed",
        ),
        pytest.param(
            None,
            None,
            DEFAULT_LOOKBACK,
            NOW - timedelta(days=30),
            id="a rep not yet authorised counts from now",
        ),
    ],
)
def test_sync_from_is_explicit_else_the_authorisation_minus_the_lookback(
    requested: datetime | None,
    authorised_at: datetime | None,
    lookback: timedelta,
    expected: datetime,
) -> None:
    assert resolve_sync_from(requested, authorised_at, NOW, lookback) == expected


def test_the_default_lookback_is_thirty_days() -> None:
    assert timedelta(days=30) == DEFAULT_LOOKBACK
    assert resolve_sync_from(None, AUTHORISED, NOW) == AUTHORISED - timedelta(days=30)


# Updates of a stored email (E4) ------------------------------------------------------------

OBSERVED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

STATE = StoredMailboxState(
    folder_ids=("INBOX", "UNREAD"), unread=True, starred=False, has_body=True, observed_at=OBSERVED
)
NO_BODY = dataclasses.replace(STATE, has_body=False)
NEVER_OBSERVED = dataclasses.replace(STATE, observed_at=None)


def update(**fields: Any) -> MailMessage:
    """A message update: the stored state unless fields say otherwise (``body`` None: none)."""
    wire: dict[str, Any] = {"id": "m-1", "folders": ["INBOX", "UNREAD"], "unread": True}
    wire["starred"] = False
    wire.update(fields)
    return parse_message(wire)


LATER = OBSERVED + timedelta(minutes=1)
EARLIER = OBSERVED - timedelta(seconds=1)

UPDATES = [
    pytest.param(STATE, update(), LATER, {}, id="the same state changes nothing"),
    pytest.param(
        STATE,
        update(folders=["TRASH"], unread=False, starred=True),
        EARLIER,
        {},
        id="a state observed before the stored one is stale and ignored",
    ),
    pytest.param(
        STATE,
        update(folders=["TRASH"]),
        OBSERVED,
        {"folder_ids": ["TRASH"]},
        id="a state observed at the same time applies",
    ),
    pytest.param(
        NEVER_OBSERVED,
        update(folders=["TRASH"]),
        EARLIER,
        {"folder_ids": ["TRASH"]},
        id="any state applies to an email never observed",
    ),
    pytest.param(
        STATE,
        update(folders=["Label_7"]),
        LATER,
        {"folder_ids": ["Label_7"]},
        id="a move to another folder changes the folders",
    ),
    pytest.param(
        STATE,
        update(folders=["INBOX", "UNREAD", "Label_7"]),
        LATER,
        {"folder_ids": ["INBOX", "UNREAD", "Label_7"]},
        id="a label added changes the folders",
    ),
    pytest.param(
        STATE,
        update(folders=["UNREAD", "INBOX"]),
        LATER,
        {},
        id="the same folders in another order are no move",
    ),
    pytest.param(
        STATE, update(folders=[]), LATER, {}, id="an empty folder list does not wipe the folders"
    ),
    pytest.param(STATE, update(folders=None), LATER, {}, id="null folders do not wipe the folders"),
    pytest.param(
        STATE,
        update(unread=False),
        LATER,
        {"unread": False},
        id="a message read changes the read state",
    ),
    pytest.param(
        STATE,
        update(unread=None),
        LATER,
        {},
        id="an absent read flag does not clear the read state",
    ),
    pytest.param(
        STATE,
        update(starred=True),
        LATER,
        {"starred": True},
        id="a message starred changes the starred state",
    ),
    pytest.param(
        STATE, update(starred=None), LATER, {}, id="an absent starred flag does not clear it"
    ),
    pytest.param(
        NO_BODY,
        update(body="<p>Signed.</p>"),
        LATER,
        {"body": "<p>Signed.</p>"},
        id="a body fills an email stored without one",
    ),
    pytest.param(
        STATE, update(body="<p>Edited?</p>"), LATER, {}, id="a body never replaces the stored one"
    ),
    pytest.param(
        NO_BODY,
        update(body=""),
        LATER,
        {},
        id="an empty body from a truncated notification fills nothing",
    ),
    pytest.param(
        NO_BODY,
        update(folders=["SENT"], unread=False, starred=True, body="<p>Hi</p>"),
        LATER,
        {"folder_ids": ["SENT"], "unread": False, "starred": True, "body": "<p>Hi</p>"},
        id="several changes apply together",
    ),
]


@pytest.mark.parametrize(("stored", "message", "observed_at", "changes"), UPDATES)
def test_an_update_changes_only_what_may_change_and_only_when_not_stale(
    stored: StoredMailboxState,
    message: MailMessage,
    observed_at: datetime,
    changes: dict[str, Any],
) -> None:
    planned = plan_email_update(stored, message, observed_at)

    assert planned.changes == changes
    assert bool(planned) is bool(changes)


def test_an_update_without_changes_is_falsy_and_one_with_changes_truthy() -> None:
    assert not EmailUpdate()
    assert EmailUpdate({"unread": False})


# Properties --------------------------------------------------------------------------------

MAY_CHANGE = {"folder_ids", "unread", "starred", "body"}
folder_ids = st.lists(st.sampled_from(["INBOX", "SENT", "TRASH", "UNREAD", "Label_7"]), max_size=4)
flags = st.none() | st.booleans()
moments = st.integers(min_value=0, max_value=3).map(lambda m: OBSERVED + timedelta(minutes=m))


@st.composite
def stored_states(draw: st.DrawFn) -> StoredMailboxState:
    return StoredMailboxState(
        folder_ids=tuple(draw(folder_ids)),
        unread=draw(flags),
        starred=draw(flags),
        has_body=draw(st.booleans()),
        observed_at=draw(st.none() | moments),
    )


@st.composite
def updates(draw: st.DrawFn) -> MailMessage:
    wire: dict[str, Any] = {"id": "m-1", "folders": draw(folder_ids)}
    for key, value in (("unread", draw(flags)), ("starred", draw(flags))):
        wire[key] = value
    wire["body"] = draw(st.sampled_from([None, "", "<p>Hi</p>"]))
    return parse_message(wire)


def applied(stored: StoredMailboxState, planned: EmailUpdate, at: datetime) -> StoredMailboxState:
    """The stored state once an update is saved, as storage saves it."""
    changes = planned.changes
    return StoredMailboxState(
        folder_ids=tuple(changes.get("folder_ids", stored.folder_ids)),
        unread=changes.get("unread", stored.unread),
        starred=changes.get("starred", stored.starred),
        has_body=stored.has_body or "body" in changes,
        observed_at=at if stored.observed_at is None else max(stored.observed_at, at),
    )


@given(stored_states(), updates(), moments)
def test_an_update_touches_only_mailbox_columns_and_applying_it_twice_changes_nothing(
    stored: StoredMailboxState, message: MailMessage, observed_at: datetime
) -> None:
    planned = plan_email_update(stored, message, observed_at)

    assert set(planned.changes) <= MAY_CHANGE  # never the hidden flag (E7)
    again = plan_email_update(applied(stored, planned, observed_at), message, observed_at)
    assert not again
