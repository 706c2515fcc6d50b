"""The change feed and the webhooks that carry it (S2, S3), as the API answers them."""

from __future__ import annotations

from typing import Annotated, NotRequired

from pydantic import Field
from typing_extensions import TypedDict

from domain.answers.words import (
    ChangeOperation,
    CursorText,
    DeliveryOutcome,
    NextCursor,
    SubscriptionStatus,
    Timestamp,
)


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


class SubscriptionList(TypedDict):
    data: list[Subscription]


class DeliveryAttempt(TypedDict):
    attempt: int
    at: Timestamp
    status_code: Annotated[int | None, Field(description="null: no answer (timeout, refused)")]
    latency_ms: int | None
    error: str | None


class Delivery(TypedDict):
    """One change's delivery to a subscription, with every attempt."""

    id: int
    change_id: str
    type: str
    state: DeliveryOutcome
    attempts: list[DeliveryAttempt]
    next_attempt_at: Timestamp | None
    delivered_at: Timestamp | None


class DeliveryPage(TypedDict):
    data: list[Delivery]
    next_cursor: NextCursor
