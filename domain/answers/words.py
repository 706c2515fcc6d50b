"""The words of the answers: how a time and a cursor are written, and the closed sets of
values a field takes."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, WithJsonSchema

# An instant as the API writes it: RFC 3339, UTC, whole seconds (2026-11-01T09:30:00Z).
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
CursorText = Annotated[str, Field(description="opaque; pass back as given")]
NextCursor = Annotated[
    str | None, Field(description="pass as cursor for the next page; null: no more")
]

HeaderRoleName = Literal["from", "to", "cc"]
EmailSource = Literal["synced", "system"]
SubscriptionStatus = Literal["active", "disabled"]
ChangeOperation = Literal["create", "update", "delete"]
DeliveryStateName = Literal["queued", "sent", "failed", "bounced"]
BackfillKindName = Literal["mailbox", "contact"]
BackfillStateName = Literal["pending", "running", "done", "failed", "cancelled"]
ActionItemSide = Literal["crm", "calendar"]
CalendarSyncStatus = Literal[
    "linked", "pending_push", "push_failed", "unlinked", "not_synced", "pending_delete", "deleted"
]
DeliveryOutcome = Literal["pending", "delivered", "failed", "exhausted", "cancelled"]
