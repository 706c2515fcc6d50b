"""Calendars and events of the fake Nylas API, driven by the real ``nylas`` SDK over real HTTP.

The SDK must decode every answer (all required fields present, ``when.object`` set) and fail
on refusals as it fails against Nylas; the notifications the fake queues must be the ones
Nylas would send after each write.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import nylas
import pytest
import requests

from simulator import calendar as cal
from simulator.mailbox import FakeNylas
from tests.support.fake_api import SettableClock, api_error

GOOGLE = "grant-google-1"
MICROSOFT = "grant-microsoft-1"
IMAP = "grant-imap-1"
REP = "rep@gmail.example"
T0 = 1_790_000_000
DEC_1 = 1_796_137_200  # 2026-12-01T15:00:00Z
HOUR = {"start_time": DEC_1, "end_time": DEC_1 + 3600}
WEIRD_ID = "evt#1/part?x=y"


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(T0)


@pytest.fixture
def fake(clock: SettableClock) -> FakeNylas:
    fake = FakeNylas(clock=clock)
    fake.add_mailbox(GOOGLE, "google", REP)
    fake.add_mailbox(MICROSOFT, "microsoft", "rep@outlook.example")
    fake.add_mailbox(IMAP, "imap", "rep@imap.example")
    return fake


@pytest.fixture
def client(fake: FakeNylas, base_url: str) -> nylas.Client:
    return nylas.Client(fake.api_key, api_uri=base_url, timeout=5)


def raw(fake: FakeNylas, base_url: str, method: str, path: str, **kwargs: Any) -> requests.Response:
    """A request without the SDK, for what the SDK will not send."""
    headers = {"Authorization": f"Bearer {fake.api_key}"}
    return requests.request(method, f"{base_url}{path}", headers=headers, timeout=5, **kwargs)


def on(calendar_id: str, **extra: Any) -> dict[str, Any]:
    """Write query parameters as crmsync sends them."""
    return {"calendar_id": calendar_id, "notify_participants": "false", **extra}


# Calendars ---------------------------------------------------------------------------------


def test_google_calendars_are_listed_with_every_field_the_sdk_needs(
    client: nylas.Client,
) -> None:
    calendars = {c.id: c for c in client.calendars.list(GOOGLE).data}

    assert set(calendars) == {REP, cal.GOOGLE_HOLIDAYS_ID, cal.GOOGLE_TEAM_ID}
    primary = calendars[REP]
    assert (primary.name, primary.is_primary, primary.read_only) == (REP, True, False)
    assert primary.is_owned_by_user is True
    assert primary.timezone == cal.DEFAULT_TIMEZONE
    holidays = calendars[cal.GOOGLE_HOLIDAYS_ID]
    assert (holidays.read_only, holidays.is_owned_by_user) == (True, False)


def test_microsoft_calendars_are_listed_and_found(client: nylas.Client) -> None:
    names = {c.name: c for c in client.calendars.list(MICROSOFT).data}

    assert set(names) == {"Calendar", "Birthdays", "United States holidays", "Sales"}
    assert names["Calendar"].is_primary is True
    assert client.calendars.find(MICROSOFT, cal.MICROSOFT_SALES_ID).data.name == "Sales"
    assert client.calendars.find(MICROSOFT, "primary").data.id == cal.MICROSOFT_CALENDAR_ID


def test_an_imap_grant_has_no_calendars(client: nylas.Client) -> None:
    assert client.calendars.list(IMAP).data == []


def test_calendar_ids_with_at_dot_and_hash(client: nylas.Client) -> None:
    assert client.calendars.find(GOOGLE, REP).data.is_primary is True
    assert client.calendars.find(GOOGLE, "primary").data.id == REP
    # The SDK does not encode calendar ids: an unencoded '#' starts a URL fragment.
    assert (
        api_error(lambda: client.calendars.find(GOOGLE, cal.GOOGLE_HOLIDAYS_ID)).status_code == 404
    )
    found = client.calendars.find(GOOGLE, quote(cal.GOOGLE_HOLIDAYS_ID, safe=""))
    assert found.data.name == "Holidays in United States"


def test_calendars_page_with_next_cursor(client: nylas.Client) -> None:
    first = client.calendars.list(MICROSOFT, {"limit": 3})
    second = client.calendars.list(MICROSOFT, {"limit": 3, "page_token": first.next_cursor})

    assert len(first.data) == 3
    assert len(second.data) == 1
    assert second.next_cursor is None
    assert len({c.id for c in first.data + second.data}) == 4


def test_unknown_calendar_is_404(client: nylas.Client) -> None:
    error = api_error(lambda: client.calendars.find(GOOGLE, "nope@group.calendar.google.com"))

    assert (error.status_code, error.type) == (404, "not_found_error")


# Events: create, find, list, update, destroy -------------------------------------------------

WHENS = [
    pytest.param(HOUR, "timespan", id="timespan"),
    pytest.param({"date": "2026-12-01"}, "date", id="date"),
    pytest.param({"start_date": "2026-12-01", "end_date": "2026-12-03"}, "datespan", id="datespan"),
]


@pytest.mark.parametrize(("when", "kind"), WHENS)
def test_event_lifecycle_for_each_kind_of_when(
    client: nylas.Client, fake: FakeNylas, when: dict[str, Any], kind: str
) -> None:
    body = {
        "title": "Acme renewal",
        "description": "<p>Pricing</p>",
        "location": "Zoom",
        "when": when,  # no "object": inferred
        "participants": [{"email": "dana@acme.example", "name": "Dana"}],
        "busy": False,
        "metadata": {"key1": "item-1"},
    }

    created = client.events.create(GOOGLE, body, on("primary")).data

    assert created.calendar_id == REP
    assert created.when.object == kind
    assert (created.title, created.busy, created.metadata) == (
        "Acme renewal",
        False,
        body["metadata"],
    )
    assert created.participants[0].status == "noreply"
    assert created.status == "confirmed"
    found = client.events.find(GOOGLE, created.id, {"calendar_id": REP}).data
    assert found.to_dict() == created.to_dict()
    listed = client.events.list(GOOGLE, {"calendar_id": "primary"}).data
    assert [e.id for e in listed] == [created.id]

    updated = client.events.update(GOOGLE, created.id, {"when": {"time": DEC_1}}, on(REP)).data
    assert updated.when.object == "time"
    assert updated.title == "Acme renewal"

    client.events.destroy(GOOGLE, created.id, on(REP))
    assert (
        api_error(lambda: client.events.find(GOOGLE, created.id, {"calendar_id": REP})).status_code
        == 404
    )
    assert fake.event(GOOGLE, created.id) is None


def test_event_ids_are_url_decoded_hash_slash_and_question_mark(
    client: nylas.Client, fake: FakeNylas
) -> None:
    fake.user_creates_event(GOOGLE, REP, event_id=WEIRD_ID, title="Weird", when=HOUR)
    encoded = quote(WEIRD_ID, safe="")

    # Unencoded, as the SDK sends it: '#' starts a fragment, which swallows the rest of the path
    # and the query string, so the request loses its calendar_id.
    unencoded = api_error(lambda: client.events.find(GOOGLE, WEIRD_ID, {"calendar_id": REP}))
    assert (unencoded.status_code, str(unencoded)) == (400, "calendar_id is required")
    assert fake.requests[-1].path == f"/v3/grants/{GOOGLE}/events/evt"
    assert client.events.find(GOOGLE, encoded, {"calendar_id": REP}).data.id == WEIRD_ID
    assert client.events.update(GOOGLE, encoded, {"title": "Still weird"}, on(REP)).data.title == (
        "Still weird"
    )
    client.events.destroy(GOOGLE, encoded, on(REP))
    assert fake.event(GOOGLE, WEIRD_ID) is None
    assert fake.requests[-1].path == f"/v3/grants/{GOOGLE}/events/{WEIRD_ID}"


def test_put_replaces_sent_fields_whole_and_keeps_the_rest(client: nylas.Client) -> None:
    created = client.events.create(
        GOOGLE,
        {
            "title": "Call",
            "description": "Agenda",
            "when": {**HOUR, "start_timezone": "Europe/Paris", "end_timezone": "Europe/Paris"},
            "participants": [{"email": "a@x.example"}, {"email": "b@x.example"}],
        },
        on(REP),
    ).data

    updated = client.events.update(
        GOOGLE,
        created.id,
        {"when": HOUR, "participants": [{"email": "b@x.example"}]},
        on(REP),
    ).data

    assert updated.description == "Agenda"
    assert updated.when.start_timezone is None
    assert [p.email for p in updated.participants] == ["b@x.example"]


def test_events_are_listed_by_window_and_in_pages(client: nylas.Client, fake: FakeNylas) -> None:
    for day in range(5):
        start = DEC_1 + day * 86_400
        fake.user_creates_event(
            GOOGLE, REP, event_id=f"e{day}", when={"start_time": start, "end_time": start + 60}
        )

    window = client.events.list(
        GOOGLE, {"calendar_id": REP, "start": DEC_1 + 86_400, "end": DEC_1 + 3 * 86_400}
    ).data
    first = client.events.list(GOOGLE, {"calendar_id": REP, "limit": 3})
    second = client.events.list(
        GOOGLE, {"calendar_id": REP, "limit": 3, "page_token": first.next_cursor}
    )

    assert [e.id for e in window] == ["e1", "e2"]
    assert [e.id for e in first.data + second.data] == ["e0", "e1", "e2", "e3", "e4"]
    assert second.next_cursor is None
    assert client.events.list(GOOGLE, {"calendar_id": cal.GOOGLE_TEAM_ID}).data == []


def test_events_are_found_by_an_indexed_metadata_key(client: nylas.Client, fake: FakeNylas) -> None:
    fake.user_creates_event(GOOGLE, REP, event_id="tagged", when=HOUR, metadata={"key4": "item-7"})
    fake.user_creates_event(GOOGLE, REP, event_id="other", when=HOUR, metadata={"key4": "item-8"})

    found = client.events.list(GOOGLE, {"calendar_id": REP, "metadata_pair": {"key4": "item-7"}})

    assert [e.id for e in found.data] == ["tagged"]
    assert fake.requests[-1].query["metadata_pair"] == ["key4:item-7"]
    error = api_error(
        lambda: client.events.list(GOOGLE, {"calendar_id": REP, "metadata_pair": {"crm": "7"}})
    )
    assert error.status_code == 400


def test_an_event_in_another_calendar_is_not_found(client: nylas.Client, fake: FakeNylas) -> None:
    fake.user_creates_event(GOOGLE, cal.GOOGLE_TEAM_ID, event_id="team-event", when=HOUR)

    error = api_error(lambda: client.events.find(GOOGLE, "team-event", {"calendar_id": REP}))

    assert (error.status_code, error.type) == (404, "not_found_error")
    assert client.events.find(GOOGLE, "team-event", {"calendar_id": cal.GOOGLE_TEAM_ID}).data


# Refusals ----------------------------------------------------------------------------------


def test_a_read_only_google_calendar_refuses_a_create(
    client: nylas.Client, fake: FakeNylas
) -> None:
    error = api_error(
        lambda: client.events.create(GOOGLE, {"when": HOUR}, on(cal.GOOGLE_HOLIDAYS_ID))
    )

    assert (error.status_code, error.type) == (403, "provider_error")
    assert str(error) == "You need to have writer access to this calendar."
    assert error.provider_error is not None
    assert error.provider_error["error"]["errors"][0]["reason"] == "requiredAccessLevel"
    assert fake.events(GOOGLE, cal.GOOGLE_HOLIDAYS_ID) == []
    assert fake.drain_notifications() == []


def test_a_read_only_microsoft_calendar_and_event_refuse_writes(
    client: nylas.Client, fake: FakeNylas
) -> None:
    fake.user_creates_event(MICROSOFT, cal.MICROSOFT_BIRTHDAYS_ID, event_id="bday", when=HOUR)

    create = api_error(
        lambda: client.events.create(MICROSOFT, {"when": HOUR}, on(cal.MICROSOFT_BIRTHDAYS_ID))
    )
    update = api_error(
        lambda: client.events.update(
            MICROSOFT, "bday", {"title": "x"}, on(cal.MICROSOFT_BIRTHDAYS_ID)
        )
    )
    delete = api_error(
        lambda: client.events.destroy(MICROSOFT, "bday", on(cal.MICROSOFT_BIRTHDAYS_ID))
    )

    for error in (create, update, delete):
        assert (error.status_code, error.type) == (403, "provider_error")
        assert error.provider_error == {
            "error": {"code": "ErrorAccessDenied", "message": str(error)}
        }
    assert fake.event(MICROSOFT, "bday") is not None


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/events"),
        ("POST", "/events"),
        ("GET", "/events/e1"),
        ("PUT", "/events/e1"),
        ("DELETE", "/events/e1"),
    ],
)
def test_calendar_id_is_required(fake: FakeNylas, base_url: str, method: str, path: str) -> None:
    fake.user_creates_event(GOOGLE, REP, event_id="e1", when=HOUR)

    response = raw(fake, base_url, method, f"/v3/grants/{GOOGLE}{path}", json={"when": HOUR})

    assert response.status_code == 400
    assert response.json()["error"] == {
        "type": "invalid_request_error",
        "message": "calendar_id is required",
    }
    assert fake.event(GOOGLE, "e1") is not None


def test_unknown_calendars_and_bad_bodies(
    client: nylas.Client, fake: FakeNylas, base_url: str
) -> None:
    unknown_create = api_error(lambda: client.events.create(GOOGLE, {"when": HOUR}, on("nope")))
    unknown_list = api_error(lambda: client.events.list(GOOGLE, {"calendar_id": "nope"}))
    no_when = api_error(lambda: client.events.create(GOOGLE, {"title": "x"}, on(REP)))
    bad_flag = api_error(
        lambda: client.events.create(GOOGLE, {"when": HOUR}, on(REP, notify_participants="maybe"))
    )
    not_json = raw(
        fake, base_url, "POST", f"/v3/grants/{GOOGLE}/events?calendar_id={REP}", data="{"
    )

    assert [e.status_code for e in (unknown_create, unknown_list, no_when, bad_flag)] == [
        400,
        404,
        400,
        400,
    ]
    assert str(no_when) == "when is required"
    assert not_json.status_code == 400
    assert not_json.json()["error"]["type"] == "invalid_request_payload"
    assert fake.events(GOOGLE, REP) == []


def test_notify_participants_is_accepted_in_both_spellings(
    client: nylas.Client, fake: FakeNylas
) -> None:
    client.events.create(GOOGLE, {"when": HOUR}, {"calendar_id": REP, "notify_participants": False})
    client.events.create(GOOGLE, {"when": HOUR}, on(REP, notify_participants="true"))

    flags = [r.query["notify_participants"] for r in fake.requests_to("/events", method="POST")]
    assert flags == [["False"], ["true"]]
    assert len(fake.events(GOOGLE, REP)) == 2


def test_injected_faults_reach_event_routes(client: nylas.Client, fake: FakeNylas) -> None:
    fake.inject(429, path_contains="/events", method="POST", retry_after=3)

    error = api_error(lambda: client.events.create(GOOGLE, {"when": HOUR}, on(REP)))

    assert error.status_code == 429
    assert error.headers["Retry-After"] == "3"
    assert fake.events(GOOGLE, REP) == []


# Notifications -----------------------------------------------------------------------------


def test_api_writes_leave_the_notifications_nylas_would_send(
    client: nylas.Client, fake: FakeNylas, clock: SettableClock
) -> None:
    created = client.events.create(GOOGLE, {"title": "Call", "when": HOUR}, on(REP)).data
    clock.now = T0 + 30
    client.events.update(GOOGLE, created.id, {"title": "Call (moved)"}, on(REP))
    clock.now = T0 + 90
    client.events.destroy(GOOGLE, created.id, on(REP))

    drained = fake.drain_notifications()

    assert [(n["type"], n["source"], n["time"]) for n in drained] == [
        ("event.created", "/google/events/realtime", T0),
        ("event.updated", "/google/events/realtime", T0 + 30),
        ("event.deleted", "/google/events/realtime", T0 + 90),
    ]
    assert drained[0]["data"]["object"]["title"] == "Call"
    assert drained[1]["data"]["object"]["updated_at"] == T0 + 30
    assert drained[1]["data"]["object"]["title"] == "Call (moved)"
    assert drained[2]["data"]["object"] == {
        "id": created.id,
        "grant_id": GOOGLE,
        "calendar_id": REP,
        "object": "event",
    }
    assert len({n["id"] for n in drained}) == 3
    assert all(n["specversion"] == "1.0" and n["webhook_delivery_attempt"] == 1 for n in drained)
    assert fake.drain_notifications() == []


def test_microsoft_notifications_have_their_source(client: nylas.Client, fake: FakeNylas) -> None:
    client.events.create(MICROSOFT, {"when": HOUR}, on("primary"))

    [created] = fake.drain_notifications()

    assert created["source"] == "/microsoft/events/realtime"
    assert created["data"]["object"]["calendar_id"] == cal.MICROSOFT_CALENDAR_ID
    assert created["data"]["object"]["id"].startswith("AAMkAD")


def test_a_change_of_metadata_alone_is_not_notified(client: nylas.Client, fake: FakeNylas) -> None:
    created = client.events.create(GOOGLE, {"when": HOUR, "metadata": {"key1": "a"}}, on(REP)).data
    fake.drain_notifications()

    client.events.update(GOOGLE, created.id, {"metadata": {"key1": "b"}}, on(REP))

    assert fake.drain_notifications() == []
    assert (fake.event(GOOGLE, created.id) or {}).get("metadata") == {"key1": "b"}


# The user at their calendar --------------------------------------------------------------------


def test_user_changes_are_served_and_not_queued(
    client: nylas.Client, fake: FakeNylas, clock: SettableClock
) -> None:
    created = fake.user_creates_event(GOOGLE, REP, title="Lunch", when={"date": "2026-12-02"})
    event_id = created["data"]["object"]["id"]
    clock.now = T0 + 60
    edited = fake.user_edits_event(GOOGLE, event_id, title="Lunch with Dana")

    found = client.events.find(GOOGLE, event_id, {"calendar_id": REP}).data
    assert found.title == "Lunch with Dana"
    assert found.updated_at == edited["data"]["object"]["updated_at"] == T0 + 60
    assert edited["type"] == "event.updated"
    assert edited["time"] == T0 + 60

    clock.now = T0 + 120
    deleted = fake.user_deletes_event(GOOGLE, event_id)

    assert deleted["type"] == "event.deleted"
    assert deleted["time"] == T0 + 120
    assert set(deleted["data"]["object"]) == {"id", "grant_id", "calendar_id", "object"}
    assert (
        api_error(lambda: client.events.find(GOOGLE, event_id, {"calendar_id": REP})).status_code
        == 404
    )
    assert fake.drain_notifications() == []


def test_recurring_occurrences(client: nylas.Client, fake: FakeNylas) -> None:
    master, first, second = fake.add_recurring_event(GOOGLE, REP, event_id="weekly")

    masters = client.events.list(GOOGLE, {"calendar_id": REP}).data
    expanded = client.events.list(GOOGLE, {"calendar_id": REP, "expand_recurring": True}).data
    of_master = client.events.list(GOOGLE, {"calendar_id": REP, "master_event_id": "weekly"}).data
    occurrence = client.events.find(GOOGLE, first["id"], {"calendar_id": REP}).data

    assert [e.id for e in masters] == ["weekly"]
    assert masters[0].recurrence == ["RRULE:FREQ=WEEKLY;COUNT=2"]
    assert [e.id for e in expanded] == ["weekly_20261201", "weekly_20261208"]
    assert [e.id for e in of_master] == [first["id"], second["id"]]
    assert occurrence.master_event_id == "weekly"

    client.events.destroy(GOOGLE, second["id"], on(REP))
    [deleted] = fake.drain_notifications()
    assert deleted["data"]["object"] == {
        "id": "weekly_20261208",
        "grant_id": GOOGLE,
        "calendar_id": REP,
        "object": "event",
        "master_event_id": "weekly",
    }
    assert master["id"] == "weekly"


def test_updated_at_follows_the_injected_clock(
    client: nylas.Client, fake: FakeNylas, clock: SettableClock
) -> None:
    created = client.events.create(GOOGLE, {"when": HOUR}, on(REP)).data
    clock.now = T0 + 3600
    later = client.events.update(GOOGLE, created.id, {"title": "later"}, on(REP)).data
    same_second = client.events.update(GOOGLE, created.id, {"title": "again"}, on(REP)).data
    clock.now = T0  # the clock goes back: updated_at does not
    earlier = client.events.update(GOOGLE, created.id, {"title": "back"}, on(REP)).data

    assert (created.created_at, created.updated_at) == (T0, T0)
    assert [later.updated_at, same_second.updated_at, earlier.updated_at] == [
        T0 + 3600,
        T0 + 3601,
        T0 + 3602,
    ]
    assert earlier.created_at == T0
    assert [n["time"] for n in fake.drain_notifications()] == [T0, T0 + 3600, T0 + 3600, T0]
