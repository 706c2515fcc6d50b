"""Why a message is or is not in the CRM, and the notifications that decided it, as the API
answers them (``crmsync explain`` prints the same)."""

from __future__ import annotations

from typing import Annotated, Literal, NotRequired

from pydantic import Field
from typing_extensions import TypedDict

from domain.answers.mail import Email
from domain.answers.words import NextCursor, Timestamp


class Explanation(TypedDict):
    """An outcome, the rule that decided it, and what would change it."""

    outcome: Annotated[
        str,
        Field(
            description="the outcome in a word (stored, no_contact, folder_not_synced, "
            "folder_pending, before_sync_from, email_sync_off, hidden, never_seen, failed, ...)"
        ),
    ]
    rule: Annotated[str, Field(description="the rule that decided (E2 folder, ...)")]
    sentence: str
    would_change: str


class Notification(TypedDict):
    """A notification Nylas sent, as stored, its outcome explained."""

    id: int
    notification_id: str
    api_version: Literal["v3", "v2"]
    type: str
    trigger: str
    grant_id: str | None
    object_id: Annotated[
        str | None,
        Field(description="what it is about: for a message notification, the message id"),
    ]
    occurred_at: Timestamp | None
    received_at: Timestamp
    handled_at: Timestamp | None
    state: str
    attempts: int
    last_error: str | None
    explanation: Explanation
    payload: NotRequired[
        Annotated[
            dict[str, object],
            Field(description="as Nylas sent it; only with include_payload=true"),
        ]
    ]


class NotificationPage(TypedDict):
    data: list[Notification]
    next_cursor: NextCursor


class Decision(Explanation):
    """The decision on a message: its explanation, which notification decided, and notes."""

    decided_by: Annotated[
        str | None, Field(description="the notification_id whose outcome decided")
    ]
    notes: list[str]


class ParkedMessage(TypedDict):
    """A message waiting for its folders (folder_pending, N2)."""

    parked_at: Timestamp
    decide_by: Annotated[Timestamp, Field(description="decided at the latest then")]
    folder_ids: list[str]
    unknown_folder_ids: Annotated[
        list[str], Field(description="its folder ids not yet known for the mailbox")
    ]


class MailboxBackfillSummary(TypedDict):
    state: str
    since: Timestamp
    until: Timestamp
    finished_at: Timestamp | None


class SyncBearing(TypedDict):
    """What of the rep's settings bears on the message."""

    email_sync: bool
    folders: list[str]
    sync_from: Timestamp
    mailbox_backfill: MailboxBackfillSummary | None


class MessageDecision(TypedDict):
    """Why a Nylas message is or is not in the CRM for a rep."""

    rep_id: str
    message_id: str
    decision: Decision
    grant_ids: list[str]
    notifications: list[Notification]
    notifications_omitted: Annotated[int, Field(ge=0)]
    email: Email | None
    parked: ParkedMessage | None
    sync: SyncBearing
