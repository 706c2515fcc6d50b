"""CRM action items and the calendar events they become: one content for both sides (C1, C4).

The CRM sends an action item as a JSON document; Nylas returns an event whose ``when`` is a
union keyed on ``when.object`` (NYLAS.md 4.1). Both are read into one ``ItemContent`` whose
digest is what the two sides compare.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.action_items import (
    MAX_PARTICIPANTS,
    MAX_TITLE,
    ActionItemDocument,
    AllDay,
    ItemContent,
    Timespan,
    content_from_event,
    event_body,
    parse_action_item,
)
from domain.errors import DomainError

CHANGED = "2026-11-20T08:30:00Z"
CHANGED_AT = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
TEN = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
ELEVEN = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
MONDAY = date(2026, 11, 23)
WEDNESDAY = date(2026, 11, 25)


def timed(**fields: Any) -> dict[str, Any]:
    """A CRM document for a timed action item; ``fields`` override or add (None removes)."""
    document: dict[str, Any] = {
        "title": "Call Dana about the Q1 renewal",
        "start": "2026-11-23T10:00:00Z",
        "end": "2026-11-23T11:00:00Z",
        "changed_at": CHANGED,
    }
    document.update(fields)
    return {key: value for key, value in document.items() if value is not None}


def all_day(**fields: Any) -> dict[str, Any]:
    """A CRM document for an all-day action item; ``fields`` override or add (None removes)."""
    document: dict[str, Any] = {
        "title": "Trade show",
        "all_day": True,
        "start_date": "2026-11-23",
        "changed_at": CHANGED,
    }
    document.update(fields)
    return {key: value for key, value in document.items() if value is not None}


def content(**fields: Any) -> ItemContent:
    base = ItemContent(
        title="Call Dana about the Q1 renewal",
        description="Bring the price list",
        location="Acme HQ",
        when=Timespan(TEN, ELEVEN, "Europe/Paris"),
        participants=("dana@acme.example", "priya@acme.example"),
    )
    return dataclasses.replace(base, **fields)


def as_nylas_returns(body: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The event Nylas returns for a written ``body``: ``when.object`` added, ids and times."""
    when = dict(body["when"])
    if "start_time" in when:
        when["object"] = "timespan"
    elif "date" in when:
        when["object"] = "date"
    else:
        when["object"] = "datespan"
    participants = [{**p, "status": "noreply"} for p in body["participants"]]
    return {
        **body,
        "id": "ev-1",
        "grant_id": "g-1",
        "calendar_id": "primary",
        "object": "event",
        "when": when,
        "participants": participants,
        "status": "confirmed",
        "created_at": 1_763_800_000,
        "updated_at": 1_763_900_000,
        **extra,
    }


# Reading the CRM's document ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        pytest.param(
            timed(),
            content(description="", location="", when=Timespan(TEN, ELEVEN, None), participants=()),
            id="a timed item without a timezone has none and empty optional texts",
        ),
        pytest.param(
            timed(
                start="2026-11-23T11:00:00+01:00",
                end="2026-11-23T12:00:00+01:00",
                timezone="Europe/Paris",
                description="Bring the price list",
                location="Acme HQ",
            ),
            content(participants=()),
            id="a timed item with an offset and a timezone is held in utc with its zone",
        ),
        pytest.param(
            timed(start="2026-11-23T10:00:00Z", end="2026-11-23T10:00:00Z"),
            content(description="", location="", when=Timespan(TEN, TEN, None), participants=()),
            id="a timed item may end when it starts",
        ),
        pytest.param(
            timed(start="2026-11-23T10:00:00.750Z", end="2026-11-23T11:00:00.250Z"),
            content(description="", location="", when=Timespan(TEN, ELEVEN, None), participants=()),
            id="fractions of a second are dropped as the calendar holds whole seconds",
        ),
        pytest.param(
            all_day(),
            ItemContent("Trade show", "", "", AllDay(MONDAY, MONDAY)),
            id="an all-day item without an end date lasts its one day",
        ),
        pytest.param(
            all_day(end_date="2026-11-23"),
            ItemContent("Trade show", "", "", AllDay(MONDAY, MONDAY)),
            id="an all-day item ending on its start date lasts one day",
        ),
        pytest.param(
            all_day(end_date="2026-11-25"),
            ItemContent("Trade show", "", "", AllDay(MONDAY, WEDNESDAY)),
            id="an all-day item may span several days",
        ),
        pytest.param(
            all_day(start="2026-11-23T10:00:00Z", end="2026-11-23T11:00:00Z"),
            ItemContent("Trade show", "", "", AllDay(MONDAY, MONDAY)),
            id="an all-day item ignores timed fields",
        ),
        pytest.param(
            timed(participants=["Dana Lee <Dana@Acme.Example>", " priya@acme.example "]),
            content(description="", location="", when=Timespan(TEN, ELEVEN, None)),
            id="participants given as strings are normalised",
        ),
        pytest.param(
            timed(
                participants=[
                    {"email": "PRIYA@acme.example", "name": "Priya"},
                    {"email": "mailto:dana@acme.example"},
                ]
            ),
            content(description="", location="", when=Timespan(TEN, ELEVEN, None)),
            id="participants given as email objects are normalised and sorted",
        ),
        pytest.param(
            timed(
                participants=[
                    "dana@acme.example",
                    {"email": "Dana@ACME.example"},
                    "Dana <dana@acme.example>",
                    "priya@acme.example",
                ]
            ),
            content(description="", location="", when=Timespan(TEN, ELEVEN, None)),
            id="a participant given several times is kept once",
        ),
        pytest.param(
            timed(participants=[]),
            content(description="", location="", when=Timespan(TEN, ELEVEN, None), participants=()),
            id="an empty participant list means none",
        ),
        pytest.param(
            timed(title="x" * MAX_TITLE),
            content(
                title="x" * MAX_TITLE,
                description="",
                location="",
                when=Timespan(TEN, ELEVEN, None),
                participants=(),
            ),
            id="a title at the length limit is accepted",
        ),
    ],
)
def test_an_action_item_document_is_read_into_its_content(
    document: dict[str, Any], expected: ItemContent
) -> None:
    item = parse_action_item(document)

    assert item.content == expected
    assert item.content.digest() == expected.digest()
    assert item.changed_at == CHANGED_AT


def test_sync_defaults_to_true_and_notifying_participants_to_false() -> None:
    item = parse_action_item(timed())

    assert (item.sync, item.notify_participants) == (True, False)


@pytest.mark.parametrize(
    ("flags", "sync", "notify"),
    [
        pytest.param({"sync": False}, False, False, id="an item may be kept out of the calendar"),
        pytest.param({"notify_participants": True}, True, True, id="participants may be notified"),
        pytest.param(
            {"sync": None, "notify_participants": None},
            True,
            False,
            id="null flags take their defaults",
        ),
    ],
)
def test_flags_are_read_as_given(flags: dict[str, Any], sync: bool, notify: bool) -> None:
    item = parse_action_item(timed(**flags))

    assert isinstance(item, ActionItemDocument)
    assert (item.sync, item.notify_participants) == (sync, notify)


def test_the_crm_change_time_is_read_in_utc() -> None:
    item = parse_action_item(timed(changed_at="2026-11-20T09:30:00.5+01:00"))

    assert item.changed_at == CHANGED_AT + timedelta(milliseconds=500)
    assert item.changed_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        pytest.param(["not", "an", "object"], "must be a JSON object", id="a list is refused"),
        pytest.param("title", "must be a JSON object", id="a string is refused"),
        pytest.param(timed(changed_at=None), "'changed_at'", id="a missing change time"),
        pytest.param(
            timed(changed_at="2026-11-20T08:30:00"),
            "'changed_at': must be an RFC 3339 time with a zone",
            id="a change time without a zone",
        ),
        pytest.param(
            timed(changed_at=1_763_627_400), "'changed_at'", id="a change time as a number"
        ),
        pytest.param(
            timed(start="2026-11-23T10:00:00"),
            "'start': must be an RFC 3339 time with a zone",
            id="a naive start",
        ),
        pytest.param(
            timed(end="2026-11-23T11:00:00"),
            "'end': must be an RFC 3339 time with a zone",
            id="a naive end",
        ),
        pytest.param(timed(start="tomorrow"), "'start'", id="a start that is not a time"),
        pytest.param(timed(start=None), "'start' and 'end'", id="a missing start"),
        pytest.param(timed(end=None), "'start' and 'end'", id="a missing end"),
        pytest.param(
            timed(all_day=False, start=None, end=None, start_date="2026-11-23"),
            "'start' and 'end'",
            id="dates without all_day are not a timed item",
        ),
        pytest.param(
            timed(start="2026-11-23T11:00:00Z", end="2026-11-23T10:59:59Z"),
            "'end' is before 'start'",
            id="an end before the start",
        ),
        pytest.param(timed(timezone="Mars/Olympus_Mons"), "IANA zone", id="an unknown timezone"),
        pytest.param(timed(timezone="europe/paris"), "IANA zone", id="a wrongly cased zone"),
        pytest.param(timed(timezone=""), "IANA zone", id="an empty timezone"),
        pytest.param(
            timed(timezone=60), "'timezone': must be a valid string", id="a timezone as a number"
        ),
        pytest.param(
            timed(timezone="../../etc/passwd"), "IANA zone", id="a path is not a timezone"
        ),
        pytest.param(
            timed(participants=["dana@acme.example", "not an address"]),
            "participant 'not an address' is not an email address",
            id="a participant that is not an address",
        ),
        pytest.param(
            timed(participants=["dana@acme.example, priya@acme.example"]),
            "is not an email address",
            id="a participant holding two addresses",
        ),
        pytest.param(
            timed(participants=[{"name": "Dana"}]),
            "participant None is not an email address",
            id="a participant object without an email",
        ),
        pytest.param(
            timed(participants=[{"email": 42}]),
            "participant 42 is not an email address",
            id="a participant object with a number for an email",
        ),
        pytest.param(
            timed(participants=[7]), "participant 7", id="a participant given as a number"
        ),
        pytest.param(
            timed(participants="dana@acme.example"),
            "'participants': must be a valid list",
            id="participants as one string",
        ),
        pytest.param(
            timed(participants=[f"p{i}@acme.example" for i in range(MAX_PARTICIPANTS + 1)]),
            f"at most {MAX_PARTICIPANTS}",
            id="too many participants",
        ),
        pytest.param(timed(title=None), "'title'", id="a missing title"),
        pytest.param(timed(title=""), "'title'", id="an empty title"),
        pytest.param(timed(title="   "), "'title'", id="a blank title"),
        pytest.param(
            timed(title="x" * (MAX_TITLE + 1)),
            f"'title': must be text of at most {MAX_TITLE} characters",
            id="a title over the limit",
        ),
        pytest.param(timed(title=["Call"]), "'title'", id="a title that is not text"),
        pytest.param(timed(description=3), "'description'", id="a description that is not text"),
        pytest.param(
            timed(description="x" * (64 * 1024 + 1)),
            "'description'",
            id="a description over the limit",
        ),
        pytest.param(
            timed(location="x" * (MAX_TITLE + 1)), "'location'", id="a location over the limit"
        ),
        pytest.param(timed(sync="yes"), "'sync': must be true or false", id="sync as text"),
        pytest.param(timed(sync=1), "'sync': must be true or false", id="sync as a number"),
        pytest.param(
            timed(notify_participants=0),
            "'notify_participants': must be true or false",
            id="notify_participants as a number",
        ),
        pytest.param(
            all_day(start="not a time"),
            "'start': must be an RFC 3339 time",
            id="an all-day item's timed fields are still checked",
        ),
        pytest.param(
            all_day(start_date=None),
            "'start_date' is required",
            id="an all-day item without a date",
        ),
        pytest.param(
            all_day(start_date="2026-13-01"),
            "'start_date': must be YYYY-MM-DD",
            id="a month that does not exist",
        ),
        pytest.param(
            all_day(start_date="2026-02-30"),
            "'start_date': must be YYYY-MM-DD",
            id="a day that does not exist",
        ),
        pytest.param(
            all_day(start_date=20261123),
            "'start_date': must be YYYY-MM-DD",
            id="a date as a number",
        ),
        pytest.param(
            all_day(end_date="next week"),
            "'end_date': must be YYYY-MM-DD",
            id="an end date that is not a date",
        ),
        pytest.param(
            all_day(start_date="2026-11-25", end_date="2026-11-23"),
            "'end_date' is before 'start_date'",
            id="an end date before the start date",
        ),
    ],
)
def test_an_invalid_action_item_is_refused_naming_the_field(document: object, reason: str) -> None:
    with pytest.raises(DomainError) as raised:
        parse_action_item(document)

    assert raised.value.reason == "invalid_action_item"
    assert reason in raised.value.message


def test_a_typo_in_a_field_name_is_refused_by_name() -> None:
    with pytest.raises(DomainError) as raised:
        parse_action_item(timed(notify_participant=True))

    assert raised.value.reason == "unknown_field"
    assert "'notify_participant'" in raised.value.message


# Writing the event and reading it back -----------------------------------------------------


@pytest.mark.parametrize(
    ("when", "body_when"),
    [
        pytest.param(
            Timespan(TEN, ELEVEN, "Europe/Paris"),
            {
                "start_time": int(TEN.timestamp()),
                "end_time": int(ELEVEN.timestamp()),
                "start_timezone": "Europe/Paris",
                "end_timezone": "Europe/Paris",
            },
            id="a timed item is a timespan in unix seconds with its zone at both ends",
        ),
        pytest.param(
            Timespan(TEN, ELEVEN, None),
            {"start_time": int(TEN.timestamp()), "end_time": int(ELEVEN.timestamp())},
            id="a timed item without a zone sends none",
        ),
        pytest.param(AllDay(MONDAY, MONDAY), {"date": "2026-11-23"}, id="a one-day item is a date"),
        pytest.param(
            AllDay(MONDAY, WEDNESDAY),
            {"start_date": "2026-11-23", "end_date": "2026-11-25"},
            id="an item over several days is a datespan",
        ),
    ],
)
def test_the_event_body_writes_the_when_nylas_expects(
    when: Timespan | AllDay, body_when: dict[str, Any]
) -> None:
    body = event_body(content(when=when))

    assert body == {
        "title": "Call Dana about the Q1 renewal",
        "description": "Bring the price list",
        "location": "Acme HQ",
        "when": body_when,
        "participants": [{"email": "dana@acme.example"}, {"email": "priya@acme.example"}],
        "busy": True,
    }


@pytest.mark.parametrize(
    "when",
    [
        pytest.param(Timespan(TEN, ELEVEN, "Europe/Paris"), id="a timespan with its zone"),
        pytest.param(Timespan(TEN, ELEVEN, None), id="a timespan without a zone"),
        pytest.param(Timespan(TEN, TEN, "America/New_York"), id="a timespan of no length"),
        pytest.param(AllDay(MONDAY, MONDAY), id="a date"),
        pytest.param(AllDay(MONDAY, WEDNESDAY), id="a datespan"),
    ],
)
def test_content_written_as_an_event_reads_back_the_same(when: Timespan | AllDay) -> None:
    written = content(when=when)

    read = content_from_event(as_nylas_returns(event_body(written)))

    assert read == written
    assert read is not None
    assert read.digest() == written.digest()


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(
            timed(
                start="2026-11-23T11:00:00+01:00",
                end="2026-11-23T12:30:00+01:00",
                timezone="Europe/Paris",
                participants=["Dana <Dana@Acme.example>"],
                description="<p>html is kept as text</p>",
            ),
            id="a timed item with a zone and a participant",
        ),
        pytest.param(
            timed(start="2026-11-23T10:00:00.999Z", end="2026-11-23T10:30:00.001Z"),
            id="a timed item with fractions of a second",
        ),
        pytest.param(all_day(location="Hall 4"), id="a one-day item"),
        pytest.param(all_day(end_date="2026-11-27"), id="an item over several days"),
    ],
)
def test_a_crm_document_pushed_and_returned_by_nylas_has_the_same_digest(
    document: dict[str, Any],
) -> None:
    pushed = parse_action_item(document).content

    returned = content_from_event(as_nylas_returns(event_body(pushed)))

    assert returned is not None
    assert returned.digest() == pushed.digest()


zones = st.sampled_from([None, "UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"])
instants = st.integers(min_value=0, max_value=4_000_000_000).map(
    lambda seconds: datetime.fromtimestamp(seconds, UTC)
)
days = st.dates(min_value=date(1971, 1, 1), max_value=date(2099, 12, 31))


@st.composite
def whens(draw: st.DrawFn) -> Timespan | AllDay:
    if draw(st.booleans()):
        start = draw(instants)
        length = draw(st.integers(min_value=0, max_value=30 * 86_400))
        return Timespan(start, start + timedelta(seconds=length), draw(zones))
    first = draw(days)
    return AllDay(first, first + timedelta(days=draw(st.integers(min_value=0, max_value=30))))


addresses = st.sampled_from(
    ["dana@acme.example", "priya@acme.example", "lee@globex.example", "ann@initech.example"]
)
# The CRM's text: the API refuses a NUL (400), so an item never holds one.
crm_text = partial(st.text, st.characters(blacklist_characters="\x00"))
contents = st.builds(
    ItemContent,
    title=crm_text(min_size=1, max_size=40),
    description=crm_text(max_size=40),
    location=crm_text(max_size=20),
    when=whens(),
    participants=st.sets(addresses).map(lambda found: tuple(sorted(found))),
)


@settings(max_examples=300)
@given(contents)
def test_any_content_round_trips_through_an_event(written: ItemContent) -> None:
    read = content_from_event(as_nylas_returns(event_body(written)))

    assert read == written
    assert read is not None
    assert read.digest() == written.digest()


# Reading Nylas events ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        pytest.param(
            {
                "object": "timespan",
                "start_time": int(TEN.timestamp()),
                "end_time": int(ELEVEN.timestamp()),
                "start_timezone": "Europe/Paris",
                "end_timezone": "Europe/Paris",
            },
            Timespan(TEN, ELEVEN, "Europe/Paris"),
            id="a timespan is read in utc with its start zone",
        ),
        pytest.param(
            {
                "object": "timespan",
                "start_time": int(TEN.timestamp()),
                "end_time": int(ELEVEN.timestamp()),
                "start_timezone": "",
            },
            Timespan(TEN, ELEVEN, None),
            id="a timespan with an empty zone has none",
        ),
        pytest.param(
            {"object": "date", "date": "2026-11-23"},
            AllDay(MONDAY, MONDAY),
            id="a date is an all-day item of one day",
        ),
        pytest.param(
            {"object": "datespan", "start_date": "2026-11-23", "end_date": "2026-11-25"},
            AllDay(MONDAY, WEDNESDAY),
            id="a datespan is an all-day item over its days",
        ),
        pytest.param(
            {"start_time": int(TEN.timestamp()), "end_time": int(ELEVEN.timestamp())},
            Timespan(TEN, ELEVEN, None),
            id="a request-shaped timespan without its object is read by its keys",
        ),
        pytest.param(
            {"date": "2026-11-23"},
            AllDay(MONDAY, MONDAY),
            id="a request-shaped date without its object is read by its keys",
        ),
    ],
)
def test_the_when_kinds_of_nylas_are_read(
    when: dict[str, Any], expected: Timespan | AllDay
) -> None:
    read = content_from_event({"title": "Call", "when": when})

    assert read is not None
    assert read.when == expected


@pytest.mark.parametrize(
    "when",
    [
        pytest.param(
            {"object": "time", "time": int(TEN.timestamp()), "timezone": "UTC"},
            id="a point in time is not an action item",
        ),
        pytest.param({"object": "fortnight", "start_time": 1}, id="an unknown kind"),
        pytest.param({}, id="an empty when"),
        pytest.param(None, id="a missing when"),
        pytest.param("2026-11-23", id="a when that is a string"),
        pytest.param([1, 2], id="a when that is a list"),
        pytest.param({"object": "timespan", "start_time": 1}, id="a timespan without its end"),
        pytest.param(
            {"object": "timespan", "start_time": "soon", "end_time": 1},
            id="a timespan start that is not a number",
        ),
        pytest.param(
            {"object": "timespan", "start_time": None, "end_time": 1},
            id="a null timespan start",
        ),
        pytest.param(
            {"object": "timespan", "start_time": 10**20, "end_time": 10**20},
            id="a timespan out of range",
        ),
        pytest.param(
            {"object": "timespan", "start_time": float("nan"), "end_time": 1},
            id="a timespan that is not a number at all",
        ),
        pytest.param({"object": "date", "date": "23/11/2026"}, id="a date in another format"),
        pytest.param({"object": "date"}, id="a date kind without its date"),
        pytest.param(
            {"object": "datespan", "start_date": "2026-11-23"}, id="a datespan without its end"
        ),
        pytest.param(
            {"object": "datespan", "start_date": "2026-11-23", "end_date": "2026-02-30"},
            id="a datespan ending on a day that does not exist",
        ),
    ],
)
def test_an_event_whose_when_crmsync_cannot_hold_gives_none(when: object) -> None:
    assert content_from_event({"title": "Call", "when": when}) is None


@pytest.mark.parametrize(
    ("participants", "expected"),
    [
        pytest.param(None, (), id="no participants"),
        pytest.param([], (), id="an empty list"),
        pytest.param(
            [
                {"email": "Priya@Acme.Example", "status": "yes"},
                {"email": "dana@acme.example", "name": "Dana", "status": "noreply"},
            ],
            ("dana@acme.example", "priya@acme.example"),
            id="participants are normalised and sorted",
        ),
        pytest.param(
            [{"email": "dana@acme.example"}, {"email": "DANA@acme.example", "status": "maybe"}],
            ("dana@acme.example",),
            id="a participant listed twice is kept once",
        ),
        pytest.param(
            [{"name": "Room 4"}, {"email": None}, {"email": "not an address"}, "dana@acme.example"],
            (),
            id="entries without a usable email are left out",
        ),
    ],
)
def test_event_participants_are_read_as_normalised_addresses(
    participants: object, expected: tuple[str, ...]
) -> None:
    event = {"when": {"object": "date", "date": "2026-11-23"}, "participants": participants}

    read = content_from_event(event)

    assert read is not None
    assert read.participants == expected


def test_missing_or_null_texts_of_an_event_read_as_empty() -> None:
    read = content_from_event(
        {"title": None, "description": 3, "when": {"object": "date", "date": "2026-11-23"}}
    )

    assert read == ItemContent("", "", "", AllDay(MONDAY, MONDAY))


# The digest --------------------------------------------------------------------------------

BASE = content()


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param(dataclasses.replace(BASE, title="Call Dana"), id="the title"),
        pytest.param(dataclasses.replace(BASE, title=BASE.title + " "), id="a trailing space"),
        pytest.param(dataclasses.replace(BASE, description=""), id="the description"),
        pytest.param(dataclasses.replace(BASE, location="Globex HQ"), id="the location"),
        pytest.param(
            dataclasses.replace(
                BASE, when=Timespan(TEN + timedelta(seconds=1), ELEVEN, "Europe/Paris")
            ),
            id="the start by one second",
        ),
        pytest.param(
            dataclasses.replace(
                BASE, when=Timespan(TEN, ELEVEN + timedelta(minutes=30), "Europe/Paris")
            ),
            id="the end",
        ),
        pytest.param(
            dataclasses.replace(BASE, when=Timespan(TEN, ELEVEN, "Europe/London")),
            id="the timezone",
        ),
        pytest.param(
            dataclasses.replace(BASE, when=Timespan(TEN, ELEVEN, None)), id="the timezone removed"
        ),
        pytest.param(dataclasses.replace(BASE, when=AllDay(MONDAY, MONDAY)), id="timed to all day"),
        pytest.param(
            dataclasses.replace(BASE, participants=("dana@acme.example",)),
            id="a participant removed",
        ),
        pytest.param(
            dataclasses.replace(
                BASE,
                participants=("dana@acme.example", "lee@globex.example", "priya@acme.example"),
            ),
            id="a participant added",
        ),
    ],
)
def test_the_digest_changes_when_any_field_changes(changed: ItemContent) -> None:
    assert changed.digest() != BASE.digest()


@pytest.mark.parametrize(
    ("one", "other"),
    [
        pytest.param(
            AllDay(MONDAY, MONDAY), AllDay(MONDAY, WEDNESDAY), id="the end of an all-day item"
        ),
        pytest.param(
            AllDay(MONDAY, MONDAY), AllDay(WEDNESDAY, WEDNESDAY), id="the day of an all-day item"
        ),
    ],
)
def test_the_digest_tells_all_day_items_apart(one: AllDay, other: AllDay) -> None:
    assert content(when=one).digest() != content(when=other).digest()


def test_the_digest_is_a_stable_sha256_in_hex() -> None:
    digest = BASE.digest()

    assert digest == content().digest()
    assert len(digest) == 64
    assert int(digest, 16) >= 0


@pytest.mark.parametrize(
    ("one", "other"),
    [
        pytest.param(
            timed(participants=["dana@acme.example", "priya@acme.example"]),
            timed(participants=["priya@acme.example", "dana@acme.example"]),
            id="reordered participants of a crm document",
        ),
        pytest.param(
            timed(participants=["dana@acme.example", {"email": "priya@acme.example"}]),
            timed(participants=[{"email": "Priya <PRIYA@acme.example>"}, "dana@acme.example"]),
            id="reordered participants written differently",
        ),
        pytest.param(
            timed(start="2026-11-23T10:00:00Z", end="2026-11-23T11:00:00Z"),
            timed(start="2026-11-23T05:00:00-05:00", end="2026-11-23T12:00:00+01:00"),
            id="the same instants written with other offsets",
        ),
    ],
)
def test_the_digest_is_the_same_for_documents_that_mean_the_same(
    one: dict[str, Any], other: dict[str, Any]
) -> None:
    assert parse_action_item(one).content.digest() == parse_action_item(other).content.digest()


@given(st.permutations(["dana@acme.example", "priya@acme.example", "lee@globex.example"]))
def test_reordering_an_events_participants_keeps_the_digest(order: list[str]) -> None:
    when = {"object": "date", "date": "2026-11-23"}
    reordered = content_from_event(
        {"title": "Call", "when": when, "participants": [{"email": a} for a in order]}
    )
    sorted_ = content_from_event(
        {"title": "Call", "when": when, "participants": [{"email": a} for a in sorted(order)]}
    )

    assert reordered is not None
    assert sorted_ is not None
    assert reordered.digest() == sorted_.digest()


@pytest.mark.parametrize(
    ("when", "starts_at"),
    [
        pytest.param(Timespan(TEN, ELEVEN, "Europe/Paris"), TEN, id="a timed item at its start"),
        pytest.param(
            AllDay(MONDAY, WEDNESDAY),
            datetime(2026, 11, 23, tzinfo=UTC),
            id="an all-day item at midnight utc of its first day",
        ),
    ],
)
def test_an_item_starts_at_an_instant(when: Timespan | AllDay, starts_at: datetime) -> None:
    assert content(when=when).starts_at() == starts_at
