"""What crmsync recorded about a rep's messages: the stored notifications of one message, the
decision for it, and the rep's notifications paged for support staff.

A rep's notifications are those of its mailbox grants. The rep row keeps only its current
grant; a grant it held before (a mailbox reconnected under a new grant) is known here only
where a trace of it is stored with the rep: its backfills (one per hosted-OAuth connection,
one per batch of contacts added, E11) and, for one message, the stored email's grant.
Notifications of an earlier grant that left no such trace are not found, and a grant later
connected to another rep shows under both.

Queries stay on indexes: a message's notifications by (grant_id, object_id, received_at)
(``ix_raw_notifications_grant_object``), a rep's by (grant_id, received_at)
(``ix_raw_notifications_grant_received``), backfills by rep (``ix_backfills_rep``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

from sqlmodel import Session, col, func, select

from domain import answers
from domain.backfill import BackfillKind
from domain.folders import resolve_folders
from domain.message_verdicts import (
    MailboxBackfill,
    RepFacts,
    SeenNotification,
    StoredEmail,
    decide_verdict,
)
from domain.outcome_words import outcome_word
from domain.outcomes import explain_outcome
from domain.reps import Rep
from domain.times import format_time
from storage.backfills import latest_backfill
from storage.email_changes import email_json
from storage.email_reads import email_contacts, find_email
from storage.folders import load_folder_cache
from storage.parked import find_parked
from storage.tables import BackfillRow, RawNotification, RepRow

# A message has a handful of notifications (created, a few updates, deleted); a message
# with more shows its latest ones and says how many were left out.
MAX_MESSAGE_NOTIFICATIONS = 100


@dataclass(frozen=True, slots=True)
class NotificationPageKey:
    """Where a page of notifications stopped: newest first by (received_at, id)."""

    received_at: datetime
    row_id: int


def rep_grant_ids(session: Session, rep: Rep) -> list[str]:
    """The grants whose notifications are the rep's: its current grant first, then those its
    backfills recorded (see the module docstring for what is not known)."""
    grants = [rep.grant_id] if rep.grant_id else []
    earlier = session.exec(
        select(BackfillRow.grant_id)
        .where(BackfillRow.org_id == rep.org_id, BackfillRow.rep_id == rep.rep_id)
        .distinct()
    )
    grants += sorted(set(earlier) - set(grants))
    return grants


def grant_owners(session: Session, grant_id: str) -> set[str]:
    """The organizations whose reps hold ``grant_id`` now or held it in a backfill: whose
    notifications of that grant are (none: no organization's, the deployment's own)."""
    holders = session.exec(select(RepRow.org_id).where(RepRow.grant_id == grant_id))
    past = session.exec(
        select(BackfillRow.org_id).where(BackfillRow.grant_id == grant_id).distinct()
    )
    return set(holders) | set(past)


def notifications_of_message(
    session: Session, grant_ids: Sequence[str], message_id: str
) -> tuple[list[RawNotification], int]:
    """The message's stored notifications under ``grant_ids``, oldest first (at most
    :data:`MAX_MESSAGE_NOTIFICATIONS`, the latest), and how many there are in all."""
    if not grant_ids:
        return [], 0
    where = (
        col(RawNotification.grant_id).in_(list(grant_ids)),
        col(RawNotification.object_id) == message_id,
    )
    total = session.exec(select(func.count()).select_from(RawNotification).where(*where)).one()
    rows = session.exec(
        select(RawNotification)
        .where(*where)
        .order_by(col(RawNotification.received_at).desc(), col(RawNotification.id).desc())
        .limit(MAX_MESSAGE_NOTIFICATIONS)
    ).all()
    return list(reversed(rows)), int(total)


def list_notifications(
    session: Session,
    *,
    grant_ids: Sequence[str],
    outcome: str | None,
    since: datetime | None,
    after: NotificationPageKey | None,
    limit: int,
) -> list[RawNotification]:
    """The notifications of ``grant_ids``, newest first, received at or after ``since``,
    with ``outcome`` (a word, or a state for a notification without one), from just after
    ``after``. A notification recorded while a client pages never shifts a page it reads."""
    if not grant_ids:
        return []
    query = select(RawNotification).where(col(RawNotification.grant_id).in_(list(grant_ids)))
    if since is not None:
        query = query.where(col(RawNotification.received_at) >= since)
    if outcome is not None:
        query = query.where(
            (col(RawNotification.outcome) == outcome)
            | (col(RawNotification.outcome).is_(None) & (col(RawNotification.state) == outcome))
        )
    if after is not None:
        query = query.where(
            (col(RawNotification.received_at) < after.received_at)
            | (
                (col(RawNotification.received_at) == after.received_at)
                & (col(RawNotification.id) < after.row_id)
            )
        )
    query = query.order_by(
        col(RawNotification.received_at).desc(), col(RawNotification.id).desc()
    ).limit(limit)
    return list(session.exec(query))


def notification_json(
    row: RawNotification, *, include_payload: bool = False, rep_id: str | None = None
) -> answers.Notification:
    """A stored notification as support staff read it, its outcome explained; the payload
    (what Nylas sent, message content included) only when asked for."""
    assert row.id is not None, "a notification is shown once it is stored"
    document: answers.Notification = {
        "id": row.id,
        "notification_id": row.notification_id,
        "api_version": cast(Literal["v3", "v2"], row.api_version),
        "type": row.type,
        "trigger": row.trigger,
        "grant_id": row.grant_id,
        "object_id": row.object_id,
        "occurred_at": _time(row.occurred_at),
        "received_at": format_time(row.received_at),
        "handled_at": _time(row.handled_at),
        "state": row.state,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "explanation": _explained(outcome_word(row.state, row.outcome), rep_id),
    }
    if include_payload:
        document["payload"] = row.payload
    return document


def explain_message(session: Session, rep: Rep, message_id: str) -> answers.MessageDecision:
    """The decision for ``message_id`` and the rep: every notification seen for it, the
    stored email if any, and what of the rep's settings bears on it."""
    email = find_email(session, rep.org_id, rep.rep_id, message_id)
    grant_ids = rep_grant_ids(session, rep)
    if email is not None and email.grant_id and email.grant_id not in grant_ids:
        grant_ids.append(email.grant_id)
    rows, total = notifications_of_message(session, grant_ids, message_id)
    backfill = latest_backfill(session, rep.org_id, rep.rep_id, BackfillKind.MAILBOX)
    verdict = decide_verdict(
        StoredEmail(email.hidden, email.mailbox_deleted_at is not None) if email else None,
        [
            SeenNotification(
                row.notification_id,
                row.trigger,
                row.state,
                row.outcome,
                row.received_at,
                row.handled_at,
            )
            for row in rows
        ],
        RepFacts(
            has_mailbox=rep.grant_id is not None,
            email_sync_enabled=rep.email_sync_enabled,
            sync_from=rep.sync_from,
            backfill=(
                MailboxBackfill(backfill.state, backfill.since, backfill.until)
                if backfill is not None
                else None
            ),
        ),
    )
    email_document = None
    if email is not None and email.id is not None:
        links = email_contacts(session, [email.id]).get(email.id, [])
        email_document = email_json(email, links, include_body=False)
    return {
        "rep_id": rep.rep_id,
        "message_id": message_id,
        "decision": {
            **_explained(verdict.explanation.outcome, rep.rep_id),
            "decided_by": verdict.decided_by,
            "notes": list(verdict.notes),
        },
        "grant_ids": grant_ids,
        "notifications": [notification_json(row, rep_id=rep.rep_id) for row in rows],
        "notifications_omitted": total - len(rows),
        "email": email_document,
        "parked": _parked_json(session, rep, message_id),
        "sync": {
            "email_sync": rep.email_sync_enabled,
            "folders": list(rep.folders.names),
            "sync_from": format_time(rep.sync_from),
            "mailbox_backfill": (
                {
                    "state": backfill.state,
                    "since": format_time(backfill.since),
                    "until": format_time(backfill.until),
                    "finished_at": _time(backfill.finished_at),
                }
                if backfill is not None
                else None
            ),
        },
    }


def _parked_json(session: Session, rep: Rep, message_id: str) -> answers.ParkedMessage | None:
    """The message's wait for its folders (N2), when it is parked for the rep's mailbox."""
    if rep.grant_id is None:
        return None
    parked = find_parked(session, rep.grant_id, message_id)
    if parked is None:
        return None
    cache = load_folder_cache(session, rep.grant_id)
    folder_ids = list(parked.message.folder_ids)
    return {
        "parked_at": format_time(parked.parked_at),
        "decide_by": format_time(parked.deadline),
        "folder_ids": folder_ids,
        "unknown_folder_ids": list(resolve_folders(folder_ids, cache.folders).unknown),
    }


def _explained(word: str, rep_id: str | None) -> answers.Explanation:
    document = explain_outcome(word).to_json()
    if rep_id is not None:
        document["would_change"] = document["would_change"].replace("{rep_id}", rep_id)
    return document


def _time(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)
