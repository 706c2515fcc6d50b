"""Nylas notifications as Nylas sends them: real-shaped v3 envelopes and v2 bodies, signed.

Shapes follow NYLAS.md sections 1, 2, 3 and 5. Used by the tests, ``crmsync demo`` and the
benchmarks, so every one of them speaks the same wire format.
"""

from __future__ import annotations

import copy
import email.utils
import json
import time
import uuid
from collections.abc import Mapping, Sequence
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
    obj: dict[str, Any] | None,
    *,
    source: str,
    notification_id: str | None = None,
    at: int | None = None,
    attempt: int = 1,
    data_fields: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A v3 envelope around ``obj``.

    ``data_fields`` go into ``data`` beside ``object``: the send and bounce triggers carry
    ``grant_id`` there (NYLAS.md 1.2), ``message.send_failed`` also ``reason`` and ``error``.
    """
    data: dict[str, Any] = {"application_id": APPLICATION_ID}
    data.update(copy.deepcopy(dict(data_fields or {})))
    data["object"] = obj
    return {
        "specversion": "1.0",
        "type": delivered_type,
        "source": source,
        "id": notification_id or str(uuid.uuid4()),
        "time": int(time.time()) if at is None else at,
        "webhook_delivery_attempt": attempt,
        "data": data,
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


# Grants (NYLAS.md 5.2) ----------------------------------------------------------------------
#
# Every grant.* notification comes from ``/nylas/system`` with ``data.object`` =
# ``{code, grant_id, integration_id, provider, email?, ...}``. Codes and the extra fields of each
# trigger follow the schemas Nylas publishes for its notification reference (mirrored in
# api-evangelist/nylas ``json-schema/nylas-grant-*.schema.json``). That schema also mentions a
# code 25027 for re-authentications; NYLAS.md and the examples use 25014 with
# ``reauthentication_flag``, and so does the fake.

SYSTEM_SOURCE = "/nylas/system"
SEND_SOURCE = "/nylas/send"  # message.send_success, .send_failed and .bounce_detected

GRANT_CREATED_CODE = 25012
GRANT_DELETED_CODE = 25013
GRANT_UPDATED_CODE = 25014
GRANT_EXPIRED_CODE = 25009


def integration_id(provider: str) -> str:
    """The id of the application's connector for ``provider``: stable, as a real one is."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{APPLICATION_ID}/{provider}"))


def grant_object(
    code: int, grant_id: str, *, provider: str, email: str | None, **extra: Any
) -> dict[str, Any]:
    """The ``data.object`` shared by the grant.* triggers, plus ``extra`` fields."""
    obj: dict[str, Any] = {
        "code": code,
        "grant_id": grant_id,
        "integration_id": integration_id(provider),
        "provider": provider,
    }
    if email is not None:
        obj["email"] = email
    obj.update(copy.deepcopy(extra))
    return obj


def grant_created(
    grant_id: str,
    *,
    provider: str,
    email: str,
    scope: Sequence[str] = (),
    name: str | None = None,
    login_id: str | None = None,
    at: int | None = None,
) -> dict[str, Any]:
    """``grant.created`` (code 25012): a user connected for the first time (hosted auth).

    ``login_id`` names the hosted-auth session; ``name`` is left out when the provider gave none.
    """
    extra: dict[str, Any] = {"login_id": login_id or str(uuid.uuid4()), "scope": list(scope)}
    if name is not None:
        extra["name"] = name
    obj = grant_object(GRANT_CREATED_CODE, grant_id, provider=provider, email=email, **extra)
    return envelope("grant.created", obj, source=SYSTEM_SOURCE, at=at)


def grant_updated(
    grant_id: str,
    *,
    provider: str,
    email: str | None,
    reauthentication_flag: bool,
    at: int | None = None,
) -> dict[str, Any]:
    """``grant.updated`` (code 25014); ``reauthentication_flag`` true after a re-connect that
    brought an expired grant back. ``scope`` is left out, as it usually is on this trigger."""
    obj = grant_object(
        GRANT_UPDATED_CODE,
        grant_id,
        provider=provider,
        email=email,
        reauthentication_flag=reauthentication_flag,
    )
    return envelope("grant.updated", obj, source=SYSTEM_SOURCE, at=at)


def grant_deleted(
    grant_id: str, *, provider: str, email: str | None, at: int | None = None
) -> dict[str, Any]:
    """``grant.deleted`` (code 25013), sent after a Delete Grant request."""
    obj = grant_object(GRANT_DELETED_CODE, grant_id, provider=provider, email=email)
    return envelope("grant.deleted", obj, source=SYSTEM_SOURCE, at=at)


def grant_expired(
    grant_id: str,
    *,
    provider: str = "google",
    email: str | None = None,
    grant_updated_at: int | None = None,
    at: int | None = None,
) -> dict[str, Any]:
    """``grant.expired`` (code 25009): the user must sign in again.

    ``grant_updated_at`` is the grant's last successful refresh (an hour before ``at`` unless
    given).
    """
    moment = int(time.time()) if at is None else at
    refreshed = moment - 3600 if grant_updated_at is None else grant_updated_at
    obj = grant_object(
        GRANT_EXPIRED_CODE, grant_id, provider=provider, email=email, grant_updated_at=refreshed
    )
    return envelope("grant.expired", obj, source=SYSTEM_SOURCE, at=moment)


# Messages written through the API --------------------------------------------------------------


def email_source(provider: str) -> str:
    """The ``source`` of a realtime message notification for a ``provider`` grant."""
    return f"/{provider}/emails/realtime"


def message_notification(
    message: Mapping[str, Any],
    *,
    provider: str,
    at: int | None = None,
    delivered_type: str = "message.created",
) -> dict[str, Any]:
    """``message.created`` (or ``.updated``) carrying the whole ``message``, as when Nylas
    syncs it from the mailbox (a sent message's copy in the Sent folder included)."""
    return envelope(
        delivered_type, copy.deepcopy(dict(message)), source=email_source(provider), at=at
    )


def message_send_success(message: Mapping[str, Any], *, at: int | None = None) -> dict[str, Any]:
    """``message.send_success``: the sent message, with ``grant_id`` also in ``data``.

    Shape from the Nylas notification schema (api-evangelist/nylas
    ``json-schema/nylas-message-send-success.schema.json``); Nylas sends it for scheduled sends,
    and for immediate ones only when the application enables it (NYLAS.md 1.3).
    """
    obj = copy.deepcopy(dict(message))
    obj.setdefault("object", "message")
    grant = {"grant_id": obj.get("grant_id")}
    return envelope("message.send_success", obj, source=SEND_SOURCE, at=at, data_fields=grant)


def message_send_failed(
    message: Mapping[str, Any] | None,
    *,
    grant_id: str,
    reason: str,
    error_type: str = "api.provider_error",
    error_message: str | None = None,
    status_code: int = 400,
    provider_error: Mapping[str, Any] | None = None,
    at: int | None = None,
) -> dict[str, Any]:
    """``message.send_failed``: ``data`` holds ``grant_id``, ``reason`` and ``error`` beside the
    message (null when Nylas could not build it). Shape from the Nylas notification schema
    (api-evangelist/nylas ``json-schema/nylas-message-send-failed.schema.json``)."""
    error: dict[str, Any] = {
        "type": error_type,
        "message": error_message or reason,
        "status_code": status_code,
    }
    if provider_error is not None:
        error["provider_error"] = copy.deepcopy(dict(provider_error))
    obj = None if message is None else copy.deepcopy(dict(message))
    fields = {"grant_id": grant_id, "reason": reason, "error": error}
    return envelope("message.send_failed", obj, source=SEND_SOURCE, at=at, data_fields=fields)


def _addresses(message: Mapping[str, Any], key: str) -> list[str]:
    return [str(p["email"]) for p in message.get(key) or [] if p.get("email")]


def rfc2822(moment: int) -> str:
    """A unix time as the date strings of a bounce (``Wed, 25 Jan 2023 10:18:39 -0000``)."""
    return email.utils.formatdate(moment)


def message_bounce_detected(
    message: Mapping[str, Any],
    *,
    bounced_address: str,
    reason: str = "550 5.1.1 The email account that you tried to reach does not exist.",
    bounce_type: str = "mailbox_unavailable",
    code: str = "550",
    at: int | None = None,
) -> dict[str, Any]:
    """``message.bounce_detected``: Nylas found a non-delivery report for a message it sent.

    Source of the shape: Nylas's reference page
    https://developer.nylas.com/docs/reference/notifications/messages/message-bounce_detected/
    (read through the docs search, and as api-evangelist/nylas
    ``json-schema/nylas-message-bounce-detected.schema.json``, generated from Nylas's own
    notification-schemas.json). ``data.grant_id`` sits beside ``data.object``; the object has
    ``bounce_reason``, ``bounce_date`` (an RFC 2822 string, not unix seconds),
    ``bounced_addresses`` (one address, a string, despite the plural; the Elixir SDK calls it
    ``bounced_address``), ``type``, ``code`` (a string, ``"550"``), ``grant_id``, ``origin`` (the
    bounced message: ``to``/``cc``/``bcc`` as lists of address strings, ``from`` as one string,
    ``subject``, ``mime_id``, the provider's ``id``, ``original_send_at``) and ``message_id``,
    the Nylas id of the bounced message. It has no ``id`` of its own.
    """
    moment = int(time.time()) if at is None else at
    grant_id = message.get("grant_id")
    senders = _addresses(message, "from")
    sent_at = message.get("date")
    origin = {
        "to": _addresses(message, "to"),
        "from": senders[0] if senders else "",
        "cc": _addresses(message, "cc"),
        "bcc": _addresses(message, "bcc"),
        "subject": message.get("subject") or "",
        "mime_id": f"{message.get('id')}@mail.crmsync-sim.example",
        "id": message.get("id"),
        "original_send_at": rfc2822(int(sent_at)) if sent_at is not None else None,
    }
    obj = {
        "bounce_reason": reason,
        "bounce_date": rfc2822(moment),
        "bounced_addresses": bounced_address,
        "type": bounce_type,
        "code": code,
        "grant_id": grant_id,
        "origin": origin,
        "message_id": message.get("id"),
    }
    return envelope(
        "message.bounce_detected",
        obj,
        source=SEND_SOURCE,
        at=moment,
        data_fields={"grant_id": grant_id},
    )


def v2_delta(
    delivered_type: str,
    account_id: str,
    object_id: str,
    *,
    date: int | None = None,
    attributes: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One v2 delta: ids only (NYLAS.md 2). The object is the type's first segment;
    ``attributes`` and ``metadata`` are null except for message deltas."""
    obj = delivered_type.split(".", 1)[0]
    return {
        "date": int(time.time()) if date is None else date,
        "object": obj,
        "type": delivered_type,
        "object_data": {
            "namespace_id": account_id,
            "account_id": account_id,
            "object": obj,
            "id": object_id,
            "attributes": None if attributes is None else copy.deepcopy(dict(attributes)),
            "metadata": None if metadata is None else copy.deepcopy(dict(metadata)),
        },
    }


def v2_message_delta(
    account_id: str, message_id: str, *, date: int | None = None
) -> dict[str, Any]:
    """One v2 delta for a created message, with the thread in ``attributes``."""
    attributes = {"thread_id": uuid.uuid4().hex[:16], "received_date": int(time.time())}
    return v2_delta("message.created", account_id, message_id, date=date, attributes=attributes)


def v2_event_delta(notification: Mapping[str, Any]) -> dict[str, Any]:
    """The v2 delta telling of the same change as a v3 ``event.*`` notification: its type,
    its time as ``date``, and the event's id and account, nothing of the event itself."""
    event = notification["data"]["object"]
    return v2_delta(notification["type"], event["grant_id"], event["id"], date=notification["time"])


def v2_body(*deltas: dict[str, Any]) -> dict[str, Any]:
    """A v2 notification body carrying ``deltas``."""
    return {"deltas": list(deltas)}
