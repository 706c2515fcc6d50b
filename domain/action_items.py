"""CRM action items and the calendar events they become: one content model for both sides.

An action item's content (title, description, location, when, participants) is read from
the CRM's document and from a Nylas Event into the same :class:`ItemContent`, and written
back as an event body. Comparing the two sides, detecting our own writes coming back (C4),
and deciding which side wins (C3) all work on this one value and its digest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.addresses import normalise_address
from domain.errors import DomainError
from domain.text import without_nul
from domain.times import format_time, parse_rfc3339

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


def parse_action_item(document: object) -> ActionItemDocument:
    """Read an action item from the CRM.

    ``{"title", "description", "location", "start", "end", "timezone"}`` for a timed item, or
    ``{"all_day": true, "start_date", "end_date"}``; ``"participants"`` (addresses), ``"sync"``
    (default true), ``"notify_participants"`` (default false), ``"changed_at"`` (required: the
    CRM's own change time, which last-writer-wins compares with the calendar's).

    Raises:
        InvalidActionItem: a field is missing or not valid; the message names it.
    """
    if not isinstance(document, Mapping):
        raise InvalidActionItem("invalid_action_item", "an action item must be a JSON object")
    changed_at = _time(document, "changed_at")
    if changed_at is None:
        raise InvalidActionItem("invalid_action_item", "'changed_at' (RFC 3339) is required")
    content = ItemContent(
        title=_text(document, "title", MAX_TITLE, required=True),
        description=_text(document, "description", MAX_TEXT),
        location=_text(document, "location", MAX_TITLE),
        when=_when(document),
        participants=_participants(document.get("participants")),
    )
    return ActionItemDocument(
        content=content,
        sync=_flag(document, "sync", default=True),
        notify_participants=_flag(document, "notify_participants", default=False),
        changed_at=changed_at,
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


def _when(document: Mapping[str, Any]) -> When:
    if document.get("all_day") is True:
        start, end = _date(document, "start_date"), _date(document, "end_date")
        if start is None:
            raise InvalidActionItem("invalid_action_item", "'start_date' is required all day")
        end = end or start
        if end < start:
            raise InvalidActionItem("invalid_action_item", "'end_date' is before 'start_date'")
        return AllDay(start, end)
    start_at, end_at = _time(document, "start"), _time(document, "end")
    if start_at is None or end_at is None:
        raise InvalidActionItem(
            "invalid_action_item", "'start' and 'end' (RFC 3339) are required, or all_day"
        )
    if end_at < start_at:
        raise InvalidActionItem("invalid_action_item", "'end' is before 'start'")
    timezone = document.get("timezone")
    if timezone is not None and (not isinstance(timezone, str) or not _known_zone(timezone)):
        raise InvalidActionItem(
            "invalid_action_item", "'timezone' must be an IANA zone, e.g. Europe/Paris"
        )
    # The calendar holds whole seconds (Unix times): so does the item, or what Nylas returns
    # would never read back as what was pushed (C4) and would look like an edit to apply.
    return Timespan(start_at.replace(microsecond=0), end_at.replace(microsecond=0), timezone)


def _known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _participants(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_PARTICIPANTS:
        raise InvalidActionItem(
            "invalid_action_item", f"'participants' must be a list of at most {MAX_PARTICIPANTS}"
        )
    found: set[str] = set()
    for entry in value:
        raw = entry.get("email") if isinstance(entry, Mapping) else entry
        address = normalise_address(raw) if isinstance(raw, str) else None
        if address is None:
            raise InvalidActionItem(
                "invalid_action_item", f"participant {raw!r} is not an email address"
            )
        found.add(address)
    return tuple(sorted(found))


def _text(document: Mapping[str, Any], key: str, limit: int, *, required: bool = False) -> str:
    value = document.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise InvalidActionItem(
            "invalid_action_item", f"'{key}' must be text of at most {limit} characters"
        )
    return value


def _plain(value: object) -> str:
    """Calendar text as crmsync keeps it: a NUL (PostgreSQL stores none) becomes U+FFFD."""
    return without_nul(value) if isinstance(value, str) else ""


def _flag(document: Mapping[str, Any], key: str, *, default: bool) -> bool:
    value = document.get(key, default)
    if not isinstance(value, bool):
        raise InvalidActionItem("invalid_action_item", f"'{key}' must be true or false")
    return value


def _time(document: Mapping[str, Any], key: str) -> datetime | None:
    value = document.get(key)
    if value is None:
        return None
    parsed = parse_rfc3339(value) if isinstance(value, str) else None
    if parsed is None:
        raise InvalidActionItem(
            "invalid_action_item", f"'{key}' must be an RFC 3339 time with a zone"
        )
    return parsed


def _date(document: Mapping[str, Any], key: str) -> date | None:
    value = document.get(key)
    if value is None:
        return None
    try:
        if isinstance(value, str):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise InvalidActionItem("invalid_action_item", f"'{key}' must be YYYY-MM-DD")
