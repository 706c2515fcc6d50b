"""The rules of ``POST /v3/grants/{id}/messages/send`` in the fake Nylas: body in, sent message out.

What Nylas does with a send (Nylas docs, "Send email"; SDK ``SendMessageRequest``): it checks
the body (at least one recipient, each with an ``email``), sends through the provider and
answers the sent Message, which then also appears in the mailbox's Sent folder (and, through
the sync, in a ``message.created`` notification). A reply (``reply_to_message_id``) joins the
thread of the message it answers. ``metadata`` is kept on the message, so it can be found
again with ``metadata_pair`` (NYLAS.md 3.1).
"""

from __future__ import annotations

import base64
import html
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from simulator.calendar import InvalidEvent, validate_metadata

Wire = dict[str, Any]

SNIPPET_LENGTH = 100
RECIPIENT_FIELDS = ("to", "cc", "bcc")
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


class InvalidSend(ValueError):
    """Raised when a send body breaks a rule of the Send API; ``status`` is what Nylas answers."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def participants(body: Mapping[str, Any], key: str) -> list[Wire]:
    """A list of ``{email, name?}`` from the body, as the API returns it."""
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidSend(f"{key} must be a list of {{email, name}} objects")
    found: list[Wire] = []
    for item in value:
        email = item.get("email") if isinstance(item, Mapping) else None
        if not isinstance(email, str) or "@" not in email:
            raise InvalidSend(f"each {key} participant needs a valid email, got {item!r}")
        participant: Wire = {"email": email.strip()}
        name = item.get("name")
        if name is not None:
            if not isinstance(name, str):
                raise InvalidSend(f"{key} participant names must be strings")
            participant["name"] = name
        found.append(participant)
    return found


def snippet(body: str) -> str:
    """The plain-text preview of an HTML body."""
    text = _SPACE.sub(" ", html.unescape(_TAG.sub(" ", body))).strip()
    return text[:SNIPPET_LENGTH]


def new_message_id(provider: str) -> str:
    """A fresh message id shaped like the provider's: hex for Gmail, opaque for Microsoft."""
    raw = uuid.uuid4()
    if provider == "microsoft":
        return "AAMkAD" + base64.urlsafe_b64encode(raw.bytes).decode().rstrip("=")
    return raw.hex[:16]


def _text(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidSend(f"{key} must be a string")
    return value


def sent_message(
    grant: Mapping[str, Any],
    body: Mapping[str, Any],
    *,
    message_id: str,
    thread_id: str,
    folders: Iterable[str],
    at: int,
) -> Wire:
    """The Message a send makes from ``body`` for ``grant``, dated ``at``.

    ``from`` is the body's (an alias the grant may send as) or else the grant's address.

    Raises:
        InvalidSend: no recipient, a malformed participant, field or metadata, or a scheduled
            send (``send_at``), which the fake does not model.
    """
    if body.get("send_at") is not None:
        raise InvalidSend("scheduled sends (send_at) are not simulated")
    recipients = {key: participants(body, key) for key in RECIPIENT_FIELDS}
    if not any(recipients.values()):
        raise InvalidSend("a message needs at least one recipient in to, cc or bcc")
    sender = participants(body, "from") or [{"email": grant.get("email")}]
    try:
        metadata = validate_metadata(body.get("metadata") or {})
    except InvalidEvent as exc:
        raise InvalidSend(str(exc)) from exc
    content = _text(body, "body")
    return {
        "id": message_id,
        "grant_id": grant["id"],
        "object": "message",
        "thread_id": thread_id,
        "subject": _text(body, "subject"),
        "from": sender,
        **recipients,
        "reply_to": participants(body, "reply_to"),
        "date": at,
        "created_at": at,
        "folders": list(folders),
        "snippet": snippet(content),
        "body": content,
        "unread": False,
        "starred": bool(body.get("starred", False)),
        "attachments": [],
        "metadata": metadata,
    }


def recipient_addresses(message: Mapping[str, Any]) -> list[str]:
    """The addresses a message was sent to (to, cc, bcc), lower-cased, in order, once each."""
    seen: dict[str, None] = {}
    for key in RECIPIENT_FIELDS:
        for participant in message.get(key) or []:
            seen.setdefault(str(participant["email"]).lower())
    return list(seen)
