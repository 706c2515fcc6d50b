"""Outbound webhooks to CRM subscribers (rule S3), as pure rules: signing, retry schedule,
what an answer means, when a failing endpoint is disabled, and what a subscription is.

Signing follows the Standard Webhooks specification: the secret is ``whsec_`` + base64 of
random bytes; ``webhook-signature`` is ``v1,`` + base64(HMAC-SHA256(secret, "id.timestamp.body")),
several space-separated while a rotated secret overlaps the new one.

The retry schedule is Svix's (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: eight attempts over a
day and a bit), stretched when the endpoint asks for more with ``Retry-After``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from domain.errors import DomainError
from domain.inputs import read_model
from domain.outbound_addresses import IPNetwork
from domain.outbound_urls import InvalidUrl, parse_target, refuse_unreachable

SECRET_PREFIX = "whsec_"  # noqa: S105  (the Standard Webhooks prefix, not a secret)
SECRET_BYTES = 24
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_RETRY_AFTER = timedelta(hours=24)
MAX_DESCRIPTION_LENGTH = 500
MAX_EVENT_TYPES = 50
# A change type has at most this many characters (changes.type holds no more, the feed's
# filter allows no more): a longer event type could never match a change.
MAX_EVENT_TYPE_LENGTH = 64


class InvalidSubscription(DomainError):
    """Raised when a subscription sent by the CRM cannot be stored as one."""


class Verdict(StrEnum):
    """What an endpoint's answer to a delivery means."""

    DELIVERED = "delivered"  # 2xx
    RETRY = "retry"  # no answer, 408, 429, 5xx: try again later
    REJECTED = "rejected"  # any other status: the endpoint refuses; retrying cannot help


def secret_from(random_bytes: bytes) -> str:
    """A subscription secret in the Standard Webhooks form, from ``random_bytes``."""
    return SECRET_PREFIX + base64.b64encode(random_bytes).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature of ``body`` sent as ``message_id`` at ``timestamp``."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> str:
    """``webhook-signature``: one signature per secret in use (two during a rotation)."""
    return " ".join(sign(secret, message_id, timestamp, body) for secret in secrets)


def secrets_in_use(
    current: str, previous: str | None, previous_until: datetime | None, now: datetime
) -> tuple[str, ...]:
    """The secrets to sign with now: the current one, and the previous while it overlaps."""
    if previous is not None and previous_until is not None and now < previous_until:
        return (current, previous)
    return (current,)


def verdict_of(status: int | None) -> Verdict:
    """What an answer with ``status`` (None: no answer at all) means for the delivery."""
    if status is not None and 200 <= status < 300:
        return Verdict.DELIVERED
    if status is None or status in (408, 429) or status >= 500:
        return Verdict.RETRY
    return Verdict.REJECTED


def next_retry(
    attempts: int,
    retry_after: timedelta | None = None,
    schedule: Sequence[timedelta] = RETRY_SCHEDULE,
) -> timedelta | None:
    """How long to wait after failed attempt number ``attempts`` (from 1); None when spent.

    A ``Retry-After`` longer than the schedule's wait is honoured, up to a day.
    """
    if attempts > len(schedule):
        return None
    wait = schedule[attempts - 1]
    if retry_after is not None:
        wait = max(wait, min(retry_after, MAX_RETRY_AFTER))
    return wait


def should_disable(failing_since: datetime | None, now: datetime, disable_after: timedelta) -> bool:
    """Whether an endpoint failing without a success since ``failing_since`` is disabled."""
    return failing_since is not None and now - failing_since >= disable_after


@dataclass(frozen=True, slots=True)
class SubscriptionDocument:
    """What the CRM sets on a subscription; None leaves a field as it is (on update)."""

    url: str | None
    event_types: tuple[str, ...] | None
    description: str | None
    enabled: bool | None


def _change_type(value: str) -> str:
    name = value[:-2] if value.endswith(".*") else value
    if not name or not all(c.isalnum() or c in "._" for c in name):
        raise ValueError("must be a change type (email.stored) or a family (email.*)")
    return value


class SubscriptionInput(BaseModel):
    """A subscription as the CRM sets it; on an update, what is left out (or null) stays as
    it is."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "url": "https://crm.example/hooks/crmsync",
                    "event_types": ["email.*", "contact.removed"],
                    "description": "CRM production",
                }
            ]
        },
    )

    url: str | None = Field(
        None,
        json_schema_extra={"format": "uri"},
        description="http(s) endpoint on a public address (required to create)",
    )
    event_types: (
        list[Annotated[str, Field(max_length=MAX_EVENT_TYPE_LENGTH), AfterValidator(_change_type)]]
        | None
    ) = Field(
        None,
        max_length=MAX_EVENT_TYPES,
        fail_fast=True,
        description="change types or families (email.*); empty or left out: every change",
    )
    description: str | None = Field(None, max_length=MAX_DESCRIPTION_LENGTH)
    status: Literal["active", "disabled"] | None = Field(
        None, description="disabled: no deliveries; active re-enables one disabled"
    )


def parse_subscription(
    document: object, *, creating: bool, allowed_networks: Sequence[IPNetwork] = ()
) -> SubscriptionDocument:
    """Read a subscription from the CRM: its shape by :class:`SubscriptionInput`, then its
    URL's rules.

    A URL naming an address deliveries may not reach (not public, not in
    ``allowed_networks``) is refused here, for fast feedback; the delivery client checks
    again, after resolving names, at every attempt.

    Raises:
        InvalidInput: not that shape (``invalid_subscription``, or ``unknown_field``).
        InvalidSubscription: no URL on create, or one not valid (``invalid_subscription``),
            or the URL points where deliveries may not go (``url_not_allowed``).
    """
    given = read_model(SubscriptionInput, document, "invalid_subscription")
    url = _url(given.url, required=creating, allowed_networks=allowed_networks)
    event_types = tuple(dict.fromkeys(given.event_types)) if given.event_types is not None else None
    enabled = None if given.status is None else given.status == "active"
    return SubscriptionDocument(url, event_types, given.description, enabled)


def matches_types(change_type: str, event_types: Sequence[str]) -> bool:
    """Whether a change of ``change_type`` goes to a subscription to ``event_types`` (empty:
    every change; ``email.*``: a family)."""
    if not event_types:
        return True
    return any(
        change_type.startswith(t[:-1]) if t.endswith(".*") else change_type == t
        for t in event_types
    )


def _url(value: Any, *, required: bool, allowed_networks: Sequence[IPNetwork]) -> str | None:
    if value is None and not required:
        return None
    try:
        refuse_unreachable(parse_target(value), allowed_networks)
    except InvalidUrl as error:
        reason = "url_not_allowed" if error.reason == "url_not_allowed" else "invalid_subscription"
        raise InvalidSubscription(reason, error.message) from error
    assert isinstance(value, str)
    return value
