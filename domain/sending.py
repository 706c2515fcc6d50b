"""Emails the CRM sends through a rep's mailbox (E9): the request, and where delivery stands.

The CRM names each send with its own key, so a retried request never sends twice; the key
also travels in the message's metadata, so the copy Nylas later reports from the Sent folder
is recognised as the same email. The lead or contact reference the CRM gives is kept on the
email and sent as metadata too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from domain.addresses import InvalidAddress, require_address
from domain.errors import DomainError
from domain.messages import Participant

MAX_RECIPIENTS = 100
MAX_SUBJECT = 998  # RFC 5322's line limit
MAX_BODY_BYTES = 3 * 1024 * 1024  # above this the SDK switches to multipart, which we do not send
REFERENCE_KEYS = ("lead_id", "contact_id", "account_ref")
_SEND_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class InvalidSend(DomainError):
    """Raised when a send request cannot be sent as it is."""


class DeliveryState(StrEnum):
    QUEUED = "queued"  # stored, waiting to be handed to Nylas
    SENT = "sent"  # Nylas accepted it
    FAILED = "failed"  # Nylas refused it, or reported the send failed
    BOUNCED = "bounced"  # a recipient's server sent it back


class DeliveryEvent(StrEnum):
    ACCEPTED = "accepted"  # the send call returned the message
    REFUSED = "refused"  # the send call was refused (4xx)
    SEND_SUCCESS = "send_success"  # message.send_success
    SEND_FAILED = "send_failed"  # message.send_failed
    BOUNCED = "bounced"  # message.bounce_detected


_NEXT: dict[DeliveryEvent, dict[DeliveryState, DeliveryState]] = {
    DeliveryEvent.ACCEPTED: {DeliveryState.QUEUED: DeliveryState.SENT},
    DeliveryEvent.REFUSED: {DeliveryState.QUEUED: DeliveryState.FAILED},
    DeliveryEvent.SEND_SUCCESS: {DeliveryState.QUEUED: DeliveryState.SENT},
    DeliveryEvent.SEND_FAILED: {
        DeliveryState.QUEUED: DeliveryState.FAILED,
        DeliveryState.SENT: DeliveryState.FAILED,
    },
    # A bounce is the last word, whatever was reported before it.
    DeliveryEvent.BOUNCED: {state: DeliveryState.BOUNCED for state in DeliveryState},
}


def next_delivery_state(current: str | None, event: DeliveryEvent) -> DeliveryState | None:
    """The delivery state after ``event``; None when the event does not apply (an email
    that was not sent by the CRM, or a late success after a bounce)."""
    if current is None:
        return None
    try:
        state = DeliveryState(current)
    except ValueError:
        return None
    return _NEXT[event].get(state)


@dataclass(frozen=True, slots=True)
class SendRequest:
    """What the CRM asked to send."""

    send_key: str
    to: tuple[Participant, ...]
    cc: tuple[Participant, ...]
    bcc: tuple[Participant, ...]
    subject: str
    body: str
    reply_to_message_id: str | None
    reference: dict[str, str]

    def metadata(self) -> dict[str, str]:
        """The CRM's reference as message metadata (the Nylas client adds the send key)."""
        return {f"crm_{key}": value for key, value in self.reference.items()}

    def matching_addresses(self) -> frozenset[str]:
        """To and CC tie the email to contacts; BCC does not (E2)."""
        return frozenset(p.email for p in (*self.to, *self.cc))


def parse_send_request(document: object) -> SendRequest:
    """Read and check a send request.

    Raises:
        InvalidSend: naming the first field that is wrong.
    """
    if not isinstance(document, Mapping):
        raise InvalidSend("invalid_send", "send a JSON object")
    send_key = document.get("send_key")
    if not isinstance(send_key, str) or not _SEND_KEY.match(send_key):
        raise InvalidSend(
            "invalid_send_key",
            "'send_key' is required: 1 to 64 letters, digits, '.', '_', ':' or '-', "
            "unique per rep (a retry with the same key never sends twice)",
        )
    to, cc, bcc = (_recipients(document, key) for key in ("to", "cc", "bcc"))
    if not to and not cc and not bcc:
        raise InvalidSend("no_recipient", "give at least one address in 'to', 'cc' or 'bcc'")
    if len(to) + len(cc) + len(bcc) > MAX_RECIPIENTS:
        raise InvalidSend("too_many_recipients", f"at most {MAX_RECIPIENTS} recipients")
    subject = _text(document, "subject", required=True)
    assert subject is not None
    if len(subject) > MAX_SUBJECT or "\n" in subject or "\r" in subject:
        raise InvalidSend("invalid_subject", "'subject' must be one line of at most 998 characters")
    body = _text(document, "body", required=True)
    assert body is not None
    if len(body.encode()) > MAX_BODY_BYTES:
        raise InvalidSend("body_too_large", "'body' must be under 3 MiB")
    return SendRequest(
        send_key=send_key,
        to=to,
        cc=cc,
        bcc=bcc,
        subject=subject,
        body=body,
        reply_to_message_id=_text(document, "reply_to_message_id", required=False),
        reference=_reference(document.get("reference")),
    )


def _recipients(document: Mapping[str, Any], key: str) -> tuple[Participant, ...]:
    value = document.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidSend(f"invalid_{key}", f"'{key}' must be a list of {{email, name}}")
    found: list[Participant] = []
    for entry in value:
        raw = entry.get("email") if isinstance(entry, Mapping) else entry
        name = entry.get("name") if isinstance(entry, Mapping) else None
        try:
            if not isinstance(raw, str):
                raise InvalidAddress("invalid_address", "not a string")
            address = require_address(raw)
        except InvalidAddress:
            raise InvalidSend(f"invalid_{key}", f"'{key}' holds an invalid address") from None
        if name is not None and not isinstance(name, str):
            raise InvalidSend(f"invalid_{key}", f"a name in '{key}' must be a string")
        found.append(Participant(email=address, name=name or None))
    return tuple(found)


def _text(document: Mapping[str, Any], key: str, *, required: bool) -> str | None:
    value = document.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and key == "subject" and not value.strip()):
        raise InvalidSend(f"invalid_{key}", f"'{key}' must be a string")
    return value


def _reference(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not set(value) <= set(REFERENCE_KEYS):
        raise InvalidSend(
            "invalid_reference", f"'reference' may hold {', '.join(REFERENCE_KEYS)} only"
        )
    reference: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(item, str) or not 0 < len(item) <= 255:
            raise InvalidSend("invalid_reference", f"reference '{key}' must be a short string")
        reference[key] = item
    return reference


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What a send notification says about which message, and why."""

    event: DeliveryEvent
    message_id: str | None
    metadata: Mapping[str, str]
    error: str | None


_REPORT_EVENTS = {
    "message.send_success": DeliveryEvent.SEND_SUCCESS,
    "message.send_failed": DeliveryEvent.SEND_FAILED,
    "message.bounce_detected": DeliveryEvent.BOUNCED,
}


def delivery_report(trigger: str, data: Mapping[str, Any]) -> DeliveryReport | None:
    """Read ``message.send_success|send_failed|bounce_detected`` (NYLAS.md 1.3).

    A bounce's object is the bounce, naming the message in ``message_id`` (it has no ``id``);
    a failed send's object is the message, or null when Nylas could not build one, with the
    reason beside it in ``data``.
    """
    event = _REPORT_EVENTS.get(trigger)
    if event is None:
        return None
    obj = data.get("object")
    obj = obj if isinstance(obj, Mapping) else {}
    error: str | None = None
    if event is DeliveryEvent.BOUNCED:
        message_id = obj.get("message_id")
        address = obj.get("bounced_addresses")
        reason = obj.get("bounce_reason")
        error = f"bounced by {address}: {reason}" if address else str(reason or "bounced")
    else:
        message_id = obj.get("id")
        if event is DeliveryEvent.SEND_FAILED:
            error = str(data.get("reason") or "the send failed")
    metadata = obj.get("metadata")
    return DeliveryReport(
        event=event,
        message_id=message_id if isinstance(message_id, str) and message_id else None,
        metadata=(
            {k: v for k, v in metadata.items() if isinstance(v, str)}
            if isinstance(metadata, Mapping)
            else {}
        ),
        error=error,
    )
