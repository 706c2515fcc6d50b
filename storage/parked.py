"""Messages parked on folders not yet known (N2): kept as Nylas described them, one per
(grant, message), until a folder change, a refresh or their deadline decides them.

Settling a parked message deletes it and gives its notifications, recorded ``folder_pending``
until then, the outcome of the decision: the answer to "why is this email (not) in the CRM?"
stays one read of the message's notifications.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, delete, func, tuple_, update
from sqlmodel import Session, col, select

from domain.email_rules import SkipReason
from domain.messages import MailMessage, message_to_wire, parse_message
from domain.parking import REQUEUE_AFTER, park_deadline
from storage.tables import ParkedMessageRow, RawNotification
from storage.upsert import insert_ignore_returning

_PARKED: Table = ParkedMessageRow.__table__  # type: ignore[attr-defined]
# At most this many grants' parked messages are queued for a decision per dispatcher pass.
QUEUE_BATCH = 500
# At most this many parked messages of one grant are decided in one transaction.
DECIDE_BATCH = 500


@dataclass(frozen=True, slots=True)
class ParkedMessage:
    """A message waiting for its folders, with when its state was observed and its deadline."""

    message: MailMessage
    observed_at: datetime
    parked_at: datetime
    deadline: datetime


def park_messages(
    session: Session,
    grant_id: str,
    messages: Sequence[tuple[MailMessage, datetime]],
    now: datetime,
    wait: timedelta,
) -> None:
    """Park each ``(message, observed_at)`` of the grant; a message parked already keeps its
    deadline (its wait is bounded from when it was first parked) and takes the newer state."""
    deadline = park_deadline(now, wait)
    by_id = {message.message_id: (message, observed) for message, observed in messages}
    inserted = set(
        insert_ignore_returning(
            session,
            _PARKED,
            [
                {
                    "grant_id": grant_id,
                    "message_id": message_id,
                    "message": message_to_wire(message),
                    "observed_at": observed,
                    "parked_at": now,
                    "deadline": deadline,
                    "next_look_at": deadline,
                }
                for message_id, (message, observed) in sorted(by_id.items())
            ],
            ["grant_id", "message_id"],
            returning="message_id",
        )
    )
    for message_id in sorted(by_id.keys() - inserted):
        message, observed = by_id[message_id]
        session.execute(
            update(ParkedMessageRow)
            .where(
                col(ParkedMessageRow.grant_id) == grant_id,
                col(ParkedMessageRow.message_id) == message_id,
                col(ParkedMessageRow.observed_at) < observed,
            )
            .values(message=message_to_wire(message), observed_at=observed)
        )


def parked_messages(
    session: Session, grant_id: str, limit: int = DECIDE_BATCH
) -> list[ParkedMessage]:
    """The grant's parked messages, those due first."""
    rows = session.exec(
        select(ParkedMessageRow)
        .where(col(ParkedMessageRow.grant_id) == grant_id)
        .order_by(col(ParkedMessageRow.deadline), col(ParkedMessageRow.id))
        .limit(limit)
    ).all()
    return [_parked(row) for row in rows]


def find_parked(session: Session, grant_id: str, message_id: str) -> ParkedMessage | None:
    """One parked message, or None when it is not (or no longer) parked."""
    row = session.exec(
        select(ParkedMessageRow).where(
            col(ParkedMessageRow.grant_id) == grant_id,
            col(ParkedMessageRow.message_id) == message_id,
        )
    ).first()
    if row is None:
        return None
    return _parked(row)


def _parked(row: ParkedMessageRow) -> ParkedMessage:
    return ParkedMessage(parse_message(row.message), row.observed_at, row.parked_at, row.deadline)


def settle_parked(session: Session, outcomes: Mapping[tuple[str, str], str]) -> int:
    """Unpark the messages decided, by (grant, message id), and record each decision on the
    notifications that parked them; how many were parked.

    One statement when none of them was parked, which is nearly always: every transaction
    that saves messages calls this once.
    """
    decided = {k: o for k, o in outcomes.items() if o != SkipReason.FOLDER_PENDING.value}
    if not decided:
        return 0
    key = tuple_(col(ParkedMessageRow.grant_id), col(ParkedMessageRow.message_id))
    unparked = session.execute(
        delete(ParkedMessageRow)
        .where(key.in_(sorted(decided)))
        .returning(col(ParkedMessageRow.grant_id), col(ParkedMessageRow.message_id))
    ).all()
    by_outcome: dict[tuple[str, str], list[str]] = defaultdict(list)
    for grant_id, message_id in unparked:
        by_outcome[(grant_id, decided[(grant_id, message_id)])].append(message_id)
    for (grant_id, outcome), message_ids in sorted(by_outcome.items()):
        session.execute(
            update(RawNotification)
            .where(
                col(RawNotification.grant_id) == grant_id,
                col(RawNotification.object_id).in_(sorted(message_ids)),
                col(RawNotification.outcome) == SkipReason.FOLDER_PENDING.value,
            )
            .values(outcome=outcome)
        )
    return len(unparked)


def settle_all_parked(session: Session, grant_id: str, outcome: str) -> int:
    """Unpark every message of the grant with one ``outcome`` (its grant is gone); how many."""
    message_ids = session.exec(
        select(ParkedMessageRow.message_id).where(col(ParkedMessageRow.grant_id) == grant_id)
    ).all()
    return settle_parked(session, {(grant_id, m): outcome for m in message_ids})


def parked_to_queue(session: Session, now: datetime) -> list[int]:
    """One parked message id per grant with parked messages due now: what the dispatcher
    queues, the decision taking every due message of that grant at once."""
    rows = session.exec(
        select(func.min(ParkedMessageRow.id))
        .where(col(ParkedMessageRow.next_look_at) <= now)
        .group_by(col(ParkedMessageRow.grant_id))
        .order_by(func.min(ParkedMessageRow.id))
        .limit(QUEUE_BATCH)
    ).all()
    return [int(parked_id) for parked_id in rows if parked_id is not None]


def mark_parked_queued(session: Session, parked_ids: Sequence[int], now: datetime) -> None:
    """The due messages of these parked messages' grants are queued: look at them again only
    if no decision came within :data:`REQUEUE_AFTER` (its queue message was lost)."""
    if not parked_ids:
        return
    grants = select(ParkedMessageRow.grant_id).where(col(ParkedMessageRow.id).in_(parked_ids))
    session.execute(
        update(ParkedMessageRow)
        .where(
            col(ParkedMessageRow.grant_id).in_(grants),
            col(ParkedMessageRow.next_look_at) <= now,
        )
        .values(next_look_at=now + REQUEUE_AFTER)
    )


def grant_of_parked(session: Session, parked_id: int) -> str | None:
    """The grant of a parked message, or None when it was decided since."""
    row = session.get(ParkedMessageRow, parked_id)
    return row.grant_id if row is not None else None
