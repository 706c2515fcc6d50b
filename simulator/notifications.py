"""Nylas notifications as Nylas sends them: real-shaped v3 envelopes and v2 bodies, signed.

Shapes follow NYLAS.md sections 1, 2, 3 and 5. Used by the tests, ``crmsync demo`` and the
benchmarks, so every one of them speaks the same wire format.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from domain.signatures import nylas_signature

APPLICATION_ID = "crmsync-sim-app"


def sign(body: bytes, secret: str) -> str:
    """``X-Nylas-Signature`` for ``body``: lower-case hex HMAC-SHA256 keyed with ``secret``."""
    return nylas_signature(body, secret.encode())


def encode(document: dict[str, Any]) -> bytes:
    """A notification body as Nylas serialises it (compact JSON)."""
    return json.dumps(document, separators=(",", ":")).encode()


def envelope(
    delivered_type: str,
    obj: dict[str, Any],
    *,
    source: str,
    notification_id: str | None = None,
    at: int | None = None,
    attempt: int = 1,
) -> dict[str, Any]:
    """A v3 envelope around ``obj``."""
    return {
        "specversion": "1.0",
        "type": delivered_type,
        "source": source,
        "id": notification_id or str(uuid.uuid4()),
        "time": int(time.time()) if at is None else at,
        "webhook_delivery_attempt": attempt,
        "data": {"application_id": APPLICATION_ID, "object": obj},
    }


def message_object(
    grant_id: str,
    *,
    message_id: str | None = None,
    sender: str = "rep@example.com",
    to: tuple[str, ...] = ("contact@customer.example",),
    cc: tuple[str, ...] = (),
    folders: tuple[str, ...] = ("INBOX",),
    subject: str = "Quarterly proposal",
    body: str = "<p>Hello</p>",
    date: int | None = None,
) -> dict[str, Any]:
    """A v3 Message object (NYLAS.md 3.1)."""
    now = int(time.time())
    return {
        "id": message_id or uuid.uuid4().hex[:16],
        "grant_id": grant_id,
        "object": "message",
        "thread_id": uuid.uuid4().hex[:16],
        "subject": subject,
        "from": [{"name": "Sales Rep", "email": sender}],
        "to": [{"email": address} for address in to],
        "cc": [{"email": address} for address in cc],
        "bcc": [],
        "reply_to": [],
        "date": now if date is None else date,
        "created_at": now,
        "folders": list(folders),
        "snippet": "Hello",
        "body": body,
        "unread": True,
        "starred": False,
        "attachments": [],
    }


def message_created(grant_id: str, *, truncated: bool = False, **fields: Any) -> dict[str, Any]:
    """A ``message.created`` (or ``.truncated``, body left out) notification."""
    obj = message_object(grant_id, **fields)
    delivered_type = "message.created"
    if truncated:
        obj["body"] = ""
        delivered_type += ".truncated"
    return envelope(delivered_type, obj, source="/google/emails/realtime")


def event_deleted(grant_id: str, event_id: str, calendar_id: str) -> dict[str, Any]:
    """The minimal ``event.deleted`` notification (NYLAS.md 4.2): no updated_at, no when."""
    obj = {"id": event_id, "grant_id": grant_id, "calendar_id": calendar_id, "object": "event"}
    return envelope("event.deleted", obj, source="/google/events/realtime")


def event_source(provider: str) -> str:
    """The ``source`` of a realtime event notification for a ``provider`` grant (NYLAS.md 1.1)."""
    return f"/{provider}/events/realtime"


def deleted_event_object(event: Mapping[str, Any]) -> dict[str, Any]:
    """The minimal ``data.object`` of ``event.deleted`` (NYLAS.md 4.2).

    ``id``, ``grant_id``, ``calendar_id`` and ``object``; ``master_event_id`` for an occurrence
    and ``metadata`` when set. No ``updated_at``, ``when`` or ``status``.
    """
    obj: dict[str, Any] = {
        "id": event["id"],
        "grant_id": event["grant_id"],
        "calendar_id": event.get("calendar_id"),
        "object": "event",
    }
    if event.get("master_event_id"):
        obj["master_event_id"] = event["master_event_id"]
    if event.get("metadata"):
        obj["metadata"] = copy.deepcopy(dict(event["metadata"]))
    return obj


def event_notification(
    delivered_type: str, event: Mapping[str, Any], *, provider: str, at: int
) -> dict[str, Any]:
    """``event.created``/``.updated`` with the whole event, or the minimal ``event.deleted``."""
    if delivered_type == "event.deleted":
        obj = deleted_event_object(event)
    else:
        obj = copy.deepcopy(dict(event))
    return envelope(delivered_type, obj, source=event_source(provider), at=at)


def grant_expired(grant_id: str, *, provider: str = "google") -> dict[str, Any]:
    """A ``grant.expired`` notification (NYLAS.md 5.2, code 25009)."""
    obj = {
        "code": 25009,
        "grant_id": grant_id,
        "integration_id": str(uuid.uuid4()),
        "provider": provider,
        "grant_updated_at": int(time.time()) - 3600,
    }
    return envelope("grant.expired", obj, source="/nylas/system")


def v2_message_delta(
    account_id: str, message_id: str, *, date: int | None = None
) -> dict[str, Any]:
    """One v2 delta for a created message: ids only (NYLAS.md 2)."""
    return {
        "date": int(time.time()) if date is None else date,
        "object": "message",
        "type": "message.created",
        "object_data": {
            "namespace_id": account_id,
            "account_id": account_id,
            "object": "message",
            "id": message_id,
            "attributes": {"thread_id": uuid.uuid4().hex[:16], "received_date": int(time.time())},
            "metadata": None,
        },
    }


def v2_body(*deltas: dict[str, Any]) -> dict[str, Any]:
    """A v2 notification body carrying ``deltas``."""
    return {"deltas": list(deltas)}
