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
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from domain.addresses import InvalidAddress, require_address
from domain.errors import DomainError
from domain.inputs import NonBlank, read_model
from domain.messages import Participant

MAX_RECIPIENTS = 100
MAX_SUBJECT = 998  # RFC 5322's line limit
MAX_BODY_BYTES = 3 * 1024 * 1024  # above this the SDK switches to multipart, which we do not send
MAX_REFERENCE_LENGTH = 255
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


def _address(value: str) -> str:
    try:
        return require_address(value)
    except InvalidAddress as error:
        raise ValueError(error.message) from None


def _as_recipient(value: object) -> object:
    """A recipient may be written as its address alone."""
    return {"email": value} if isinstance(value, str) else value


def _one_line(value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError("must be one line")
    return value


class RecipientInput(BaseModel):
    """One recipient: an address and the name to show (or its address alone, as text)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    email: Annotated[str, AfterValidator(_address)]
    name: str | None = Field(None, max_length=MAX_SUBJECT)


Recipient = Annotated[RecipientInput, BeforeValidator(_as_recipient)]
Reference = Annotated[str, Field(min_length=1, max_length=MAX_REFERENCE_LENGTH)]


class ReferenceInput(BaseModel):
    """What the email is about in the CRM: kept on the email, sent as its metadata."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lead_id: Reference | None = None
    contact_id: Reference | None = None
    account_ref: Reference | None = None


class SendInput(BaseModel):
    """The body of POST /v1/reps/{rep_id}/emails: what to send, and the CRM's key for it."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "send_key": "crm-send-8841",
                    "to": [{"email": "carl@client.example", "name": "Carl"}],
                    "subject": "Your quote",
                    "body": "<p>Hi Carl, the quote is attached.</p>",
                    "reference": {"lead_id": "L-1"},
                }
            ]
        },
    )

    send_key: str = Field(
        pattern=_SEND_KEY.pattern,
        description="the CRM's id for this send, unique per rep: a retry with the same key "
        "sends nothing more",
    )
    to: list[Recipient] = Field([], max_length=MAX_RECIPIENTS, fail_fast=True)
    cc: list[Recipient] = Field([], max_length=MAX_RECIPIENTS, fail_fast=True)
    bcc: list[Recipient] = Field(
        [], max_length=MAX_RECIPIENTS, fail_fast=True, description="never ties to contacts"
    )
    subject: Annotated[NonBlank, AfterValidator(_one_line)] = Field(max_length=MAX_SUBJECT)
    body: str = Field(description="HTML or plain text, under 3 MiB")
    reply_to_message_id: str | None = Field(None, max_length=MAX_REFERENCE_LENGTH * 4)
    reference: ReferenceInput | None = None


def parse_send_request(document: object) -> SendRequest:
    """Read a send request: its shape by :class:`SendInput`, then the rules of a send (a
    recipient at least, at most 100 in all, a body under 3 MiB).

    Raises:
        InvalidInput: not that shape; the reason names the field (``invalid_send_key``,
            ``invalid_to``...), or ``unknown_field``.
        InvalidSend: a rule of sending is broken.
    """
    if isinstance(document, Mapping):
        listed = [document.get(key) for key in ("to", "cc", "bcc")]
        if sum(len(value) for value in listed if isinstance(value, list)) > MAX_RECIPIENTS:
            raise InvalidSend("too_many_recipients", f"at most {MAX_RECIPIENTS} recipients")
    given = read_model(SendInput, document, "invalid_send", item_reason=_field_reason)
    to, cc, bcc = (
        tuple(_participant(r) for r in given_list) for given_list in (given.to, given.cc, given.bcc)
    )
    if not to and not cc and not bcc:
        raise InvalidSend("no_recipient", "give at least one address in 'to', 'cc' or 'bcc'")
    if len(given.body.encode()) > MAX_BODY_BYTES:
        raise InvalidSend("body_too_large", "'body' must be under 3 MiB")
    reference = given.reference.model_dump(exclude_none=True) if given.reference else {}
    return SendRequest(
        send_key=given.send_key,
        to=to,
        cc=cc,
        bcc=bcc,
        subject=given.subject,
        body=given.body,
        reply_to_message_id=given.reply_to_message_id,
        reference=reference,
    )


def _participant(recipient: RecipientInput) -> Participant:
    return Participant(email=recipient.email, name=recipient.name or None)


def _field_reason(path: str) -> str | None:
    """A wrong field is named in the reason (``invalid_to`` for ``to[2].email``), as a CRM
    handles each differently; the body itself wrong is ``invalid_send``."""
    field = path.split(".")[0].split("[")[0]
    return f"invalid_{field}" if field else None


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
