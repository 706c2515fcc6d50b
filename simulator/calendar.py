"""Calendars and events in the fake Nylas: provider presets, the rules of a write, and the state.

:class:`FakeCalendars` is the calendar half of :class:`simulator.mailbox.FakeNylas` (a base
class, so tests call ``fake.user_edits_event(...)`` on the one fake). Everything is kept as wire
dicts (NYLAS.md 4.1, 4.3), so what is stored is what the API serves and what notifications carry.

Two kinds of writes change the state:

- ``api_*`` methods are what ``POST``/``PUT``/``DELETE /events`` do: they refuse what Nylas
  refuses (read-only calendars and events, unknown calendars, malformed bodies) by raising
  :class:`CalendarError`, and queue the notification Nylas would then send, the echo of
  crmsync's own push, for :meth:`FakeCalendars.drain_notifications`.
- ``user_*`` methods play the rep editing their calendar: the same rules for bodies, no
  read-only checks, and the notification is returned instead of queued.

Every write stamps ``updated_at`` with the injected clock, strictly increasing per event, and the
notification's ``time`` with the clock's value at that write. Deletions are hard (as Microsoft
does; Google's trash is not modelled), and deleting a recurring master removes its occurrences.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from simulator.notifications import event_notification

Wire = dict[str, Any]
Clock = Callable[[], float]

# Google: the primary calendar's id is the rep's address; others are ...@group.calendar.google.com,
# and the holiday calendar's id holds a '#', which the SDK does not encode (NYLAS.md 6.2).
GOOGLE_HOLIDAYS_ID = "en.usa#holiday@group.v.calendar.google.com"
GOOGLE_TEAM_ID = "c_5f3a9e1b7d2c4a6e8b0f1d3c5a7e9b2d@group.calendar.google.com"

# Microsoft: opaque ids.
MICROSOFT_CALENDAR_ID = "AAMkADRmYTk1ZjQ0LTRhZjctNDM1Ny1hMmYzLTdhYjgxNDQ5ZWQxOABGAAAAAAAQvEAAEQ=="
MICROSOFT_BIRTHDAYS_ID = "AAMkADRmYTk1ZjQ0LTRhZjctNDM1Ny1hMmYzLTdhYjgxNDQ5ZWQxOABGAAAAAAAQvEAAEg=="
MICROSOFT_HOLIDAYS_ID = "AAMkADRmYTk1ZjQ0LTRhZjctNDM1Ny1hMmYzLTdhYjgxNDQ5ZWQxOABGAAAAAAAQvEAAEw=="
MICROSOFT_SALES_ID = "AAMkADRmYTk1ZjQ0LTRhZjctNDM1Ny1hMmYzLTdhYjgxNDQ5ZWQxOABGAAAAAAAQvEAAFA=="

PRIMARY = "primary"  # accepted wherever a calendar id is (NYLAS.md 4.1)
DEFAULT_TIMEZONE = "America/New_York"

WRITABLE_FIELDS = frozenset(
    {"title", "description", "location", "when", "participants", "busy", "metadata"}
)
USER_FIELDS = WRITABLE_FIELDS | {"status", "read_only"}
PARTICIPANT_STATUSES = ("yes", "no", "maybe", "noreply")
EVENT_STATUSES = ("confirmed", "tentative", "cancelled")
WHEN_OBJECTS = ("timespan", "time", "date", "datespan")
METADATA_QUERY_KEYS = ("key1", "key2", "key3", "key4", "key5")  # the only indexed keys
MAX_METADATA_PAIRS = 50
MAX_METADATA_KEY = 40
MAX_METADATA_VALUE = 500

DAY = 86_400
WEEK = 7 * DAY
RECURRING_START = int(dt.datetime(2026, 12, 1, 15, tzinfo=dt.UTC).timestamp())

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


# Presets -----------------------------------------------------------------------------------


def _calendar(
    grant_id: str,
    calendar_id: str,
    name: str,
    *,
    read_only: bool = False,
    owned: bool = True,
    primary: bool = False,
    description: str | None = None,
) -> Wire:
    return {
        "id": calendar_id,
        "grant_id": grant_id,
        "object": "calendar",
        "name": name,
        "read_only": read_only,
        "is_owned_by_user": owned,
        "is_primary": primary,
        "timezone": DEFAULT_TIMEZONE,
        "description": description,
    }


def google_calendars(grant_id: str, email: str) -> list[Wire]:
    """A Google account: the primary calendar (id and name = the address), holidays, a team one."""
    return [
        _calendar(grant_id, email, email, primary=True),
        _calendar(
            grant_id,
            GOOGLE_HOLIDAYS_ID,
            "Holidays in United States",
            read_only=True,
            owned=False,
            description="Holidays and Observances in United States",
        ),
        _calendar(grant_id, GOOGLE_TEAM_ID, "Team"),
    ]


def microsoft_calendars(grant_id: str) -> list[Wire]:
    """A Microsoft account: "Calendar" (primary), two read-only calendars, and "Sales"."""
    return [
        _calendar(grant_id, MICROSOFT_CALENDAR_ID, "Calendar", primary=True),
        _calendar(grant_id, MICROSOFT_BIRTHDAYS_ID, "Birthdays", read_only=True),
        _calendar(
            grant_id, MICROSOFT_HOLIDAYS_ID, "United States holidays", read_only=True, owned=False
        ),
        _calendar(grant_id, MICROSOFT_SALES_ID, "Sales"),
    ]


def new_event_id(provider: str) -> str:
    """A fresh event id shaped like the provider's: base32hex for Google, opaque for Microsoft."""
    raw = uuid.uuid4().bytes
    if provider == "microsoft":
        return "AAMkAD" + base64.urlsafe_b64encode(raw).decode()
    return base64.b32hexencode(raw).decode().lower().rstrip("=")


def occurrence_id(master_id: str, start_time: int) -> str:
    """The id of ``master_id``'s occurrence starting at ``start_time``: ``<master>_YYYYMMDD``."""
    return f"{master_id}_{dt.datetime.fromtimestamp(start_time, dt.UTC):%Y%m%d}"


def read_only_error(provider: str) -> tuple[str, Wire]:
    """The message and ``provider_error`` of a write to a read-only calendar or event.

    Nylas passes the provider's refusal through (error type ``provider_error``, HTTP status of
    the provider): Google answers 403 ``requiredAccessLevel``, Microsoft 403 ``ErrorAccessDenied``.
    """
    if provider == "microsoft":
        message = "Access is denied. Check credentials and try again."
        return message, {"error": {"code": "ErrorAccessDenied", "message": message}}
    message = "You need to have writer access to this calendar."
    reason = {"domain": "calendar", "reason": "requiredAccessLevel", "message": message}
    return message, {"error": {"code": 403, "message": message, "errors": [reason]}}


# The rules of an event body ---------------------------------------------------------------


class InvalidEvent(ValueError):
    """Raised when an event body breaks a rule of the Events API (the API answers 400)."""


def when_object(when: Mapping[str, Any]) -> str:
    """``when.object``, inferred when a request leaves it out (NYLAS.md 4.1)."""
    explicit = when.get("object")
    if explicit is not None:
        if explicit not in WHEN_OBJECTS:
            raise InvalidEvent(f"when.object must be one of {WHEN_OBJECTS}, got {explicit!r}")
        return str(explicit)
    if "start_time" in when or "end_time" in when:
        return "timespan"
    if "start_date" in when or "end_date" in when:
        return "datespan"
    if "date" in when:
        return "date"
    if "time" in when:
        return "time"
    raise InvalidEvent("when needs start_time and end_time, date, start_date and end_date, or time")


def _seconds(when: Mapping[str, Any], key: str) -> int:
    value = when.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidEvent(f"when.{key} must be a unix time in seconds, got {value!r}")
    return value


def _day(when: Mapping[str, Any], key: str) -> str:
    value = when.get(key)
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise InvalidEvent(f"when.{key} must be a YYYY-MM-DD date, got {value!r}")
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidEvent(f"when.{key} is not a calendar date: {value!r}") from None
    return value


def _zone(when: Mapping[str, Any], key: str) -> str | None:
    value = when.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidEvent(f"when.{key} must be an IANA time zone name, got {value!r}")
    return value


def normalise_when(when: object) -> Wire:
    """A request's ``when`` as the API returns it: ``object`` set, fields checked and complete.

    Time zones left out come back null: the fake does not guess what the provider would fill in.
    """
    if not isinstance(when, Mapping):
        raise InvalidEvent("when must be an object")
    kind = when_object(when)
    if kind == "timespan":
        start, end = _seconds(when, "start_time"), _seconds(when, "end_time")
        if end < start:
            raise InvalidEvent("when.end_time must not be before when.start_time")
        return {
            "object": "timespan",
            "start_time": start,
            "end_time": end,
            "start_timezone": _zone(when, "start_timezone"),
            "end_timezone": _zone(when, "end_timezone"),
        }
    if kind == "time":
        return {
            "object": "time",
            "time": _seconds(when, "time"),
            "timezone": _zone(when, "timezone"),
        }
    if kind == "date":
        return {"object": "date", "date": _day(when, "date")}
    start_date, end_date = _day(when, "start_date"), _day(when, "end_date")
    if end_date < start_date:
        raise InvalidEvent("when.end_date must not be before when.start_date")
    return {"object": "datespan", "start_date": start_date, "end_date": end_date}


def _midnight(day: str) -> int:
    moment = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(), tzinfo=dt.UTC)
    return int(moment.timestamp())


def when_bounds(when: Mapping[str, Any]) -> tuple[int, int]:
    """The unix seconds an event covers, ``[start, end)``; all-day dates in UTC, inclusive."""
    kind = when.get("object")
    if kind == "timespan":
        return int(when["start_time"]), int(when["end_time"])
    if kind == "time":
        return int(when["time"]), int(when["time"])
    if kind == "date":
        start = _midnight(when["date"])
        return start, start + DAY
    return _midnight(when["start_date"]), _midnight(when["end_date"]) + DAY


def normalise_participants(value: object, previous: Iterable[Wire] = ()) -> list[Wire]:
    """Participants as the API returns them: ``email``, ``status`` and what else was given.

    A participant sent without a status keeps the one the calendar already had for that address
    (their answer does not reset when the list is sent again), else ``noreply``.
    """
    if not isinstance(value, list):
        raise InvalidEvent("participants must be a list")
    answered = {str(p.get("email", "")).lower(): p.get("status") for p in previous}
    participants: list[Wire] = []
    for item in value:
        email = item.get("email") if isinstance(item, Mapping) else None
        if not isinstance(item, Mapping) or not isinstance(email, str) or not email.strip():
            raise InvalidEvent(f"each participant needs an email, got {item!r}")
        status = item.get("status") or answered.get(email.lower()) or "noreply"
        if status not in PARTICIPANT_STATUSES:
            raise InvalidEvent(f"participant status must be one of {PARTICIPANT_STATUSES}")
        participant: Wire = {"email": email, "status": status}
        for key in ("name", "comment", "phone_number"):
            if item.get(key) is not None:
                if not isinstance(item[key], str):
                    raise InvalidEvent(f"participant {key} must be a string")
                participant[key] = item[key]
        participants.append(participant)
    return participants


def validate_metadata(value: object) -> dict[str, str]:
    """Event metadata: at most 50 string pairs, keys up to 40 and values up to 500 characters."""
    if not isinstance(value, Mapping):
        raise InvalidEvent("metadata must be an object of strings")
    if len(value) > MAX_METADATA_PAIRS:
        raise InvalidEvent(f"metadata holds at most {MAX_METADATA_PAIRS} pairs")
    for key, item in value.items():
        if not isinstance(key, str) or not 0 < len(key) <= MAX_METADATA_KEY:
            raise InvalidEvent(f"metadata keys are 1 to {MAX_METADATA_KEY} characters: {key!r}")
        if not isinstance(item, str) or len(item) > MAX_METADATA_VALUE:
            raise InvalidEvent(f"metadata values are strings of at most {MAX_METADATA_VALUE}")
    return dict(value)


def _text(key: str, value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidEvent(f"{key} must be a string")
    return value


def apply_fields(
    event: Wire,
    body: Mapping[str, Any],
    *,
    allowed: frozenset[str] = WRITABLE_FIELDS,
    strict: bool = False,
) -> Wire:
    """A copy of ``event`` with each ``allowed`` field of ``body`` replaced whole (PUT semantics).

    Other fields of ``body`` are ignored, or refused when ``strict`` (the user helpers, so a
    typo in a test fails loudly).
    """
    unknown = sorted(set(body) - allowed)
    if strict and unknown:
        raise InvalidEvent(f"cannot set {unknown}; settable: {sorted(allowed)}")
    updated = copy.deepcopy(event)
    for key in sorted(set(body) & allowed):
        value = body[key]
        if key == "when":
            updated["when"] = normalise_when(value)
        elif key == "participants":
            updated["participants"] = normalise_participants(value, event.get("participants", []))
        elif key == "metadata":
            updated["metadata"] = validate_metadata(value)
        elif key in ("busy", "read_only"):
            if not isinstance(value, bool):
                raise InvalidEvent(f"{key} must be true or false")
            updated[key] = value
        elif key == "status":
            if value not in EVENT_STATUSES:
                raise InvalidEvent(f"status must be one of {EVENT_STATUSES}")
            updated["status"] = value
        else:
            updated[key] = _text(key, value)
    return updated


def ical_uid(event_id: str, provider: str) -> str:
    """The iCalendar UID the provider gives a new event."""
    if provider == "microsoft":
        return "040000008200E00074C5B7101A82E008" + uuid.uuid5(uuid.NAMESPACE_URL, event_id).hex
    return f"{event_id}@google.com"


def new_event(
    *,
    event_id: str,
    calendar: Wire,
    organizer: str,
    provider: str,
    body: Mapping[str, Any],
    at: int,
    allowed: frozenset[str] = WRITABLE_FIELDS,
    strict: bool = False,
) -> Wire:
    """The Event object a create makes from ``body`` (``when`` required) in ``calendar``."""
    if "when" not in body:
        raise InvalidEvent("when is required")
    base: Wire = {
        "id": event_id,
        "grant_id": calendar["grant_id"],
        "calendar_id": calendar["id"],
        "object": "event",
        "title": None,
        "description": None,
        "location": None,
        "busy": True,
        "participants": [],
        "when": {},
        "status": "confirmed",
        "read_only": False,
        "metadata": {},
        "organizer": {"email": organizer},
        "ical_uid": ical_uid(event_id, provider),
        "hide_participants": False,
        "created_at": at,
        "updated_at": at,
    }
    event = apply_fields(base, body, allowed=allowed, strict=strict)
    event["read_only"] = bool(event["read_only"] or calendar.get("read_only"))
    return event


# Listing -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventQuery:
    """The filters of ``GET /events`` besides ``calendar_id``, combined with AND.

    ``start``/``end``: events with any part inside (``start`` works as "ends after", ``end`` as
    "starts before"). Recurring events are listed as their master unless ``expand_recurring``
    (then as their occurrences); ``master_event_id`` lists one master's occurrences.
    ``metadata_pair`` is ``(key, value)`` on one of the indexed keys ``key1``..``key5``.
    """

    start: int | None = None
    end: int | None = None
    expand_recurring: bool = False
    master_event_id: str | None = None
    metadata_pair: tuple[str, str] | None = None


def event_matches(event: Wire, query: EventQuery) -> bool:
    """Whether ``event`` is listed for ``query``."""
    master = event.get("master_event_id")
    if query.master_event_id is not None:
        if master != query.master_event_id:
            return False
    elif query.expand_recurring:
        if event.get("recurrence"):
            return False
    elif master is not None:
        return False
    start, end = when_bounds(event["when"])
    if query.start is not None and max(end, start + 1) <= query.start:
        return False
    if query.end is not None and start >= query.end:
        return False
    if query.metadata_pair is not None:
        key, value = query.metadata_pair
        return (event.get("metadata") or {}).get(key) == value
    return True


def event_order(event: Wire) -> tuple[int, str]:
    """The sort key of the event list: start, then id."""
    return when_bounds(event["when"])[0], str(event["id"])


# State -------------------------------------------------------------------------------------


class CalendarError(Exception):
    """Raised when the fake API refuses a calendar request; carries the Nylas error to answer."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_type: str | None = None,
        provider_error: Wire | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.provider_error = provider_error


@dataclass(slots=True)
class _Account:
    provider: str
    email: str
    calendars: dict[str, Wire] = field(default_factory=dict)
    events: dict[str, Wire] = field(default_factory=dict)

    def resolve(self, calendar_id: str) -> Wire | None:
        if calendar_id == PRIMARY:
            return next((c for c in self.calendars.values() if c.get("is_primary")), None)
        return self.calendars.get(calendar_id)


class FakeCalendars:
    """Calendars, events and the event notifications of the fake Nylas (see the module doc)."""

    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._calendar_lock = threading.Lock()
        self._accounts: dict[str, _Account] = {}
        self._notifications: list[Wire] = []

    # Content -------------------------------------------------------------------------------

    def _open_calendars(self, grant_id: str, provider: str, email: str) -> None:
        """Start (or restart) a grant with no calendars and no events."""
        with self._calendar_lock:
            self._accounts[grant_id] = _Account(provider, email)

    def _close_calendars(self, grant_id: str) -> None:
        """Forget a deleted grant's calendars and events."""
        with self._calendar_lock:
            self._accounts.pop(grant_id, None)

    def add_calendar(self, grant_id: str, calendar: Wire) -> None:
        """Add or replace one calendar (a wire dict with at least ``id`` and ``name``)."""
        self.add_calendars(grant_id, [calendar])

    def add_calendars(self, grant_id: str, calendars: Iterable[Wire]) -> None:
        """Add or replace calendars, e.g. a preset such as :func:`google_calendars`."""
        with self._calendar_lock:
            account = self._account(grant_id)
            for calendar in calendars:
                stored = _calendar(grant_id, calendar["id"], calendar["name"])
                stored.update(copy.deepcopy(calendar))
                stored["grant_id"] = grant_id
                account.calendars[stored["id"]] = stored

    # Reads ---------------------------------------------------------------------------------

    def calendars(self, grant_id: str) -> list[Wire]:
        """A grant's calendars in id order."""
        with self._calendar_lock:
            account = self._account(grant_id)
            return [copy.deepcopy(account.calendars[key]) for key in sorted(account.calendars)]

    def calendar(self, grant_id: str, calendar_id: str) -> Wire | None:
        """One calendar (``primary`` names the primary one), or None."""
        with self._calendar_lock:
            found = self._account(grant_id).resolve(calendar_id)
            return None if found is None else copy.deepcopy(found)

    def event(self, grant_id: str, event_id: str) -> Wire | None:
        """One event of the grant, in whichever calendar, or None."""
        with self._calendar_lock:
            found = self._account(grant_id).events.get(event_id)
            return None if found is None else copy.deepcopy(found)

    def events(
        self, grant_id: str, calendar_id: str, query: EventQuery | None = None
    ) -> list[Wire]:
        """A calendar's events passing ``query`` (all of them, occurrences too, without one)."""
        with self._calendar_lock:
            account = self._account(grant_id)
            calendar = account.resolve(calendar_id)
            if calendar is None:
                raise KeyError(f"no calendar {calendar_id!r} for grant {grant_id!r}")
            found = [
                copy.deepcopy(e)
                for e in account.events.values()
                if e["calendar_id"] == calendar["id"] and (query is None or event_matches(e, query))
            ]
        return sorted(found, key=event_order)

    def drain_notifications(self) -> list[Wire]:
        """The notifications Nylas would have sent since the last drain, oldest first; forgets
        them. One queue for the whole fake: event writes, and (see ``FakeNylas``) grant
        lifecycle, sends and bounces."""
        with self._calendar_lock:
            drained, self._notifications = self._notifications, []
        return drained

    def requeue_notifications(self, notifications: Iterable[Wire]) -> None:
        """Put back notifications a drain could not deliver, ahead of any queued since, so
        that the next drain delivers them first (Nylas retries a failed delivery)."""
        with self._calendar_lock:
            self._notifications[:0] = [copy.deepcopy(n) for n in notifications]

    def _queue_notifications(self, *notifications: Wire) -> None:
        """Queue notifications for :meth:`drain_notifications`, in order."""
        with self._calendar_lock:
            self._notifications.extend(notifications)

    # API writes ------------------------------------------------------------------------------

    def api_create_event(self, grant_id: str, calendar_id: str, body: Mapping[str, Any]) -> Wire:
        """``POST /events``: the created event; ``event.created`` is queued."""
        with self._calendar_lock:
            account = self._account(grant_id)
            calendar = account.resolve(calendar_id)
            if calendar is None:
                raise CalendarError(400, f"calendar {calendar_id} not found for this grant")
            self._refuse_read_only(account, calendar)
            event, notification = self._create(grant_id, account, calendar, body)
            self._notifications.append(notification)
            return copy.deepcopy(event)

    def api_update_event(
        self, grant_id: str, event_id: str, calendar_id: str, body: Mapping[str, Any]
    ) -> Wire:
        """``PUT /events/{id}``: the updated event; ``event.updated`` is queued.

        Nylas sends no notification for a change of ``metadata`` alone (Nylas docs, "Using
        metadata"), so none is queued when nothing else changed.
        """
        with self._calendar_lock:
            account = self._account(grant_id)
            before = self._addressed(account, event_id, calendar_id, check_calendar=True)
            calendar = account.calendars[before["calendar_id"]]
            self._refuse_read_only(account, calendar, before)
            event, notification = self._update(account, before, body)
            if _changed_fields(before, event) != {"metadata"}:
                self._notifications.append(notification)
            return copy.deepcopy(event)

    def api_destroy_event(self, grant_id: str, event_id: str, calendar_id: str) -> None:
        """``DELETE /events/{id}``; ``event.deleted`` (minimal) is queued.

        Microsoft does not check that ``calendar_id`` is the event's (NYLAS.md 4.1). Deleting an
        event someone else organised (``read_only``) only removes it from this calendar, as the
        providers do; a read-only calendar refuses.
        """
        with self._calendar_lock:
            account = self._account(grant_id)
            check = account.provider != "microsoft"
            event = self._addressed(account, event_id, calendar_id, check_calendar=check)
            self._refuse_read_only(account, account.calendars[event["calendar_id"]])
            self._notifications.append(self._delete(account, event))

    # The user at their calendar ----------------------------------------------------------------

    def user_creates_event(
        self, grant_id: str, calendar_id: str, *, event_id: str | None = None, **fields: Any
    ) -> Wire:
        """The rep adds an event (``fields`` as in a create body, plus ``status``, ``read_only``).

        Returns the ``event.created`` notification; ``event_id`` picks the id (any characters).
        """
        with self._calendar_lock:
            account = self._account(grant_id)
            calendar = account.resolve(calendar_id)
            if calendar is None:
                raise KeyError(f"no calendar {calendar_id!r} for grant {grant_id!r}")
            _, notification = self._create(
                grant_id, account, calendar, fields, event_id=event_id, user=True
            )
            return notification

    def user_edits_event(self, grant_id: str, event_id: str, **changes: Any) -> Wire:
        """The rep changes an event (PUT semantics); returns the ``event.updated`` notification."""
        with self._calendar_lock:
            account = self._account(grant_id)
            before = self._existing(account, event_id)
            return self._update(account, before, changes, user=True)[1]

    def user_deletes_event(self, grant_id: str, event_id: str) -> Wire:
        """The rep deletes an event; returns the minimal ``event.deleted`` notification."""
        with self._calendar_lock:
            account = self._account(grant_id)
            return self._delete(account, self._existing(account, event_id))

    def add_recurring_event(
        self,
        grant_id: str,
        calendar_id: str,
        *,
        event_id: str | None = None,
        start_time: int = RECURRING_START,
        duration_seconds: int = 3600,
        timezone: str | None = None,
        **fields: Any,
    ) -> tuple[Wire, Wire, Wire]:
        """A weekly event of two occurrences: ``(master, first, second)``, no notification.

        Occurrence ids are ``<master>_YYYYMMDD`` (UTC date of each start) and carry
        ``master_event_id``; the master carries ``recurrence``. ``fields`` as for
        :meth:`user_creates_event`, except ``when``, which the times above make.
        """
        if "when" in fields:
            raise ValueError("give start_time, duration_seconds and timezone instead of when")
        fields.setdefault("title", "Weekly pipeline review")
        fields["when"] = {
            "start_time": start_time,
            "end_time": start_time + duration_seconds,
            "start_timezone": timezone,
            "end_timezone": timezone,
        }
        with self._calendar_lock:
            account = self._account(grant_id)
            calendar = account.resolve(calendar_id)
            if calendar is None:
                raise KeyError(f"no calendar {calendar_id!r} for grant {grant_id!r}")
            master, _ = self._create(
                grant_id, account, calendar, fields, event_id=event_id, user=True
            )
            master["recurrence"] = ["RRULE:FREQ=WEEKLY;COUNT=2"]
            occurrences = []
            for week in range(2):
                occurrence = copy.deepcopy(master)
                del occurrence["recurrence"]
                when = occurrence["when"]
                when["start_time"] += week * WEEK
                when["end_time"] += week * WEEK
                occurrence["id"] = occurrence_id(master["id"], when["start_time"])
                occurrence["master_event_id"] = master["id"]
                account.events[occurrence["id"]] = occurrence
                occurrences.append(copy.deepcopy(occurrence))
            return copy.deepcopy(master), occurrences[0], occurrences[1]

    # Internals (called with the lock held) -----------------------------------------------------

    def _account(self, grant_id: str) -> _Account:
        try:
            return self._accounts[grant_id]
        except KeyError:
            raise KeyError(f"no grant {grant_id!r} in the fake Nylas") from None

    def _existing(self, account: _Account, event_id: str) -> Wire:
        try:
            return account.events[event_id]
        except KeyError:
            raise KeyError(f"no event {event_id!r}") from None

    def _addressed(
        self, account: _Account, event_id: str, calendar_id: str, *, check_calendar: bool
    ) -> Wire:
        """The event a request names; 404 when gone or (if checked) in another calendar."""
        event = account.events.get(event_id)
        calendar = account.resolve(calendar_id)
        if event is None or (
            check_calendar and (calendar is None or event["calendar_id"] != calendar["id"])
        ):
            raise CalendarError(404, f"event {event_id} not found in calendar {calendar_id}")
        return event

    @staticmethod
    def _refuse_read_only(account: _Account, calendar: Wire, event: Wire | None = None) -> None:
        if calendar.get("read_only") or (event is not None and event.get("read_only")):
            message, provider_error = read_only_error(account.provider)
            raise CalendarError(
                403, message, error_type="provider_error", provider_error=provider_error
            )

    def _stamp(self, previous: int | None = None) -> tuple[int, int]:
        """The write's clock value, and an ``updated_at`` after ``previous``."""
        now = int(self._clock())
        return now, now if previous is None or now > previous else previous + 1

    def _notify(self, account: _Account, delivered_type: str, event: Wire, at: int) -> Wire:
        return event_notification(delivered_type, event, provider=account.provider, at=at)

    def _create(
        self,
        grant_id: str,
        account: _Account,
        calendar: Wire,
        body: Mapping[str, Any],
        *,
        event_id: str | None = None,
        user: bool = False,
    ) -> tuple[Wire, Wire]:
        if event_id is not None and event_id in account.events:
            raise ValueError(f"event {event_id!r} already exists")
        at, _ = self._stamp()
        try:
            event = new_event(
                event_id=event_id or new_event_id(account.provider),
                calendar=calendar,
                organizer=account.email,
                provider=account.provider,
                body=body,
                at=at,
                allowed=USER_FIELDS if user else WRITABLE_FIELDS,
                strict=user,
            )
        except InvalidEvent as exc:
            if user:
                raise
            raise CalendarError(400, str(exc)) from exc
        account.events[event["id"]] = event
        return event, self._notify(account, "event.created", event, at)

    def _update(
        self, account: _Account, before: Wire, body: Mapping[str, Any], *, user: bool = False
    ) -> tuple[Wire, Wire]:
        at, updated_at = self._stamp(before.get("updated_at"))
        try:
            event = apply_fields(
                before, body, allowed=USER_FIELDS if user else WRITABLE_FIELDS, strict=user
            )
        except InvalidEvent as exc:
            if user:
                raise
            raise CalendarError(400, str(exc)) from exc
        event["updated_at"] = updated_at
        account.events[event["id"]] = event
        return event, self._notify(account, "event.updated", event, at)

    def _delete(self, account: _Account, event: Wire) -> Wire:
        at, _ = self._stamp()
        del account.events[event["id"]]
        if event.get("recurrence"):
            for other in [e for e in account.events.values() if e.get("master_event_id")]:
                if other["master_event_id"] == event["id"]:
                    del account.events[other["id"]]
        return self._notify(account, "event.deleted", event, at)


def _changed_fields(before: Wire, after: Wire) -> set[str]:
    """The fields whose values differ, ``updated_at`` aside."""
    keys = (set(before) | set(after)) - {"updated_at"}
    return {key for key in keys if before.get(key) != after.get(key)}
