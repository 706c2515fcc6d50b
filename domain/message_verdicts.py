"""The decision for one Nylas message and one rep, from what crmsync recorded about it.

The answer to "why is this email (not) in the CRM?" is, in order: the stored email if there
is one (hidden in the CRM, marked deleted from the mailbox, or simply stored); else the
outcome of the latest message notification that decided it (``message.created`` or
``message.updated``, by when it was handled, since a reprocess decides it again); else the
latest notification of any kind about it; else that crmsync never saw it, with what may
have covered it (the rep's sync-from, its latest mailbox backfill) and why there may be no
record (backfills do not record an outcome per message; stored notifications are pruned).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.errors import DomainError
from domain.outcome_words import (
    HIDDEN,
    MAILBOX_DELETED,
    NEVER_SEEN,
    STORED,
    Explanation,
    outcome_word,
)
from domain.outcomes import explain_outcome
from domain.text import id_problem
from domain.times import format_time

# Nylas message ids are opaque but short (Gmail's 16 hex digits, Microsoft's ~150
# characters); raw_notifications.object_id and emails.message_id hold 1,024.
MAX_MESSAGE_ID_LENGTH = 1024

# The triggers whose handling decides whether a message becomes an email (E2, E4).
DECIDING_TRIGGERS = frozenset({"message.created", "message.updated"})


class InvalidMessageId(DomainError):
    """Raised when a message id given by the CRM or an operator cannot be a Nylas one."""


def validate_message_id(message_id: str) -> str:
    """A Nylas message id as given: 1 to 1,024 characters, no outer spaces, no control
    character or bidirectional override.

    Raises:
        InvalidMessageId: ``invalid_message_id``, saying why.
    """
    problem = id_problem(message_id)
    if (
        problem is None
        and message_id
        and len(message_id) <= MAX_MESSAGE_ID_LENGTH
        and message_id == message_id.strip()
    ):
        return message_id
    raise InvalidMessageId(
        "invalid_message_id",
        f"a message id is 1 to {MAX_MESSAGE_ID_LENGTH} characters, no outer spaces"
        + (f"; this one {problem}" if problem else ""),
    )


@dataclass(frozen=True, slots=True)
class SeenNotification:
    """A stored notification about the message, as far as the decision needs it."""

    notification_id: str
    trigger: str
    state: str
    outcome: str | None
    received_at: datetime
    handled_at: datetime | None

    @property
    def word(self) -> str:
        return outcome_word(self.state, self.outcome)

    @property
    def decided_at(self) -> datetime:
        return self.handled_at or self.received_at


@dataclass(frozen=True, slots=True)
class StoredEmail:
    """The rep's stored email of the message: whether the CRM hid it, whether it left the
    mailbox."""

    hidden: bool
    mailbox_deleted: bool


@dataclass(frozen=True, slots=True)
class MailboxBackfill:
    """The rep's latest mailbox backfill: its state and the message dates it reads."""

    state: str
    since: datetime
    until: datetime


@dataclass(frozen=True, slots=True)
class RepFacts:
    """What of the rep bears on a message never seen."""

    has_mailbox: bool
    email_sync_enabled: bool
    sync_from: datetime
    backfill: MailboxBackfill | None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The decision: its explanation, the notification that decided it (if one did), and
    notes that complete it for this message."""

    explanation: Explanation
    decided_by: str | None = None
    notes: tuple[str, ...] = ()


def decide_verdict(
    stored: StoredEmail | None, seen: Sequence[SeenNotification], rep: RepFacts
) -> Verdict:
    """The decision for a message of the rep (see the module docstring for the order)."""
    if stored is not None:
        if stored.hidden:
            return Verdict(explain_outcome(HIDDEN))
        if stored.mailbox_deleted:
            return Verdict(explain_outcome(MAILBOX_DELETED))
        return Verdict(explain_outcome(STORED))
    deciding = [n for n in seen if n.trigger in DECIDING_TRIGGERS] or list(seen)
    if deciding:
        latest = max(deciding, key=lambda n: (n.decided_at, n.received_at))
        return Verdict(explain_outcome(latest.word), latest.notification_id)
    return Verdict(explain_outcome(NEVER_SEEN), notes=never_seen_notes(rep))


def never_seen_notes(rep: RepFacts) -> tuple[str, ...]:
    """What may explain that crmsync has no record of a message, for this rep."""
    notes: list[str] = []
    if not rep.has_mailbox:
        notes.append("The rep has no mailbox connected: no notification can reach it.")
    if not rep.email_sync_enabled:
        notes.append("Email sync is off for the rep: its mailbox is not read.")
    notes.append(
        f"The rep's sync window starts at {format_time(rep.sync_from)}; a message dated "
        "before it is never stored."
    )
    backfill = rep.backfill
    if backfill is None:
        notes.append("No mailbox backfill is recorded for the rep.")
    else:
        notes.append(
            f"The latest mailbox backfill ({backfill.state}) reads mail dated from "
            f"{format_time(backfill.since)} to {format_time(backfill.until)}; a message it "
            "read and did not store leaves no record (backfills record no outcome per "
            "message)."
        )
    notes.append(
        "Stored notifications are kept for CRMSYNC_RAW_NOTIFICATION_RETENTION_DAYS (30 days "
        "by default): an older one is pruned."
    )
    return tuple(notes)
