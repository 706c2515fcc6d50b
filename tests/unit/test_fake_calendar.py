"""The fake Nylas's calendars: presets, the rules of an event body, listing, and the state.

Everything here is in memory: the rules are plain functions, and :class:`FakeNylas` is driven
through its methods with an injected clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.datastructures import QueryParams

from simulator import calendar as cal
from simulator.api_envelopes import ApiError
from simulator.api_requests import event_query, metadata_pair_param, required_param
from simulator.calendar import (
    CalendarError,
    EventQuery,
    InvalidEvent,
    apply_fields,
    event_matches,
    event_order,
    new_event,
    normalise_participants,
    normalise_when,
    validate_metadata,
    when_bounds,
    when_object,
)
from simulator.mailbox import FakeNylas
from simulator.notifications import deleted_event_object, event_notification, event_source
from tests.support.fake_api import SettableClock

GOOGLE = "grant-google"
MICROSOFT = "grant-microsoft"
REP = "rep@gmail.example"
T0 = 1_790_000_000
DEC_1 = 1_796_137_200  # 2026-12-01T15:00:00Z
HOUR = {"start_time": DEC_1, "end_time": DEC_1 + 3600}


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(T0)


@pytest.fixture
def fake(clock: SettableClock) -> FakeNylas:
    fake = FakeNylas(clock=clock)
    fake.add_mailbox(GOOGLE, "google", REP)
    fake.add_mailbox(MICROSOFT, "microsoft", "rep@outlook.example")
    return fake


def event(**fields: Any) -> dict[str, Any]:
    """A stored event in the rep's primary calendar, built by the create rules."""
    calendar = cal.google_calendars(GOOGLE, REP)[0]
    body = {"when": HOUR, **fields}
    return new_event(
        event_id="e1", calendar=calendar, organizer=REP, provider="google", body=body, at=T0
    )


# Presets -----------------------------------------------------------------------------------


def test_google_preset_primary_is_the_address_and_holidays_are_read_only() -> None:
    calendars = {c["id"]: c for c in cal.google_calendars(GOOGLE, REP)}

    assert set(calendars) == {REP, cal.GOOGLE_HOLIDAYS_ID, cal.GOOGLE_TEAM_ID}
    assert (calendars[REP]["name"], calendars[REP]["is_primary"]) == (REP, True)
    holidays = calendars[cal.GOOGLE_HOLIDAYS_ID]
    assert holidays["name"] == "Holidays in United States"
    assert (holidays["read_only"], holidays["is_owned_by_user"]) == (True, False)
    assert calendars[cal.GOOGLE_TEAM_ID]["name"] == "Team"
    assert not calendars[cal.GOOGLE_TEAM_ID]["read_only"]
    required = {"id", "grant_id", "name", "read_only", "is_owned_by_user", "object"}
    assert all(required <= set(c) and c["grant_id"] == GOOGLE for c in calendars.values())


def test_microsoft_preset_has_calendar_as_primary_and_two_read_only() -> None:
    calendars = {c["name"]: c for c in cal.microsoft_calendars(MICROSOFT)}

    assert set(calendars) == {"Calendar", "Birthdays", "United States holidays", "Sales"}
    assert calendars["Calendar"]["is_primary"] is True
    assert calendars["Calendar"]["id"] == cal.MICROSOFT_CALENDAR_ID
    assert [n for n, c in calendars.items() if c["read_only"]] == [
        "Birthdays",
        "United States holidays",
    ]
    assert sum(bool(c["is_primary"]) for c in calendars.values()) == 1


def test_mailboxes_get_their_provider_calendars_and_imap_none(fake: FakeNylas) -> None:
    fake.add_mailbox("grant-imap", "imap", "rep@imap.example")

    assert [c["id"] for c in fake.calendars(GOOGLE)] == sorted(
        c["id"] for c in cal.google_calendars(GOOGLE, REP)
    )
    assert len(fake.calendars(MICROSOFT)) == 4
    assert fake.calendars("grant-imap") == []
    assert fake.calendar(GOOGLE, "primary") == fake.calendar(GOOGLE, REP)
    assert (fake.calendar(MICROSOFT, "primary") or {}).get("name") == "Calendar"
    assert fake.calendar(GOOGLE, "nope") is None


def test_ids_look_like_the_providers() -> None:
    google = cal.new_event_id("google")
    microsoft = cal.new_event_id("microsoft")

    assert len(google) == 26
    assert set(google) <= set("0123456789abcdefghijklmnopqrstuv")
    assert microsoft.startswith("AAMkAD")
    assert cal.occurrence_id("master", DEC_1) == "master_20261201"


@pytest.mark.parametrize(
    ("provider", "code"), [("google", 403), ("microsoft", "ErrorAccessDenied")]
)
def test_read_only_refusal_carries_the_providers_error(provider: str, code: object) -> None:
    message, provider_error = cal.read_only_error(provider)

    assert provider_error["error"]["code"] == code
    assert provider_error["error"]["message"] == message


# when ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "kind"),
    [
        ({"start_time": 1, "end_time": 2}, "timespan"),
        ({"date": "2026-12-01"}, "date"),
        ({"start_date": "2026-12-01", "end_date": "2026-12-03"}, "datespan"),
        ({"time": 5}, "time"),
        ({"object": "date", "date": "2026-12-01"}, "date"),
    ],
)
def test_when_object_is_inferred_when_left_out(when: dict[str, Any], kind: str) -> None:
    assert when_object(when) == kind
    assert normalise_when(when)["object"] == kind


def test_a_timespan_comes_back_complete() -> None:
    assert normalise_when({"start_time": 10, "end_time": 20, "start_timezone": "UTC"}) == {
        "object": "timespan",
        "start_time": 10,
        "end_time": 20,
        "start_timezone": "UTC",
        "end_timezone": None,
    }


@pytest.mark.parametrize(
    "when",
    [
        "tomorrow",
        {},
        {"object": "weekly"},
        {"start_time": 20, "end_time": 10},
        {"start_time": "10", "end_time": 20},
        {"start_time": True, "end_time": 20},
        {"start_time": 10},
        {"date": "2026-13-01"},
        {"date": "20261201"},
        {"start_date": "2026-12-03", "end_date": "2026-12-01"},
        {"start_time": 1, "end_time": 2, "start_timezone": 5},
    ],
)
def test_a_bad_when_is_invalid(when: object) -> None:
    with pytest.raises(InvalidEvent):
        normalise_when(when)


@pytest.mark.parametrize(
    ("when", "bounds"),
    [
        ({"object": "timespan", "start_time": 10, "end_time": 20}, (10, 20)),
        ({"object": "time", "time": 10}, (10, 10)),
        ({"object": "date", "date": "2026-12-01"}, (1_796_083_200, 1_796_169_600)),
        (
            {"object": "datespan", "start_date": "2026-12-01", "end_date": "2026-12-02"},
            (1_796_083_200, 1_796_256_000),  # the end date is a whole day too
        ),
    ],
)
def test_when_bounds(when: dict[str, Any], bounds: tuple[int, int]) -> None:
    assert when_bounds(when) == bounds


# Participants, metadata, PUT -------------------------------------------------------------------


def test_participants_keep_their_answer_when_sent_again() -> None:
    previous = [{"email": "Dana@acme.example", "status": "yes"}]

    participants = normalise_participants(
        [{"email": "dana@acme.example", "name": "Dana"}, {"email": "new@acme.example"}], previous
    )

    assert participants == [
        {"email": "dana@acme.example", "status": "yes", "name": "Dana"},
        {"email": "new@acme.example", "status": "noreply"},
    ]


@pytest.mark.parametrize(
    "participants",
    [
        "dana@acme.example",
        [{"name": "no address"}],
        [{"email": " "}],
        [{"email": "a@b.example", "status": "accepted"}],
        [{"email": "a@b.example", "name": 3}],
    ],
)
def test_bad_participants_are_invalid(participants: object) -> None:
    with pytest.raises(InvalidEvent):
        normalise_participants(participants)


@pytest.mark.parametrize(
    "metadata",
    [
        "key1=a",
        {"key1": 1},
        {"key1": {"nested": "no"}},
        {"": "empty key"},
        {"k" * 41: "v"},
        {"key1": "v" * 501},
        {f"k{i}": "v" for i in range(51)},
    ],
)
def test_metadata_limits(metadata: object) -> None:
    with pytest.raises(InvalidEvent):
        validate_metadata(metadata)


def test_metadata_within_limits_is_kept() -> None:
    metadata = {"key4": "v" * 500, "k" * 40: ""}

    assert validate_metadata(metadata) == metadata


def test_put_replaces_what_is_sent_whole_and_keeps_the_rest() -> None:
    before = event(
        title="Renewal",
        description="Agenda",
        when={**HOUR, "start_timezone": "UTC", "end_timezone": "UTC"},
        participants=[{"email": "a@x.example"}, {"email": "b@x.example"}],
        metadata={"key1": "item-1", "other": "x"},
    )

    after = apply_fields(
        before,
        {
            "title": "Renewal call",
            "when": {"start_time": DEC_1, "end_time": DEC_1 + 60},
            "participants": [{"email": "b@x.example"}],
            "metadata": {"key1": "item-1"},
            "organizer": {"email": "ignored@x.example"},
        },
    )

    assert after["title"] == "Renewal call"
    assert after["description"] == "Agenda"
    assert after["when"]["start_timezone"] is None  # replaced whole, not merged
    assert after["participants"] == [{"email": "b@x.example", "status": "noreply"}]
    assert after["metadata"] == {"key1": "item-1"}
    assert after["organizer"] == {"email": REP}
    assert before["title"] == "Renewal"  # a copy


def test_strict_fields_refuse_unknown_keys() -> None:
    with pytest.raises(InvalidEvent, match="organizer"):
        apply_fields(event(), {"organizer": {}}, strict=True)


def test_a_create_needs_when_and_inherits_read_only_from_its_calendar() -> None:
    holidays = cal.google_calendars(GOOGLE, REP)[1]

    created = new_event(
        event_id="h1",
        calendar=holidays,
        organizer=REP,
        provider="google",
        body={"when": {"date": "2026-12-25"}},
        at=T0,
    )

    assert created["read_only"] is True
    assert created["calendar_id"] == cal.GOOGLE_HOLIDAYS_ID
    assert (created["created_at"], created["updated_at"]) == (T0, T0)
    assert created["status"] == "confirmed"
    with pytest.raises(InvalidEvent, match="when is required"):
        new_event(event_id="x", calendar=holidays, organizer=REP, provider="google", body={}, at=T0)


# Listing -----------------------------------------------------------------------------------


def test_listing_rules() -> None:
    single = event()
    master = {**event(), "id": "m", "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=2"]}
    occurrence = {**event(), "id": "m_20261201", "master_event_id": "m"}
    tagged = event(metadata={"key4": "item-7"})

    def listed(query: EventQuery) -> list[str]:
        events = (single, master, occurrence)
        return [e["id"] for e in events if event_matches(e, query)]

    assert listed(EventQuery()) == ["e1", "m"]
    assert listed(EventQuery(expand_recurring=True)) == ["e1", "m_20261201"]
    assert listed(EventQuery(master_event_id="m")) == ["m_20261201"]
    assert listed(EventQuery(start=DEC_1 + 3600)) == []  # ended exactly at start
    assert listed(EventQuery(start=DEC_1 + 3599)) == ["e1", "m"]
    assert listed(EventQuery(end=DEC_1)) == []  # starts exactly at end
    assert listed(EventQuery(end=DEC_1 + 1)) == ["e1", "m"]
    assert event_matches(tagged, EventQuery(metadata_pair=("key4", "item-7")))
    assert not event_matches(tagged, EventQuery(metadata_pair=("key4", "item-8")))
    assert event_order(single) == (DEC_1, "e1")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("metadata_pair=key4:item:7", ("key4", "item:7")),
        ("", None),
    ],
)
def test_metadata_pair_is_a_key_and_a_value(query: str, expected: object) -> None:
    assert metadata_pair_param(QueryParams(query)) == expected


@pytest.mark.parametrize(
    "query",
    ["metadata_pair=crm_id:7", "metadata_pair=key4", "metadata_pair=key4:7&start=1"],
)
def test_metadata_pair_refusals(query: str) -> None:
    with pytest.raises(ApiError) as caught:
        metadata_pair_param(QueryParams(query))

    assert caught.value.status == 400


def test_event_query_reads_the_sdk_forms() -> None:
    params = QueryParams("start=5&end=9&expand_recurring=True&master_event_id=m")

    assert event_query(params) == EventQuery(
        start=5, end=9, expand_recurring=True, master_event_id="m"
    )
    with pytest.raises(ApiError, match="calendar_id is required"):
        required_param(QueryParams("calendar_id="), "calendar_id")


# Notifications -----------------------------------------------------------------------------


def test_the_deleted_payload_is_minimal() -> None:
    occurrence = {**event(metadata={"key1": "v"}), "master_event_id": "m"}

    assert deleted_event_object(occurrence) == {
        "id": "e1",
        "grant_id": GOOGLE,
        "calendar_id": REP,
        "object": "event",
        "master_event_id": "m",
        "metadata": {"key1": "v"},
    }
    assert set(deleted_event_object(event())) == {"id", "grant_id", "calendar_id", "object"}


def test_event_notifications_carry_the_provider_source_and_the_time() -> None:
    created = event_notification("event.created", event(), provider="microsoft", at=T0 + 5)

    assert created["source"] == event_source("microsoft") == "/microsoft/events/realtime"
    assert created["time"] == T0 + 5
    assert created["data"]["object"] == event()
    assert created["specversion"] == "1.0"


# State -------------------------------------------------------------------------------------


def test_updated_at_follows_the_clock_and_never_goes_back(
    fake: FakeNylas, clock: SettableClock
) -> None:
    created = fake.user_creates_event(GOOGLE, "primary", event_id="e", when=HOUR)
    clock.now = T0 + 60
    later = fake.user_edits_event(GOOGLE, "e", title="later")
    same_second = fake.user_edits_event(GOOGLE, "e", title="same second")
    clock.now = T0 - 100
    backwards = fake.user_edits_event(GOOGLE, "e", title="clock went back")

    stamps = [n["data"]["object"]["updated_at"] for n in (created, later, same_second, backwards)]
    assert stamps == [T0, T0 + 60, T0 + 61, T0 + 62]
    assert [n["time"] for n in (created, later, same_second, backwards)] == [
        T0,
        T0 + 60,
        T0 + 60,
        T0 - 100,
    ]
    assert (fake.event(GOOGLE, "e") or {}).get("created_at") == T0


def test_user_changes_return_notifications_without_queuing_them(fake: FakeNylas) -> None:
    created = fake.user_creates_event(GOOGLE, REP, title="Call", when=HOUR)
    event_id = created["data"]["object"]["id"]
    edited = fake.user_edits_event(GOOGLE, event_id, status="cancelled")
    deleted = fake.user_deletes_event(GOOGLE, event_id)

    assert [n["type"] for n in (created, edited, deleted)] == [
        "event.created",
        "event.updated",
        "event.deleted",
    ]
    assert edited["data"]["object"]["status"] == "cancelled"
    assert deleted["data"]["object"] == {
        "id": event_id,
        "grant_id": GOOGLE,
        "calendar_id": REP,
        "object": "event",
    }
    assert fake.event(GOOGLE, event_id) is None
    assert fake.drain_notifications() == []


def test_user_helpers_refuse_typos_unknown_events_and_taken_ids(fake: FakeNylas) -> None:
    fake.user_creates_event(GOOGLE, REP, event_id="e", when=HOUR)

    with pytest.raises(InvalidEvent, match="titel"):
        fake.user_edits_event(GOOGLE, "e", titel="typo")
    with pytest.raises(KeyError):
        fake.user_edits_event(GOOGLE, "missing", title="x")
    with pytest.raises(ValueError, match="already exists"):
        fake.user_creates_event(GOOGLE, REP, event_id="e", when=HOUR)
    with pytest.raises(KeyError):
        fake.user_creates_event(GOOGLE, "no-such-calendar", when=HOUR)


def test_api_writes_queue_their_echoes_in_order(fake: FakeNylas, clock: SettableClock) -> None:
    created = fake.api_create_event(GOOGLE, "primary", {"title": "Call", "when": HOUR})
    clock.now = T0 + 1
    fake.api_update_event(GOOGLE, created["id"], REP, {"title": "Call 2"})
    clock.now = T0 + 2
    fake.api_destroy_event(GOOGLE, created["id"], "primary")

    drained = fake.drain_notifications()

    assert [(n["type"], n["time"]) for n in drained] == [
        ("event.created", T0),
        ("event.updated", T0 + 1),
        ("event.deleted", T0 + 2),
    ]
    assert drained[1]["data"]["object"]["title"] == "Call 2"
    assert fake.drain_notifications() == []


def test_a_metadata_only_update_sends_no_notification(fake: FakeNylas) -> None:
    created = fake.api_create_event(GOOGLE, REP, {"when": HOUR, "metadata": {"key1": "a"}})
    fake.drain_notifications()

    updated = fake.api_update_event(GOOGLE, created["id"], REP, {"metadata": {"key1": "b"}})

    assert updated["metadata"] == {"key1": "b"}
    assert fake.drain_notifications() == []
    fake.api_update_event(GOOGLE, created["id"], REP, {"metadata": {"key1": "b"}})
    assert len(fake.drain_notifications()) == 1  # no change at all still reports the write


@pytest.mark.parametrize(
    ("write", "status", "error_type"),
    [
        (
            lambda f: f.api_create_event(GOOGLE, cal.GOOGLE_HOLIDAYS_ID, {"when": HOUR}),
            403,
            "provider_error",
        ),
        (lambda f: f.api_create_event(GOOGLE, "nope", {"when": HOUR}), 400, None),
        (lambda f: f.api_create_event(GOOGLE, REP, {"title": "no when"}), 400, None),
        (lambda f: f.api_create_event(GOOGLE, REP, {"when": {"date": "soon"}}), 400, None),
        (lambda f: f.api_update_event(GOOGLE, "missing", REP, {}), 404, None),
        (lambda f: f.api_destroy_event(GOOGLE, "missing", REP), 404, None),
    ],
)
def test_api_refusals(
    fake: FakeNylas, write: Callable[[FakeNylas], object], status: int, error_type: str | None
) -> None:
    with pytest.raises(CalendarError) as caught:
        write(fake)

    assert (caught.value.status, caught.value.error_type) == (status, error_type)
    assert fake.drain_notifications() == []


def test_a_read_only_event_refuses_updates_but_may_be_removed(fake: FakeNylas) -> None:
    fake.user_creates_event(GOOGLE, REP, event_id="invite", when=HOUR, read_only=True)

    with pytest.raises(CalendarError) as caught:
        fake.api_update_event(GOOGLE, "invite", REP, {"title": "mine now"})
    fake.api_destroy_event(GOOGLE, "invite", REP)

    assert caught.value.status == 403
    assert caught.value.provider_error is not None
    assert fake.event(GOOGLE, "invite") is None


def test_the_calendar_id_must_match_except_for_a_microsoft_delete(fake: FakeNylas) -> None:
    google = fake.api_create_event(GOOGLE, REP, {"when": HOUR})
    microsoft = fake.api_create_event(MICROSOFT, "primary", {"when": HOUR})

    with pytest.raises(CalendarError) as caught:
        fake.api_destroy_event(GOOGLE, google["id"], cal.GOOGLE_TEAM_ID)
    fake.api_destroy_event(MICROSOFT, microsoft["id"], cal.MICROSOFT_SALES_ID)

    assert caught.value.status == 404
    assert fake.event(MICROSOFT, microsoft["id"]) is None
    deleted = fake.drain_notifications()[-1]
    assert deleted["data"]["object"]["calendar_id"] == cal.MICROSOFT_CALENDAR_ID
    assert deleted["source"] == "/microsoft/events/realtime"


def test_recurring_events_and_their_occurrences(fake: FakeNylas) -> None:
    master, first, second = fake.add_recurring_event(GOOGLE, REP, event_id="weekly")

    assert (first["id"], second["id"]) == ("weekly_20261201", "weekly_20261208")
    assert first["master_event_id"] == second["master_event_id"] == "weekly"
    assert second["when"]["start_time"] - first["when"]["start_time"] == 7 * 86_400
    assert master["recurrence"] == ["RRULE:FREQ=WEEKLY;COUNT=2"]
    assert "recurrence" not in first
    assert first["ical_uid"] == master["ical_uid"]
    assert [e["id"] for e in fake.events(GOOGLE, REP)] == [
        "weekly",
        "weekly_20261201",
        "weekly_20261208",
    ]

    deleted = fake.user_deletes_event(GOOGLE, first["id"])
    assert deleted["data"]["object"]["master_event_id"] == "weekly"
    fake.user_deletes_event(GOOGLE, "weekly")
    assert fake.events(GOOGLE, REP) == []  # the master takes its occurrences along


def test_adding_a_grant_again_forgets_its_calendars(fake: FakeNylas) -> None:
    fake.user_creates_event(GOOGLE, REP, event_id="e", when=HOUR)

    fake.add_grant(GOOGLE, "google", REP)

    assert fake.calendars(GOOGLE) == []
    assert fake.event(GOOGLE, "e") is None
    with pytest.raises(KeyError):
        fake.calendars("no-such-grant")


def test_a_recurring_event_takes_its_times_not_a_when(fake: FakeNylas) -> None:
    master, first, _ = fake.add_recurring_event(
        MICROSOFT, "primary", start_time=DEC_1, duration_seconds=1800, timezone="Europe/Paris"
    )

    assert first["when"] == {
        "object": "timespan",
        "start_time": DEC_1,
        "end_time": DEC_1 + 1800,
        "start_timezone": "Europe/Paris",
        "end_timezone": "Europe/Paris",
    }
    assert first["id"] == f"{master['id']}_20261201"
    with pytest.raises(ValueError, match="instead of when"):
        fake.add_recurring_event(GOOGLE, REP, when=HOUR)
