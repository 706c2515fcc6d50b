"""Two-way calendar sync as pure rules: the calendar (C2), the window (C1), last writer wins
with the CRM winning ties (C3), our own writes coming back (C4), and deletions that unlink
rather than delete (C5).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.action_items import AllDay, ItemContent, Timespan
from domain.calendar_sync import (
    CalendarDelete,
    CalendarEdit,
    CalendarInfo,
    CalendarWindow,
    Change,
    CrmDelete,
    CrmEdit,
    Effect,
    NoCalendar,
    Side,
    SyncState,
    VersionKey,
    calendar_window,
    choose_calendar,
    is_echo,
    overwritten_since,
    parse_calendar,
    reconcile,
    why_not_pushed,
)

# Choosing the calendar (C2) ----------------------------------------------------------------


def cal(
    calendar_id: str, name: str, *, primary: bool = False, read_only: bool = False
) -> CalendarInfo:
    return CalendarInfo(calendar_id, name, primary, read_only)


WORK = cal("c-work", "Work")
CALENDAR = cal("c-calendar", "Calendar")
PRIMARY = cal("c-primary", "dana@acme.example", primary=True)
HOLIDAYS = cal("c-holidays", "Holidays in France", read_only=True)
SHARED_CALENDAR = cal("c-shared", "Calendar", read_only=True)
READ_ONLY_PRIMARY = cal("c-ro-primary", "dana@acme.example", primary=True, read_only=True)


@pytest.mark.parametrize(
    ("calendars", "configured", "chosen"),
    [
        pytest.param(
            [CALENDAR, PRIMARY, WORK], "Work", WORK, id="the configured name is chosen first"
        ),
        pytest.param(
            [CALENDAR, PRIMARY, WORK], "wORK", WORK, id="the configured name ignores case"
        ),
        pytest.param(
            [CALENDAR, PRIMARY, WORK], "  Work ", WORK, id="spaces around the name are ignored"
        ),
        pytest.param(
            [SHARED_CALENDAR, CALENDAR],
            "calendar",
            CALENDAR,
            id="the configured name skips a read-only calendar of that name",
        ),
        pytest.param(
            [cal("c-1", "Work"), cal("c-2", "WORK")],
            "work",
            cal("c-1", "Work"),
            id="of two calendars with the configured name the first is chosen",
        ),
        pytest.param(
            [WORK, PRIMARY, CALENDAR],
            None,
            CALENDAR,
            id="without a name the calendar named Calendar",
        ),
        pytest.param(
            [WORK, cal("c-lower", "calendar"), CALENDAR],
            "",
            cal("c-lower", "calendar"),
            id="an empty name finds the first named calendar in any case",
        ),
        pytest.param(
            [WORK, SHARED_CALENDAR, PRIMARY],
            None,
            PRIMARY,
            id="a read-only calendar named Calendar is passed over for the primary",
        ),
        pytest.param(
            [WORK, PRIMARY],
            None,
            PRIMARY,
            id="without a calendar named Calendar the primary",
        ),
        pytest.param(
            [HOLIDAYS, READ_ONLY_PRIMARY, WORK, cal("c-other", "Other")],
            None,
            WORK,
            id="without a writable primary the first writable calendar",
        ),
        pytest.param(
            [cal("", "Calendar"), WORK],
            None,
            WORK,
            id="a calendar without an id is never chosen",
        ),
        pytest.param(
            [cal("c-my", "My Calendar"), WORK],
            None,
            cal("c-my", "My Calendar"),
            id="a name merely containing Calendar does not count as Calendar",
        ),
    ],
)
def test_the_calendar_is_chosen_as_the_manual_says(
    calendars: list[CalendarInfo], configured: str | None, chosen: CalendarInfo
) -> None:
    assert choose_calendar(calendars, configured) == chosen


@pytest.mark.parametrize(
    ("calendars", "configured", "reason", "named"),
    [
        pytest.param(
            [CALENDAR, WORK],
            "Sales",
            "calendar_not_found",
            ["'Calendar'", "'Work'", "'Sales'"],
            id="a configured name that matches no calendar names the calendars",
        ),
        pytest.param(
            [HOLIDAYS, WORK],
            "holidays in france",
            "calendar_not_found",
            ["'Holidays in France'", "'Work'"],
            id="a configured calendar that is read-only is refused",
        ),
        pytest.param(
            [],
            "Work",
            "calendar_not_found",
            ["none"],
            id="a configured name with no calendars at all says none",
        ),
        pytest.param([], None, "no_calendar", [], id="no calendar at all"),
        pytest.param(
            [HOLIDAYS, SHARED_CALENDAR, READ_ONLY_PRIMARY],
            None,
            "no_calendar",
            [],
            id="only read-only calendars",
        ),
    ],
)
def test_no_usable_calendar_is_refused_clearly(
    calendars: list[CalendarInfo], configured: str | None, reason: str, named: list[str]
) -> None:
    with pytest.raises(NoCalendar) as raised:
        choose_calendar(calendars, configured)

    assert raised.value.reason == reason
    for name in named:
        assert name in raised.value.message


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(
            {
                "id": "c-1",
                "grant_id": "g-1",
                "object": "calendar",
                "name": "Calendar",
                "is_primary": True,
                "read_only": False,
                "timezone": "Europe/Paris",
            },
            cal("c-1", "Calendar", primary=True),
            id="a nylas calendar object is read",
        ),
        pytest.param(
            {"id": "x@group.calendar.google.com", "name": "Holidays", "read_only": True},
            cal("x@group.calendar.google.com", "Holidays", read_only=True),
            id="a read-only google calendar is read",
        ),
        pytest.param(
            {"id": "c-2", "name": None, "is_primary": "true", "read_only": None},
            cal("c-2", ""),
            id="missing and non-boolean fields read as false or empty",
        ),
    ],
)
def test_a_calendar_object_is_read(obj: dict[str, object], expected: CalendarInfo) -> None:
    assert parse_calendar(obj) == expected


# The window (C1) ---------------------------------------------------------------------------

SYNC_FROM = datetime(2026, 10, 1, 9, 30, tzinfo=UTC)
TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    ("days_after", "moment", "inside"),
    [
        pytest.param(30, SYNC_FROM, True, id="an item at sync-from is inside"),
        pytest.param(
            30, SYNC_FROM - timedelta(seconds=1), False, id="an item a second before is outside"
        ),
        pytest.param(
            30,
            datetime(2026, 10, 1, tzinfo=UTC),
            False,
            id="earlier on the sync-from day is outside",
        ),
        pytest.param(
            30, datetime(2026, 11, 23, 10, tzinfo=UTC), True, id="an item today is inside"
        ),
        pytest.param(
            30,
            datetime(2026, 12, 23, 23, 59, 59, tzinfo=UTC),
            True,
            id="the last second of the last day is inside",
        ),
        pytest.param(
            30,
            datetime(2026, 12, 24, tzinfo=UTC),
            False,
            id="an item starting exactly at the end is outside",
        ),
        pytest.param(
            0,
            datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC),
            True,
            id="zero days after still includes all of today",
        ),
        pytest.param(
            0, datetime(2026, 11, 24, tzinfo=UTC), False, id="zero days after excludes tomorrow"
        ),
        pytest.param(
            1, datetime(2026, 11, 24, 12, tzinfo=UTC), True, id="one day after includes tomorrow"
        ),
        pytest.param(
            0,
            datetime(2026, 11, 23, 19, 30, tzinfo=timezone(timedelta(hours=-5))),
            False,
            id="a moment in another zone is compared as an instant",
        ),
    ],
)
def test_the_window_runs_from_sync_from_to_the_end_of_today_plus_days_after(
    days_after: int, moment: datetime, inside: bool
) -> None:
    window = calendar_window(SYNC_FROM, TODAY, days_after)

    assert window.contains(moment) is inside


@pytest.mark.parametrize(
    ("days_after", "end"),
    [
        pytest.param(
            0, datetime(2026, 11, 24, tzinfo=UTC), id="zero days ends at midnight tonight"
        ),
        pytest.param(30, datetime(2026, 12, 24, tzinfo=UTC), id="thirty days end a month on"),
        pytest.param(38, datetime(2027, 1, 1, tzinfo=UTC), id="the end may fall in the next year"),
    ],
)
def test_the_window_has_its_bounds(days_after: int, end: datetime) -> None:
    window = calendar_window(SYNC_FROM, TODAY, days_after)

    assert (window.start, window.end) == (SYNC_FROM, end)


# Last writer wins (C3, C5) -----------------------------------------------------------------

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
T = T0 + timedelta(hours=1)
BEFORE = T - timedelta(seconds=1)
AFTER = T + timedelta(seconds=1)
LATER = T + timedelta(minutes=5)
MUCH_LATER = T + timedelta(hours=1)


def item(title: str) -> ItemContent:
    return ItemContent(
        title=title,
        description="",
        location="",
        when=Timespan(T0 + timedelta(days=3), T0 + timedelta(days=3, hours=1), "Europe/Paris"),
        participants=("dana@acme.example",),
    )


A = item("Call Dana")  # the CRM's content
B = item("Call Dana (moved)")  # an edit in the calendar
C = item("Call Dana and Priya")  # a later CRM edit


def key(at: datetime, side: Side, content: ItemContent) -> VersionKey:
    return VersionKey(at, side, content.digest())


def crm_state(
    at: datetime = T,
    content: ItemContent = A,
    *,
    deleted_in_calendar_at: datetime | None = None,
    deleted_in_crm: bool = False,
) -> SyncState:
    """An item whose content was last written by the CRM at ``at``."""
    version = key(at, Side.CRM, content)
    return SyncState(content, version, deleted_in_calendar_at, deleted_in_crm)


def calendar_state(
    at: datetime = T,
    content: ItemContent = B,
    *,
    deleted_in_calendar_at: datetime | None = None,
    deleted_in_crm: bool = False,
) -> SyncState:
    """An item whose content was last written by the calendar at ``at``."""
    version = key(at, Side.CALENDAR, content)
    return SyncState(content, version, deleted_in_calendar_at, deleted_in_crm)


def same_second_pair() -> tuple[ItemContent, ItemContent]:
    """Two contents ordered by digest: (lower, higher)."""
    lower, higher = sorted((A, C), key=lambda c: c.digest())
    return lower, higher


LOW, HIGH = same_second_pair()

RECONCILE = [
    # CRM edits
    pytest.param(
        crm_state(),
        CrmEdit(AFTER, C),
        crm_state(AFTER, C),
        Effect.PUSH,
        id="a newer crm edit is taken and pushed",
    ),
    pytest.param(
        crm_state(),
        CrmEdit(BEFORE, C),
        crm_state(),
        Effect.IGNORE,
        id="an older crm edit is ignored",
    ),
    pytest.param(
        crm_state(),
        CrmEdit(T, A),
        crm_state(),
        Effect.IGNORE,
        id="the same crm edit again is ignored",
    ),
    pytest.param(
        crm_state(T, LOW),
        CrmEdit(T, HIGH),
        crm_state(T, HIGH),
        Effect.PUSH,
        id="of two crm edits in one second the higher digest wins when it comes second",
    ),
    pytest.param(
        crm_state(T, HIGH),
        CrmEdit(T, LOW),
        crm_state(T, HIGH),
        Effect.IGNORE,
        id="of two crm edits in one second the higher digest wins when it came first",
    ),
    pytest.param(
        calendar_state(),
        CrmEdit(T, C),
        crm_state(T, C),
        Effect.PUSH,
        id="a crm edit in the same second as a calendar edit wins the tie",
    ),
    pytest.param(
        calendar_state(),
        CrmEdit(BEFORE, C),
        calendar_state(),
        Effect.IGNORE,
        id="a crm edit older than the calendar edit is ignored",
    ),
    # Calendar edits
    pytest.param(
        crm_state(),
        CalendarEdit(AFTER, B),
        calendar_state(AFTER),
        Effect.APPLY_TO_CRM,
        id="a newer calendar edit is applied to the crm",
    ),
    pytest.param(
        crm_state(),
        CalendarEdit(BEFORE, B),
        crm_state(),
        Effect.PUSH,
        id="an older calendar state is overwritten by pushing the crm content",
    ),
    pytest.param(
        crm_state(),
        CalendarEdit(T, B),
        crm_state(),
        Effect.PUSH,
        id="a calendar edit in the same second as the crm content loses and is overwritten",
    ),
    pytest.param(
        calendar_state(),
        CalendarEdit(T, B),
        calendar_state(),
        Effect.IGNORE,
        id="the same calendar edit again is ignored",
    ),
    pytest.param(
        calendar_state(),
        CalendarEdit(LATER, A),
        calendar_state(LATER, A),
        Effect.APPLY_TO_CRM,
        id="a second newer calendar edit is applied too",
    ),
    # Deletions in the calendar (C5)
    pytest.param(
        crm_state(),
        CalendarDelete(AFTER),
        crm_state(deleted_in_calendar_at=AFTER),
        Effect.UNLINK,
        id="a newer calendar deletion unlinks the item and keeps its content",
    ),
    pytest.param(
        calendar_state(),
        CalendarDelete(T),
        calendar_state(deleted_in_calendar_at=T),
        Effect.UNLINK,
        id="a deletion in the same second as a calendar edit unlinks",
    ),
    pytest.param(
        crm_state(),
        CalendarDelete(BEFORE),
        crm_state(deleted_in_calendar_at=BEFORE),
        Effect.PUSH,
        id="a deletion older than the crm content writes the event again",
    ),
    pytest.param(
        crm_state(),
        CalendarDelete(T),
        crm_state(deleted_in_calendar_at=T),
        Effect.PUSH,
        id="a deletion in the same second as the crm content loses the tie",
    ),
    pytest.param(
        crm_state(deleted_in_calendar_at=AFTER),
        CalendarDelete(AFTER),
        crm_state(deleted_in_calendar_at=AFTER),
        Effect.IGNORE,
        id="a duplicate deletion is ignored",
    ),
    pytest.param(
        crm_state(deleted_in_calendar_at=LATER),
        CalendarDelete(AFTER),
        crm_state(deleted_in_calendar_at=LATER),
        Effect.IGNORE,
        id="an older deletion after a newer one keeps the newer",
    ),
    pytest.param(
        crm_state(deleted_in_calendar_at=AFTER),
        CalendarDelete(LATER),
        crm_state(deleted_in_calendar_at=LATER),
        Effect.IGNORE,
        id="a newer deletion of an unlinked item is recorded quietly",
    ),
    # After an unlink
    pytest.param(
        crm_state(deleted_in_calendar_at=AFTER),
        CrmEdit(LATER, C),
        crm_state(LATER, C, deleted_in_calendar_at=AFTER),
        Effect.PUSH,
        id="a crm edit newer than the deletion relinks the item and pushes it",
    ),
    pytest.param(
        crm_state(deleted_in_calendar_at=LATER),
        CrmEdit(AFTER, C),
        crm_state(AFTER, C, deleted_in_calendar_at=LATER),
        Effect.IGNORE,
        id="a crm edit older than the deletion is kept but not pushed",
    ),
    pytest.param(
        crm_state(deleted_in_calendar_at=LATER),
        CalendarEdit(AFTER, B),
        calendar_state(AFTER, deleted_in_calendar_at=LATER),
        Effect.APPLY_TO_CRM,
        id="a calendar edit older than the deletion updates the content but stays unlinked",
    ),
    pytest.param(
        crm_state(deleted_in_calendar_at=LATER),
        CalendarEdit(BEFORE, B),
        crm_state(deleted_in_calendar_at=LATER),
        Effect.IGNORE,
        id="a stale calendar edit of an unlinked item is not pushed over",
    ),
    # Deletion in the CRM
    pytest.param(
        crm_state(),
        CrmDelete(AFTER),
        crm_state(deleted_in_crm=True),
        Effect.DELETE_EVENT,
        id="a crm deletion deletes the event",
    ),
    pytest.param(
        crm_state(deleted_in_calendar_at=AFTER),
        CrmDelete(LATER),
        crm_state(deleted_in_calendar_at=AFTER, deleted_in_crm=True),
        Effect.DELETE_EVENT,
        id="a crm deletion of an unlinked item is still reported",
    ),
    pytest.param(
        crm_state(deleted_in_crm=True),
        CrmDelete(LATER),
        crm_state(deleted_in_crm=True),
        Effect.IGNORE,
        id="a second crm deletion is ignored",
    ),
    pytest.param(
        crm_state(deleted_in_crm=True),
        CrmEdit(LATER, C),
        crm_state(LATER, C, deleted_in_crm=True),
        Effect.IGNORE,
        id="a crm edit after the deletion is recorded but not pushed",
    ),
    pytest.param(
        crm_state(deleted_in_crm=True),
        CalendarEdit(LATER, B),
        calendar_state(LATER, deleted_in_crm=True),
        Effect.IGNORE,
        id="a calendar edit after the crm deletion is not applied to the crm",
    ),
    pytest.param(
        crm_state(deleted_in_crm=True),
        CalendarEdit(BEFORE, B),
        crm_state(deleted_in_crm=True),
        Effect.IGNORE,
        id="a stale calendar edit after the crm deletion is not pushed over",
    ),
    pytest.param(
        crm_state(deleted_in_crm=True),
        CalendarDelete(LATER),
        crm_state(deleted_in_crm=True, deleted_in_calendar_at=LATER),
        Effect.IGNORE,
        id="the event's deletion after the crm deletion is quiet",
    ),
]


@pytest.mark.parametrize(("state", "change", "after", "effect"), RECONCILE)
def test_last_writer_wins_with_the_crm_winning_ties(
    state: SyncState, change: Change, after: SyncState, effect: Effect
) -> None:
    result = reconcile(state, change)

    assert result.effect is effect
    assert result.state == after


@pytest.mark.parametrize(("state", "change", "after", "effect"), RECONCILE)
def test_reconciling_a_change_twice_changes_nothing_more(
    state: SyncState, change: Change, after: SyncState, effect: Effect
) -> None:
    once = reconcile(state, change).state

    assert reconcile(once, change).state == once


@pytest.mark.parametrize(
    ("state", "unlinked"),
    [
        pytest.param(crm_state(), False, id="an item never deleted in the calendar is linked"),
        pytest.param(
            crm_state(deleted_in_calendar_at=AFTER), True, id="a deletion after the content unlinks"
        ),
        pytest.param(
            crm_state(deleted_in_calendar_at=T),
            False,
            id="a deletion in the same second as crm content does not unlink",
        ),
        pytest.param(
            calendar_state(deleted_in_calendar_at=T),
            True,
            id="a deletion in the same second as calendar content unlinks",
        ),
        pytest.param(
            crm_state(deleted_in_calendar_at=BEFORE),
            False,
            id="a deletion before the content does not unlink",
        ),
    ],
)
def test_an_item_is_unlinked_while_its_latest_deletion_is_newer(
    state: SyncState, unlinked: bool
) -> None:
    assert state.unlinked is unlinked


def test_a_calendar_deletion_keeps_the_crm_content() -> None:
    """C5: an unlink records the change; it never deletes CRM data."""
    result = reconcile(crm_state(LATER, C), CalendarDelete(MUCH_LATER))

    assert result.effect is Effect.UNLINK
    assert result.state.content == C
    assert result.state.version == key(LATER, Side.CRM, C)
    assert result.state.unlinked


def test_a_crm_deletion_ignores_everything_after_it() -> None:
    state = reconcile(crm_state(), CrmDelete(AFTER)).state
    effects = []
    for change in (
        CalendarEdit(LATER, B),
        CrmEdit(MUCH_LATER, C),
        CalendarDelete(MUCH_LATER),
        CalendarEdit(BEFORE, B),
        CrmDelete(MUCH_LATER),
    ):
        result = reconcile(state, change)
        state = result.state
        effects.append(result.effect)

    assert effects == [Effect.IGNORE] * 5
    assert state.deleted_in_crm


# The property: any order, any duplication, the same state (C3) ----------------------------

TIMES = [T + timedelta(seconds=s) for s in range(4)]  # few, so that ties are common
CONTENTS = [
    A,
    B,
    C,
    dataclasses.replace(A, when=AllDay(date(2026, 11, 23), date(2026, 11, 23))),
]

times = st.sampled_from(TIMES)
contents = st.sampled_from(CONTENTS)
edits = st.one_of(st.builds(CrmEdit, times, contents), st.builds(CalendarEdit, times, contents))
changes = st.lists(st.one_of(edits, edits, st.builds(CalendarDelete, times)), max_size=8)


@st.composite
def deliveries(draw: st.DrawFn, changes: list[Change]) -> list[Change]:
    """``changes`` in any order, each at least once and some several times."""
    if not changes:
        return []
    repeats = draw(st.lists(st.integers(min_value=0, max_value=len(changes) - 1), max_size=6))
    return draw(st.permutations(changes + [changes[i] for i in repeats]))


def fold(state: SyncState, delivered: list[Change]) -> SyncState:
    for change in delivered:
        state = reconcile(state, change).state
    return state


def observed(state: SyncState) -> tuple[object, ...]:
    return (
        state.content,
        state.version,
        state.deleted_in_calendar_at,
        state.deleted_in_crm,
        state.unlinked,
    )


def version_of(change: CrmEdit | CalendarEdit) -> VersionKey:
    side = Side.CRM if isinstance(change, CrmEdit) else Side.CALENDAR
    return key(change.at, side, change.content)


@settings(max_examples=500, deadline=None)
@given(
    created=st.builds(CrmEdit, times, contents),
    some=changes,
    crm_delete=st.none() | st.builds(CrmDelete, times),
    data=st.data(),
)
def test_any_order_and_duplication_of_the_same_changes_ends_in_the_same_state(
    created: CrmEdit, some: list[Change], crm_delete: CrmDelete | None, data: st.DataObject
) -> None:
    start = SyncState(created.content, version_of(created))
    every: list[Change] = [*some, *([crm_delete] if crm_delete else [])]

    in_order = fold(start, every)
    first = fold(start, data.draw(deliveries(every), label="first delivery"))
    second = fold(start, data.draw(deliveries(every), label="second delivery"))

    assert observed(first) == observed(in_order)
    assert observed(second) == observed(in_order)


@settings(max_examples=500, deadline=None)
@given(
    created=st.builds(CrmEdit, times, contents),
    some=changes,
    crm_delete=st.none() | st.builds(CrmDelete, times),
    data=st.data(),
)
def test_the_final_state_is_the_latest_version_with_the_crm_winning_ties(
    created: CrmEdit, some: list[Change], crm_delete: CrmDelete | None, data: st.DataObject
) -> None:
    start = SyncState(created.content, version_of(created))
    every: list[Change] = [*some, *([crm_delete] if crm_delete else [])]

    final = fold(start, data.draw(deliveries(every), label="delivery"))

    candidates = [created, *(c for c in every if isinstance(c, (CrmEdit, CalendarEdit)))]
    winner = max(candidates, key=version_of)
    deletions = [c.at for c in every if isinstance(c, CalendarDelete)]
    assert final.content == winner.content
    assert final.version == version_of(winner)
    assert final.deleted_in_calendar_at == (max(deletions) if deletions else None)
    assert final.deleted_in_crm is (crm_delete is not None)
    # A deletion beats a calendar edit of its second and loses to a CRM edit of it (C5).
    latest = max(deletions, default=None)
    assert final.unlinked is (
        latest is not None
        and (latest > winner.at or (latest == winner.at and isinstance(winner, CalendarEdit)))
    )


@settings(max_examples=300, deadline=None)
@given(created=st.builds(CrmEdit, times, contents), some=changes, data=st.data())
def test_after_a_crm_deletion_every_change_is_ignored(
    created: CrmEdit, some: list[Change], data: st.DataObject
) -> None:
    state = reconcile(SyncState(created.content, version_of(created)), CrmDelete(T)).state

    for change in data.draw(deliveries(some), label="delivery"):
        result = reconcile(state, change)
        state = result.state
        assert result.effect is Effect.IGNORE


@settings(max_examples=300, deadline=None)
@given(created=st.builds(CrmEdit, times, contents), some=changes, data=st.data())
def test_the_effects_say_what_the_state_change_needs(
    created: CrmEdit, some: list[Change], data: st.DataObject
) -> None:
    state = SyncState(created.content, version_of(created))

    for change in data.draw(deliveries(some), label="delivery"):
        result = reconcile(state, change)
        if result.effect is Effect.APPLY_TO_CRM:
            assert isinstance(change, CalendarEdit)
            assert result.state.content == change.content
        if result.effect is Effect.UNLINK:
            assert isinstance(change, CalendarDelete)
            assert result.state.unlinked
            assert not state.unlinked
            assert result.state.content == state.content
        if result.effect is Effect.PUSH:
            assert not result.state.unlinked
        assert result.state.version >= state.version
        state = result.state


# Echoes of our own writes (C4) -------------------------------------------------------------

DIGEST = "a" * 64
OTHER = "b" * 64
WRITTEN_AT = datetime(2026, 11, 23, 10, 0, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("event_digest", "event_updated_at", "written_digest", "written_updated_at", "echo"),
    [
        pytest.param(
            DIGEST, WRITTEN_AT, DIGEST, WRITTEN_AT, True, id="our write coming back is an echo"
        ),
        pytest.param(
            DIGEST,
            WRITTEN_AT + timedelta(seconds=3),
            DIGEST,
            WRITTEN_AT,
            True,
            id="the same content at a later version is an echo",
        ),
        pytest.param(
            DIGEST, None, DIGEST, None, True, id="the same content without times is an echo"
        ),
        pytest.param(
            OTHER,
            WRITTEN_AT,
            DIGEST,
            WRITTEN_AT,
            True,
            id="the very version our write produced is an echo even if read differently",
        ),
        pytest.param(
            OTHER,
            WRITTEN_AT + timedelta(seconds=1),
            DIGEST,
            WRITTEN_AT,
            False,
            id="other content at a later version is a user's edit",
        ),
        pytest.param(
            OTHER,
            WRITTEN_AT - timedelta(seconds=1),
            DIGEST,
            WRITTEN_AT,
            False,
            id="other content at an earlier version is not ours",
        ),
        pytest.param(DIGEST, WRITTEN_AT, None, None, False, id="nothing written yet means no echo"),
        pytest.param(
            OTHER,
            None,
            DIGEST,
            WRITTEN_AT,
            False,
            id="an event without updated_at and other content",
        ),
        pytest.param(
            OTHER, WRITTEN_AT, DIGEST, None, False, id="a write whose version was not recorded"
        ),
        pytest.param(OTHER, None, None, None, False, id="nothing known at all is not an echo"),
    ],
)
def test_our_own_writes_coming_back_are_echoes(
    event_digest: str,
    event_updated_at: datetime | None,
    written_digest: str | None,
    written_updated_at: datetime | None,
    echo: bool,
) -> None:
    assert is_echo(event_digest, event_updated_at, written_digest, written_updated_at) is echo


@pytest.mark.parametrize(
    ("event_updated_at", "written_updated_at", "overwritten"),
    [
        pytest.param(
            WRITTEN_AT - timedelta(seconds=1),
            WRITTEN_AT,
            True,
            id="a version older than our write was overwritten by it",
        ),
        pytest.param(WRITTEN_AT, WRITTEN_AT, False, id="the version of our write is current"),
        pytest.param(
            WRITTEN_AT + timedelta(seconds=1),
            WRITTEN_AT,
            False,
            id="a version newer than our write is current",
        ),
        pytest.param(None, WRITTEN_AT, False, id="a version without updated_at is not known older"),
        pytest.param(
            WRITTEN_AT, None, False, id="without a recorded write nothing was overwritten"
        ),
        pytest.param(None, None, False, id="nothing known"),
    ],
)
def test_a_version_older_than_our_last_write_was_overwritten(
    event_updated_at: datetime | None, written_updated_at: datetime | None, overwritten: bool
) -> None:
    assert overwritten_since(event_updated_at, written_updated_at) is overwritten


WINDOW = CalendarWindow(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
INSIDE = datetime(2026, 11, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        pytest.param({}, None, id="a flagged item in the window of a connected rep is pushed"),
        pytest.param({"connected": False}, "the rep has no connected mailbox", id="no mailbox"),
        pytest.param({"calendar_sync": False}, "calendar sync is off for the rep", id="sync off"),
        pytest.param({"flagged": False}, "the item is not flagged for sync", id="unflagged"),
        pytest.param({"unlinked": True}, "its event was deleted in the calendar", id="unlinked"),
        pytest.param(
            {"starts_at": datetime(2026, 12, 1, tzinfo=UTC)},
            "outside the calendar sync window",
            id="starting at the window's end is outside",
        ),
    ],
)
def test_why_an_item_is_not_pushed(changes: dict[str, object], reason: str | None) -> None:
    arguments: dict[str, object] = {
        "connected": True,
        "calendar_sync": True,
        "flagged": True,
        "unlinked": False,
        "window": WINDOW,
        "starts_at": INSIDE,
        **changes,
    }
    assert why_not_pushed(**arguments) == reason  # type: ignore[arg-type]
