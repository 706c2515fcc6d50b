"""A Nylas Message object (NYLAS.md 3.1) read into a typed, provider-neutral value.

The same parser reads a message from a notification's ``data.object`` and from the Messages
API, so a message has one meaning whichever way it reached crmsync. It is tolerant where
Nylas is loose (``from`` missing on some Microsoft messages, ``name`` absent, ``body`` ``""``
when truncated, lists that are ``null``) and strict only on what identity needs: the id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from domain.addresses import normalise_address
from domain.errors import DomainError
from domain.text import without_nul


class MalformedMessage(DomainError):
    """Raised when a message object lacks what crmsync needs to store it (its id)."""


@dataclass(frozen=True, slots=True)
class Participant:
    """One address on a message header; ``email`` is normalised (rule E3)."""

    email: str
    name: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"email": self.email, "name": self.name}


@dataclass(frozen=True, slots=True)
class Attachment:
    """What crmsync keeps of an attachment: its metadata, never its content (rule E6)."""

    id: str | None
    filename: str | None
    content_type: str | None
    size: int | None
    is_inline: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
            "is_inline": self.is_inline,
        }


@dataclass(frozen=True, slots=True)
class MailMessage:
    """A message of one grant, as crmsync reads it."""

    message_id: str
    grant_id: str | None
    thread_id: str | None
    subject: str
    snippet: str
    body: str | None
    sender: tuple[Participant, ...]
    to: tuple[Participant, ...]
    cc: tuple[Participant, ...]
    bcc: tuple[Participant, ...]
    date: datetime | None
    folder_ids: tuple[str, ...]
    unread: bool | None
    starred: bool | None
    attachments: tuple[Attachment, ...]
    # Custom key/values set by whoever created the message (crmsync's sends carry their key).
    metadata: Mapping[str, str] = field(default_factory=dict)

    def matching_addresses(self) -> frozenset[str]:
        """The addresses that can tie the message to a contact: From, To and CC (rule E2).

        BCC is left out on purpose: a contact blind-copied did not exchange the email.
        """
        return frozenset(p.email for p in (*self.sender, *self.to, *self.cc))


def parse_message(obj: Mapping[str, Any]) -> MailMessage:
    """Read a Nylas Message object.

    Raises:
        MalformedMessage: the object has no message id.
    """
    message_id = obj.get("id")
    if not isinstance(message_id, str) or not message_id:
        raise MalformedMessage("missing_message_id", "the message object has no 'id'")
    message_id = without_nul(message_id)
    body = obj.get("body")
    return MailMessage(
        message_id=message_id,
        grant_id=_text(obj.get("grant_id")),
        thread_id=_text(obj.get("thread_id")),
        subject=_text(obj.get("subject")) or "",
        snippet=_text(obj.get("snippet")) or "",
        # Truncated notifications send "" for a body they left out: that is no body, not an
        # empty one, so it never overwrites a body fetched earlier.
        body=without_nul(body) if isinstance(body, str) and body else None,
        sender=_participants(obj.get("from")),
        to=_participants(obj.get("to")),
        cc=_participants(obj.get("cc")),
        bcc=_participants(obj.get("bcc")),
        date=_unix_time(obj.get("date")),
        folder_ids=tuple(
            without_nul(f) for f in _list(obj.get("folders")) if isinstance(f, str) and f
        ),
        unread=_flag(obj.get("unread")),
        starred=_flag(obj.get("starred")),
        attachments=tuple(
            _attachment(a) for a in _list(obj.get("attachments")) if isinstance(a, Mapping)
        ),
        metadata=_metadata(obj.get("metadata")),
    )


def message_to_wire(message: MailMessage) -> dict[str, Any]:
    """The message as a Nylas Message object again, which :func:`parse_message` reads back
    into an equal value: how a message waiting for its folders (N2) is kept."""
    return {
        "id": message.message_id,
        "grant_id": message.grant_id,
        "thread_id": message.thread_id,
        "subject": message.subject,
        "snippet": message.snippet,
        "body": message.body,
        "from": [p.to_json() for p in message.sender],
        "to": [p.to_json() for p in message.to],
        "cc": [p.to_json() for p in message.cc],
        "bcc": [p.to_json() for p in message.bcc],
        "date": int(message.date.timestamp()) if message.date is not None else None,
        "folders": list(message.folder_ids),
        "unread": message.unread,
        "starred": message.starred,
        "attachments": [a.to_json() for a in message.attachments],
        "metadata": dict(message.metadata),
    }


def _metadata(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {
        without_nul(k): without_nul(v)
        for k, v in value.items()
        if isinstance(k, str) and isinstance(v, str)
    }


def _participants(value: object) -> tuple[Participant, ...]:
    found: list[Participant] = []
    seen: set[str] = set()
    for entry in _list(value):
        if not isinstance(entry, Mapping):
            continue
        raw = entry.get("email")
        address = normalise_address(raw) if isinstance(raw, str) else None
        if address is None or address in seen:
            continue
        seen.add(address)
        found.append(Participant(email=address, name=_text(entry.get("name"))))
    return tuple(found)


def _attachment(entry: Mapping[str, Any]) -> Attachment:
    size = entry.get("size")
    return Attachment(
        id=_text(entry.get("id")),
        filename=_text(entry.get("filename")),
        content_type=_text(entry.get("content_type")),
        size=size if isinstance(size, int) and not isinstance(size, bool) else None,
        is_inline=entry.get("is_inline") is True,
    )


def _unix_time(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (ValueError, OverflowError, OSError):  # NaN, infinity, beyond the calendar
        return None


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: object) -> str | None:
    """Text as crmsync keeps it: a NUL (which PostgreSQL cannot store) becomes U+FFFD."""
    return without_nul(value) if isinstance(value, str) and value else None


def _flag(value: object) -> bool | None:
    return value if isinstance(value, bool) else None
