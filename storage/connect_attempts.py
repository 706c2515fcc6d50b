"""Hosted OAuth connection attempts: started, spent once within their lifetime, pruned.

An attempt is the server-side half of a connect URL: the signed ``state`` names its nonce.
The state's own signed time is not enough to bound its life (finding L7): whoever holds the
signing secret (by default derived from the first API token) can sign an old nonce with a
fresh time. So the attempt's own ``created_at`` is checked in the same conditional update
that spends it, and how the callback ended is written on it for operators. Attempts are
kept a day, then pruned in bounded batches.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from storage.tables import ConnectAttemptRow

PRUNE_BATCH = 1_000


@dataclass(frozen=True, slots=True)
class SpentAttempt:
    """An attempt the callback may complete: whose rep, and where to send the browser back."""

    nonce: str
    org_id: str
    rep_id: str
    return_url: str | None


def start_connect_attempt(
    session: Session, org_id: str, rep_id: str, return_url: str | None, now: datetime
) -> str:
    """Record a connection attempt for the rep; returns its one-time nonce, which also
    names the rep's organization when the callback comes back."""
    nonce = secrets.token_urlsafe(24)
    session.add(
        ConnectAttemptRow(
            nonce=nonce, org_id=org_id, rep_id=rep_id, return_url=return_url, created_at=now
        )
    )
    session.flush()
    return nonce


def spend_connect_attempt(
    session: Session, nonce: str, rep_id: str, now: datetime, lifetime: timedelta
) -> SpentAttempt | None:
    """Mark the attempt used; None when it does not exist, is another rep's, was used, or
    was started more than ``lifetime`` ago (see :func:`refusal_reason`).

    One conditional update, so two callbacks racing with the same state cannot both win,
    and an attempt past its lifetime cannot be spent whatever time its state was signed with.
    """
    spent = session.execute(
        update(ConnectAttemptRow)
        .where(
            col(ConnectAttemptRow.nonce) == nonce,
            col(ConnectAttemptRow.rep_id) == rep_id,
            col(ConnectAttemptRow.used_at).is_(None),
            col(ConnectAttemptRow.created_at) >= now - lifetime,
        )
        .values(used_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        return None
    row = session.get(ConnectAttemptRow, nonce)
    assert row is not None
    return SpentAttempt(row.nonce, row.org_id, row.rep_id, row.return_url)


def refusal_reason(
    session: Session, nonce: str, rep_id: str, now: datetime, lifetime: timedelta
) -> str:
    """Why :func:`spend_connect_attempt` refused: ``expired_state`` for an unused attempt of
    this rep past its lifetime (written on it as its outcome), else ``state_used``.

    ``state_used`` also covers an unknown nonce or another rep's: a caller learns nothing
    about attempts it did not start.
    """
    row = session.get(ConnectAttemptRow, nonce)
    if row is None or row.rep_id != rep_id or row.used_at is not None:
        return "state_used"
    if row.created_at < now - lifetime:
        row.used_at = now
        row.outcome = "expired"
        session.add(row)
        return "expired_state"
    return "state_used"


def record_connect_outcome(session: Session, nonce: str, outcome: str) -> None:
    """Write how the callback of the attempt ended (``connected``, ``mailbox_mismatch``,
    ``denied``, ``code_rejected``, ...); 32 characters at most."""
    session.execute(
        update(ConnectAttemptRow)
        .where(col(ConnectAttemptRow.nonce) == nonce)
        .values(outcome=outcome[:32])
    )


def prune_connect_attempts(session: Session, before: datetime, limit: int = PRUNE_BATCH) -> int:
    """Delete at most ``limit`` attempts started before ``before``, oldest first; how many.

    Bounded, so one call holds its locks briefly however many attempts piled up; callers
    repeat it (each in its own transaction) while it deletes a full batch.
    """
    nonces = session.exec(
        select(ConnectAttemptRow.nonce)
        .where(col(ConnectAttemptRow.created_at) < before)
        .order_by(col(ConnectAttemptRow.created_at))
        .limit(limit)
    ).all()
    if not nonces:
        return 0
    result = session.execute(
        delete(ConnectAttemptRow).where(col(ConnectAttemptRow.nonce).in_(list(nonces)))
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
