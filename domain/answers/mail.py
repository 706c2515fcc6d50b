"""An email as the API answers it, with its people, attachments, contacts and delivery."""

from __future__ import annotations

from typing import Annotated, NotRequired

from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict

from domain.answers.words import (
    DeliveryStateName,
    EmailSource,
    HeaderRoleName,
    NextCursor,
    Timestamp,
)


class EmailAddress(TypedDict):
    """A sender or recipient as the message names them."""

    email: str
    name: str | None


class Attachment(TypedDict):
    """What crmsync keeps of an attachment: its metadata, never its content (E6)."""

    id: str | None
    filename: str | None
    content_type: str | None
    size: int | None
    is_inline: bool


class EmailContact(TypedDict):
    """One of the rep's contacts the email touches, and through which headers (E2)."""

    id: str
    account_ref: str | None
    lead_ref: str | None
    roles: list[HeaderRoleName]


class EmailDelivery(TypedDict):
    """Where an email the CRM sent through crmsync stands (E9)."""

    state: DeliveryStateName
    error: str | None
    send_key: str
    reference: dict[str, str]


# "from" is a Python keyword, so Email is declared by the functional syntax.
Email = TypedDict(
    "Email",
    {
        "id": int,
        "rep_id": str,
        "message_id": Annotated[
            str | None,
            Field(description="null only for a sent email Nylas has not accepted yet"),
        ],
        "grant_id": str | None,
        "thread_id": str | None,
        "source": EmailSource,
        "subject": str,
        "snippet": str,
        "from": list[EmailAddress],
        "to": list[EmailAddress],
        "cc": list[EmailAddress],
        "bcc": list[EmailAddress],
        "date": Timestamp,
        "folders": Annotated[list[str], Field(description="the folders' names")],
        "folder_ids": list[str],
        "unread": bool | None,
        "starred": bool | None,
        "attachments": list[Attachment],
        "contacts": list[EmailContact],
        "hidden": Annotated[bool, Field(description="hidden in the CRM (E7)")],
        "mailbox_deleted": Annotated[
            bool, Field(description="deleted in the mailbox since it was stored (E7)")
        ],
        "delivery": Annotated[
            EmailDelivery | None,
            Field(description="for emails the CRM sent through crmsync; null otherwise"),
        ],
        "version": int,
        "created_at": Timestamp,
        "updated_at": Timestamp,
        "body": NotRequired[
            Annotated[str | None, Field(description="only when one email is read or sent")]
        ],
    },
)
with_config(
    ConfigDict(
        json_schema_extra={"description": "An email of a rep with its own contacts, as stored."}
    )
)(Email)


class EmailPage(TypedDict):
    data: list[Email]
    next_cursor: NextCursor
