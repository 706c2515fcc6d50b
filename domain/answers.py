"""What the CRM API answers, as typed shapes: the one description of each answer.

Each shape is a ``TypedDict``: the function that builds an answer (``Rep.to_json``,
``storage.emails.email_json``...) is declared to return it, so mypy checks that every key
is there with its type, at no cost when the API answers; ``api.openapi`` writes the
answer's schema from the same class (pydantic reads TypedDicts). A key marked
``NotRequired`` is left out in some answers; a ``| None`` key is always there and may be
null. A CRM may meet keys that are not described yet: new keys are added, never taken away.
"""

from __future__ import annotations

from typing import Annotated, Literal, NotRequired

from pydantic import ConfigDict, Field, WithJsonSchema, with_config
from typing_extensions import TypedDict

# An instant as the API writes it: RFC 3339, UTC, whole seconds (2026-11-01T09:30:00Z).
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
CursorText = Annotated[str, Field(description="opaque; pass back as given")]


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


HeaderRoleName = Literal["from", "to", "cc"]
EmailSource = Literal["synced", "system"]
SubscriptionStatus = Literal["active", "disabled"]
ChangeOperation = Literal["create", "update", "delete"]
DeliveryStateName = Literal["queued", "sent", "failed", "bounced"]


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
        json_schema_extra={
            "description": "An email of a rep with its own contacts, as stored.",
            "examples": [
                {
                    "id": 4711,
                    "rep_id": "rep-ann",
                    "message_id": "18c2f0a9b3d4e5f6",
                    "grant_id": "0e8f1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
                    "thread_id": "18c2f0a9b3d4e000",
                    "source": "synced",
                    "subject": "Re: the renewal",
                    "snippet": "Thanks Ann, see you Monday",
                    "from": [{"email": "dana@acme.example", "name": "Dana"}],
                    "to": [{"email": "ann@crm-customer.example", "name": None}],
                    "cc": [],
                    "bcc": [],
                    "date": "2026-11-20T08:30:00Z",
                    "folders": ["INBOX"],
                    "folder_ids": ["INBOX"],
                    "unread": True,
                    "starred": False,
                    "attachments": [],
                    "contacts": [
                        {"id": "c-1", "account_ref": "A-9", "lead_ref": None, "roles": ["from"]}
                    ],
                    "hidden": False,
                    "mailbox_deleted": False,
                    "delivery": None,
                    "version": 1,
                    "created_at": "2026-11-20T08:30:02Z",
                    "updated_at": "2026-11-20T08:30:02Z",
                }
            ],
        }
    )
)(Email)


class RepSettings(TypedDict):
    email_sync: bool
    folders: list[str]
    calendar_sync: bool
    calendar_name: str | None
    calendar_days_after: int
    sync_from: Timestamp


class AccountStatus(TypedDict):
    """The rep's mailbox connection, explained for the person who can fix it."""

    status: Annotated[
        str,
        Field(
            description="initializing, downloading, running, valid, partial, invalid, "
            "invalid-credentials, sync-error, exception or stopped (more may come)"
        ),
    ]
    meaning: str | None
    next_action: str | None
    since: Timestamp | None
    connected_at: Timestamp | None
    last_activity_at: Timestamp | None
    silent: NotRequired[
        Annotated[
            bool,
            Field(
                description="healthy, but not heard from for CRMSYNC_SILENCE_AFTER_HOURS "
                "(not in changes)"
            ),
        ]
    ]


class Rep(TypedDict):
    """A rep, its mailbox and its settings (E1)."""

    id: str
    email: str
    grant_id: str | None
    provider: str | None
    settings: RepSettings
    account_status: AccountStatus


class Contact(TypedDict):
    """One of a rep's own contacts ("My Contacts")."""

    id: str
    rep_id: str
    name: str | None
    emails: Annotated[list[str], Field(description="normalised, sorted")]
    account_ref: str | None
    lead_ref: str | None


class ContactsReplaced(TypedDict):
    """What a bulk replace changed; only the differences were written."""

    rep_id: str
    added: int
    updated: int
    removed: int
    unchanged: int


class Change(TypedDict):
    """One change of the feed (S2), as the feed, the stream and webhooks carry it."""

    id: str
    seq: int
    type: Annotated[str, Field(description="entity.event, e.g. email.stored")]
    entity: str
    entity_id: str
    rep_id: str | None
    operation: ChangeOperation
    entity_version: int
    created_at: Timestamp
    cursor: Annotated[CursorText, Field(description="the cursor just after this change")]
    payload: Annotated[
        dict[str, object], Field(description="the entity as it was after the change")
    ]


class ChangePage(TypedDict):
    data: list[Change]
    next_cursor: CursorText
    has_more: bool


class Cursor(TypedDict):
    """A position in the feed, to follow it from."""

    cursor: CursorText
    at: NotRequired[Timestamp]


class Subscription(TypedDict):
    """An endpoint the CRM subscribed; deliveries are signed (Standard Webhooks)."""

    id: str
    url: str
    event_types: list[str]
    description: str | None
    status: SubscriptionStatus
    disabled_reason: str | None
    disabled_at: Timestamp | None
    failing_since: Timestamp | None
    previous_secret_until: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp
    secret: NotRequired[
        Annotated[str, Field(description="whsec_...; only when just created or rotated")]
    ]
