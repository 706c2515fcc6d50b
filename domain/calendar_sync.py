"""Two-way calendar sync of action items as pure rules (C1-C5).

C2 :func:`choose_calendar`; C1 :func:`calendar_window`; C4 :func:`is_echo`; and C3, last writer
wins, as one function, :func:`reconcile`: it takes an item's sync state and one change from
either side and returns the new state and what to do.

Why the state has three parts. Content is a last-writer-wins register ordered by
``VersionKey`` (change time, then side, CRM winning ties, then the content digest, so even two
edits of one side at one second have one winner). Deletions in the calendar are a separate
register (the latest one seen), and a CRM deletion is final. Each part only ever moves to a
larger value, so applying the same set of changes in any order, any number of times, ends in
the same state: the property the tests check with hypothesis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import IntEnum, StrEnum
from typing import Any

from domain.action_items import ItemContent
from domain.errors import DomainError


class NoCalendar(DomainError):
    """Raised when a rep has no calendar crmsync may write to, or not the one configured."""


@dataclass(frozen=True, slots=True)
class CalendarInfo:
    id: str
    name: str
    is_primary: bool
    read_only: bool


def parse_calendar(obj: Mapping[str, Any]) -> CalendarInfo:
    return CalendarInfo(
        id=str(obj.get("id") or ""),
        name=str(obj.get("name") or ""),
        is_primary=obj.get("is_primary") is True,
        read_only=obj.get("read_only") is True,
    )


def choose_calendar(calendars: Sequence[CalendarInfo], configured: str | None) -> CalendarInfo:
    """C2: the configured calendar by name (case-insensitive); else the first named
    "Calendar"; else the primary; else the first. Read-only calendars are never chosen.

    Raises:
        NoCalendar: the configured name matches no writable calendar, or none is writable.
    """
    writable = [c for c in calendars if c.id and not c.read_only]
    if configured:
        for calendar in writable:
            if calendar.name.casefold() == configured.strip().casefold():
                return calendar
        raise NoCalendar(
            "calendar_not_found",
            f"no writable calendar named {configured!r}; the rep's calendars: "
            f"{', '.join(repr(c.name) for c in calendars) or 'none'}",
        )
    named = [c for c in writable if c.name.casefold() == "calendar"]
    primary = [c for c in writable if c.is_primary]
    for candidates in (named, primary, writable):
        if candidates:
            return candidates[0]
    raise NoCalendar("no_calendar", "the rep has no calendar crmsync can write to")


@dataclass(frozen=True, slots=True)
class CalendarWindow:
    start: datetime
    end: datetime

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


def calendar_window(sync_from: datetime, today: date, days_after: int) -> CalendarWindow:
    """C1: from the rep's sync-from to the end of today plus ``days_after`` days (UTC)."""
    last_day = today + timedelta(days=days_after + 1)
    return CalendarWindow(sync_from, datetime.combine(last_day, time(0), tzinfo=UTC))


class Side(IntEnum):
    """Which side wrote a version; on a tie of time the higher side wins (the CRM)."""

    CALENDAR = 0
    CRM = 1


@dataclass(frozen=True, order=True, slots=True)
class VersionKey:
    """Orders versions of an item's content: time, then side, then digest."""

    at: datetime
    side: Side
    digest: str


# A deletion in the calendar sorts after any calendar edit of the same second, and before a
# CRM edit of that second (the CRM wins ties).
_DELETION_DIGEST = "\uffff"


@dataclass(frozen=True, slots=True)
class SyncState:
    """What reconciling needs of an item: its content and version, and its deletions."""

    content: ItemContent
    version: VersionKey
    deleted_in_calendar_at: datetime | None = None
    deleted_in_crm: bool = False

    @property
    def unlinked(self) -> bool:
        """True when the latest deletion in the calendar is newer than the content (C5)."""
        if self.deleted_in_calendar_at is None:
            return False
        deletion = VersionKey(self.deleted_in_calendar_at, Side.CALENDAR, _DELETION_DIGEST)
        return deletion > self.version


@dataclass(frozen=True, slots=True)
class CrmEdit:
    at: datetime
    content: ItemContent


@dataclass(frozen=True, slots=True)
class CrmDelete:
    at: datetime


@dataclass(frozen=True, slots=True)
class CalendarEdit:
    at: datetime  # the event's updated_at
    content: ItemContent


@dataclass(frozen=True, slots=True)
class CalendarDelete:
    at: datetime  # the notification's time: a deleted event carries no updated_at


Change = CrmEdit | CrmDelete | CalendarEdit | CalendarDelete


class Effect(StrEnum):
    """What to do after a change is reconciled."""

    PUSH = "push"  # write the item's content to the calendar (create or update the event)
    APPLY_TO_CRM = "apply_to_crm"  # the calendar's content is now the item's
    UNLINK = "unlink"  # the event is gone: keep the item, stop syncing it to that event
    DELETE_EVENT = "delete_event"  # the CRM deleted the item: delete its event
    IGNORE = "ignore"  # older, a duplicate, or about an item the CRM deleted


@dataclass(frozen=True, slots=True)
class Reconciled:
    state: SyncState
    effect: Effect


def reconcile(state: SyncState, change: Change) -> Reconciled:
    """C3: last writer wins, one change at a time, the CRM winning ties."""
    if isinstance(change, CrmDelete):
        if state.deleted_in_crm:
            return Reconciled(state, Effect.IGNORE)
        return Reconciled(replace(state, deleted_in_crm=True), Effect.DELETE_EVENT)
    merged = _merge(state, change)
    if state.deleted_in_crm:
        # Nothing more is done for a deleted item, but its registers still move: otherwise a
        # change delivered after the deletion would count or not depending on the order.
        return Reconciled(merged.state, Effect.IGNORE)
    return merged


def _merge(state: SyncState, change: CrmEdit | CalendarEdit | CalendarDelete) -> Reconciled:
    if isinstance(change, CalendarDelete):
        latest = max(filter(None, (state.deleted_in_calendar_at, change.at)))
        deleted = replace(state, deleted_in_calendar_at=latest)
        if deleted.unlinked and not state.unlinked:
            return Reconciled(deleted, Effect.UNLINK)
        # A deletion older than the CRM's content: the CRM wins, the event is written again.
        effect = Effect.IGNORE if deleted.unlinked else Effect.PUSH
        return Reconciled(deleted, effect)
    side = Side.CRM if isinstance(change, CrmEdit) else Side.CALENDAR
    key = VersionKey(change.at, side, change.content.digest())
    if key <= state.version:
        # The CRM already holds something newer: an older calendar state is overwritten.
        stale_calendar = side is Side.CALENDAR and key < state.version and not state.unlinked
        return Reconciled(state, Effect.PUSH if stale_calendar else Effect.IGNORE)
    newer = replace(state, content=change.content, version=key)
    if side is Side.CRM:
        return Reconciled(newer, Effect.IGNORE if newer.unlinked else Effect.PUSH)
    return Reconciled(newer, Effect.APPLY_TO_CRM)


def is_echo(
    event_digest: str,
    event_updated_at: datetime | None,
    written_digest: str | None,
    written_updated_at: datetime | None,
) -> bool:
    """C4: a notification reporting what crmsync itself last wrote to the event: the same
    content, or the very version (``updated_at``) our write produced."""
    if written_digest is not None and event_digest == written_digest:
        return True
    return (
        written_updated_at is not None
        and event_updated_at is not None
        and event_updated_at == written_updated_at
    )


def overwritten_since(
    event_updated_at: datetime | None, written_updated_at: datetime | None
) -> bool:
    """Whether crmsync wrote the event after the version a notification reports.

    Then a calendar edit that wins (C3) is in the CRM but no longer in the calendar (our
    later write replaced it), so it must be written back: without this the two sides would
    stay apart, each thinking the other current.
    """
    return (
        written_updated_at is not None
        and event_updated_at is not None
        and event_updated_at < written_updated_at
    )


def why_not_pushed(
    *,
    connected: bool,
    calendar_sync: bool,
    flagged: bool,
    unlinked: bool,
    window: CalendarWindow,
    starts_at: datetime,
) -> str | None:
    """C1: why an item's content is not written to the calendar, or None when it is."""
    if not connected:
        return "the rep has no connected mailbox"
    if not calendar_sync:
        return "calendar sync is off for the rep"
    if not flagged:
        return "the item is not flagged for sync"
    if unlinked:
        return "its event was deleted in the calendar"
    if not window.contains(starts_at):
        return "outside the calendar sync window"
    return None
