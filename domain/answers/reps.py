"""A rep, its contacts, its mailbox's connection and backfills, and its action items, as the
API answers them."""

from __future__ import annotations

from typing import Annotated, NotRequired

from pydantic import Field
from typing_extensions import TypedDict

from domain.answers.words import (
    ActionItemSide,
    BackfillKindName,
    BackfillStateName,
    CalendarSyncStatus,
    NextCursor,
    Timestamp,
)


class RepSettings(TypedDict):
    email_sync: bool
    folders: list[str]
    calendar_sync: bool
    calendar_name: str | None
    calendar_days_after: int
    sync_from: Timestamp


class AccountStatus(TypedDict):
    """The rep's mailbox connection, explained for the person who can fix it."""

    status: Annotated[
        str,
        Field(
            description="initializing, downloading, running, valid, partial, invalid, "
            "invalid-credentials, sync-error, exception or stopped (more may come)"
        ),
    ]
    meaning: str | None
    next_action: str | None
    since: Timestamp | None
    connected_at: Timestamp | None
    last_activity_at: Timestamp | None
    silent: NotRequired[
        Annotated[
            bool,
            Field(
                description="healthy, but not heard from for CRMSYNC_SILENCE_AFTER_HOURS "
                "(not in changes)"
            ),
        ]
    ]


class Rep(TypedDict):
    """A rep, its mailbox and its settings (E1)."""

    id: str
    email: str
    grant_id: str | None
    provider: str | None
    settings: RepSettings
    account_status: AccountStatus


class Contact(TypedDict):
    """One of a rep's own contacts ("My Contacts")."""

    id: str
    rep_id: str
    name: str | None
    emails: Annotated[list[str], Field(description="normalised, sorted")]
    account_ref: str | None
    lead_ref: str | None


class ContactsReplaced(TypedDict):
    """What a bulk replace changed; only the differences were written."""

    rep_id: str
    added: int
    updated: int
    removed: int
    unchanged: int


class ContactPage(TypedDict):
    data: list[Contact]
    next_cursor: NextCursor


class ConnectUrl(TypedDict):
    """Where to send the rep's browser to connect its mailbox."""

    url: str
    expires_at: Annotated[Timestamp, Field(description="the URL is refused after it")]


class Disconnected(TypedDict):
    """The rep, stopped, and what became of its grant."""

    rep: Rep
    grant_id: str | None
    grant_destroyed: Annotated[
        bool | None, Field(description="null: there was no grant, or Nylas was not asked")
    ]
    grant_error: str | None


class ActivityCounts(TypedDict):
    synced: int
    system_generated: int
    total: int


# The rep's emails dated in [from, to), hidden ones left out (E10); "from" is a Python
# keyword, so the functional syntax.
Activity = TypedDict(
    "Activity",
    {"rep_id": str, "from": Timestamp, "to": Timestamp, "emails": ActivityCounts},
)


class BackfillProgress(TypedDict):
    percent: float
    windows_total: int
    windows_done: int
    windows_left: int
    pages_done: int
    messages_scanned: int
    emails_stored: int
    messages_failed: int


class Backfill(TypedDict):
    """A reading of past mail: the rep's mailbox since sync-from, or a new contact's
    addresses (E11)."""

    id: int
    rep_id: str
    kind: BackfillKindName
    state: BackfillStateName
    addresses: Annotated[list[str], Field(description="a contact backfill's addresses")]
    since: Timestamp
    until: Timestamp
    progress: BackfillProgress
    error: str | None
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None


class BackfillStatus(TypedDict):
    mailbox: Annotated[Backfill | None, Field(description="the latest mailbox backfill")]
    contacts: Annotated[list[Backfill], Field(description="contact backfills not finished")]


class ActionItemCalendar(TypedDict):
    """Where the item stands with the rep's calendar (C1-C5)."""

    status: CalendarSyncStatus
    event_id: str | None
    calendar_id: str | None
    last_pushed_at: Timestamp | None
    last_push_error: str | None
    deleted_in_calendar_at: Timestamp | None


class ActionItem(TypedDict):
    """A CRM action item and its calendar event, last writer wins (C3)."""

    id: str
    rep_id: str
    title: str
    description: str
    location: str
    when: Annotated[
        dict[str, object],
        Field(
            description="{start, end, timezone} for a timed item, {all_day: true, "
            "start_date, end_date} for an all-day one"
        ),
    ]
    participants: list[str]
    sync: bool
    notify_participants: bool
    changed_at: Timestamp
    changed_by: ActionItemSide
    deleted: Annotated[bool, Field(description="deleted in the CRM; kept, marked")]
    calendar: ActionItemCalendar
    version: int


class ActionItemPage(TypedDict):
    data: list[ActionItem]
    next_cursor: NextCursor
