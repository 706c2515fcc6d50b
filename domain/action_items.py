"""CRM action items and the calendar events they become: one content model for both sides.

An action item's content (title, description, location, when, participants) is read from
the CRM's document and from a Nylas Event into the same :class:`ItemContent`, and written
back as an event body. Comparing the two sides, detecting our own writes coming back (C4),
and deciding which side wins (C3) all work on this one value and its digest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from domain.addresses import normalise_address
from domain.errors import DomainError
from domain.inputs import IsoDate, NonBlank, ZonedTime, read_model
from domain.text import clipped, without_nul
from domain.times import format_time

MAX_TITLE = 1024
MAX_TEXT = 64 * 1024
MAX_PARTICIPANTS = 100


class InvalidActionItem(DomainError):
    """Raised when an action item sent by the CRM cannot be synced as one."""


@dataclass(frozen=True, slots=True)
class Timespan:
    """A timed item: from ``start`` to ``end`` (aware), shown in ``timezone`` (IANA)."""

    start: datetime
    end: datetime
    timezone: str | None = None


@dataclass(frozen=True, slots=True)
class AllDay:
    """An all-day item from ``start`` to ``end`` (dates, inclusive)."""

    start: date
    end: date


When = Timespan | AllDay


@dataclass(frozen=True, slots=True)
class ItemContent:
    """What an action item and its event share; participants are normalised addresses."""

    title: str
    description: str
    location: str
    when: When
    participants: tuple[str, ...] = ()

    def starts_at(self) -> datetime:
        """When the item starts, as an instant (an all-day item at midnight UTC)."""
        if isinstance(self.when, Timespan):
            return self.when.start
        return datetime(
            self.when.start.year, self.when.start.month, self.when.start.day, tzinfo=UTC
        )

    def digest(self) -> str:
        """A stable fingerprint of the content, equal on both sides when they agree."""
        canonical = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "description": self.description,
            "location": self.location,
            "when": _when_json(self.when),
            "participants": list(self.participants),
        }


@dataclass(frozen=True, slots=True)
class ActionItemDocument:
    """An action item as the CRM sends it."""

    content: ItemContent
    sync: bool
    notify_participants: bool
    changed_at: datetime


def _participant(value: object) -> str:
    """A participant's address, given as text or as an object (as Nylas writes them)."""
    raw = value.get("email") if isinstance(value, Mapping) else value
    address = normalise_address(raw) if isinstance(raw, str) else None
    if address is None:
        shown = repr(clipped(raw)) if isinstance(raw, str) else clipped(repr(raw))
        raise ValueError(f"participant {shown} is not an email address")
    return address


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA zone, e.g. Europe/Paris") from None
    return value


Participant = Annotated[
    str,
    BeforeValidator(_participant),
    WithJsonSchema(
        {
            "oneOf": [
                {"type": "string", "description": "an address"},
                {
                    "type": "object",
                    "properties": {
                        "email": {"type": "string"},
                        "name": {"type": ["string", "null"]},
                    },
                    "required": ["email"],
                    "description": "as Nylas writes participants; the name is not kept",
                },
            ]
        }
    ),
]


class ActionItemInput(BaseModel):
    """The body of PUT /v1/reps/{rep_id}/action-items/{item_id}: the whole item.

    A timed item has ``start`` and ``end`` (and a ``timezone`` to show it in); an all-day
    item has ``all_day: true`` and ``start_date`` (and ``end_date``, inclusive).
    ``changed_at`` is the CRM's own change time, which last-writer-wins compares with the
    calendar's (C3).
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "title": "Call Dana about the renewal",
                    "start": "2026-11-23T10:00:00Z",
                    "end": "2026-11-23T10:30:00Z",
                    "timezone": "Europe/Paris",
                    "participants": ["dana@acme.example"],
                    "changed_at": "2026-11-20T08:30:00Z",
                },
                {
                    "title": "Renewal due",
                    "all_day": True,
                    "start_date": "2026-12-01",
                    "changed_at": "2026-11-20T08:30:00Z",
                },
            ]
        },
    )

    title: NonBlank = Field(max_length=MAX_TITLE)
    description: str | None = Field(None, max_length=MAX_TEXT)
    location: str | None = Field(None, max_length=MAX_TITLE)
    start: ZonedTime | None = Field(None, description="a timed item's start")
    end: ZonedTime | None = Field(None, description="a timed item's end")
    timezone: Annotated[str, AfterValidator(_zone)] | None = Field(
        None, description="IANA zone the event is shown in"
    )
    all_day: bool = Field(False, description="an all-day item, from start_date to end_date")
    start_date: IsoDate | None = None
    end_date: IsoDate | None = Field(None, description="inclusive (default: start_date)")
    participants: list[Participant] | None = Field(
        None, max_length=MAX_PARTICIPANTS, fail_fast=True, description="their addresses"
    )
    sync: bool = Field(True, description="written to the rep's calendar (C1)")
    notify_participants: bool = Field(False, description="Nylas sends the participants invitations")
    changed_at: ZonedTime = Field(description="when the CRM changed it (last writer wins)")


def parse_action_item(document: object) -> ActionItemDocument:
    """Read an action item from the CRM: its shape by :class:`ActionItemInput`, then the
    rules of its time (a timed item or an all-day one, an end not before its start).

    Raises:
        InvalidInput: not that shape (``unknown_field`` for a key it does not have).
        InvalidActionItem: its time breaks a rule; the message names the field.
    """
    given = read_model(ActionItemInput, document, "invalid_action_item")
    content = ItemContent(
        title=given.title,
        description=given.description or "",
        location=given.location or "",
        when=_when(given),
        participants=_participants(given.participants or ()),
    )
    return ActionItemDocument(
        content=content,
        sync=given.sync,
        notify_participants=given.notify_participants,
        changed_at=given.changed_at,
    )


def event_body(content: ItemContent) -> dict[str, Any]:
    """The Nylas event request body that writes ``content`` (PUT replaces it whole)."""
    when: dict[str, Any]
    if isinstance(content.when, Timespan):
        when = {
            "start_time": int(content.when.start.timestamp()),
            "end_time": int(content.when.end.timestamp()),
        }
        if content.when.timezone:
            when["start_timezone"] = content.when.timezone
            when["end_timezone"] = content.when.timezone
    elif content.when.start == content.when.end:
        when = {"date": content.when.start.isoformat()}
    else:
        when = {
            "start_date": content.when.start.isoformat(),
            "end_date": content.when.end.isoformat(),
        }
    return {
        "title": content.title,
        "description": content.description,
        "location": content.location,
        "when": when,
        "participants": [{"email": address} for address in content.participants],
        "busy": True,
    }


def content_from_event(event: Mapping[str, Any]) -> ItemContent | None:
    """An event's content, or None when its ``when`` is not one crmsync can hold."""
    when = _event_when(event.get("when"))
    if when is None:
        return None
    participants = []
    for entry in event.get("participants") or []:
        address = entry.get("email") if isinstance(entry, Mapping) else None
        normalised = normalise_address(address) if isinstance(address, str) else None
        if normalised:
            participants.append(normalised)
    return ItemContent(
        title=_plain(event.get("title")),
        description=_plain(event.get("description")),
        location=_plain(event.get("location")),
        when=when,
        participants=tuple(sorted(set(participants))),
    )


def _event_when(value: object) -> When | None:
    if not isinstance(value, Mapping):
        return None
    kind = value.get("object")
    try:
        if kind == "timespan" or (kind is None and "start_time" in value):
            tz = value.get("start_timezone")
            return Timespan(
                datetime.fromtimestamp(int(value["start_time"]), UTC),
                datetime.fromtimestamp(int(value["end_time"]), UTC),
                tz if isinstance(tz, str) and tz else None,
            )
        if kind == "date" or (kind is None and "date" in value):
            day = date.fromisoformat(str(value["date"]))
            return AllDay(day, day)
        if kind == "datespan" or (kind is None and "start_date" in value):
            return AllDay(
                date.fromisoformat(str(value["start_date"])),
                date.fromisoformat(str(value["end_date"])),
            )
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    return None  # "time" (a point in time) and unknown kinds are not action items


def _when_json(when: When) -> dict[str, Any]:
    if isinstance(when, Timespan):
        return {
            "start": format_time(when.start),
            "end": format_time(when.end),
            "timezone": when.timezone,
        }
    return {"all_day": True, "start_date": when.start.isoformat(), "end_date": when.end.isoformat()}


def _when(given: ActionItemInput) -> When:
    if given.all_day:
        if given.start_date is None:
            raise InvalidActionItem("invalid_action_item", "'start_date' is required all day")
        end = given.end_date or given.start_date
        if end < given.start_date:
            raise InvalidActionItem("invalid_action_item", "'end_date' is before 'start_date'")
        return AllDay(given.start_date, end)
    if given.start is None or given.end is None:
        raise InvalidActionItem(
            "invalid_action_item", "'start' and 'end' (RFC 3339) are required, or all_day"
        )
    if given.end < given.start:
        raise InvalidActionItem("invalid_action_item", "'end' is before 'start'")
    # The calendar holds whole seconds (Unix times): so does the item, or what Nylas returns
    # would never read back as what was pushed (C4) and would look like an edit to apply.
    return Timespan(
        given.start.replace(microsecond=0), given.end.replace(microsecond=0), given.timezone
    )


def _participants(given: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(given)))


def _plain(value: object) -> str:
    """Calendar text as crmsync keeps it: a NUL (PostgreSQL stores none) becomes U+FFFD."""
    return without_nul(value) if isinstance(value, str) else ""
