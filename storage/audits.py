"""Audit records of dead-letter replays and purges (O1): started, then finished, in two writes.

The first write happens before anything moves, so a replay cut short by a crash still shows
who started it, with which selection; the second records how many moved and how it ended.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from storage.tables import DeadLetterAuditRow

RUNNING = "running"
COMPLETED = "completed"
INTERRUPTED = "interrupted"  # the operator stopped it (Ctrl-C): some letters moved
FAILED = "failed"  # an error stopped it: some letters may have moved (see detail)


def start_audit(
    session: Session,
    *,
    org_id: str | None = None,
    operator: str,
    action: str,
    selection: Mapping[str, Any],
    matched: int,
    now: datetime,
) -> int:
    """Record that ``operator`` started ``action`` on ``matched`` letters (of ``org_id``'s, or
    across the deployment); the record's id."""
    row = DeadLetterAuditRow(
        org_id=org_id,
        operator=operator,
        action=action,
        selection=dict(selection),
        matched=matched,
        count=0,
        outcome=RUNNING,
        started_at=now,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    return row.id


def finish_audit(
    session: Session,
    audit_id: int,
    *,
    count: int,
    outcome: str,
    now: datetime,
    detail: str | None = None,
) -> None:
    """Record how many letters the action moved or deleted and how it ended."""
    row = session.get_one(DeadLetterAuditRow, audit_id)
    row.count = count
    row.outcome = outcome
    row.detail = detail
    row.finished_at = now
    session.add(row)


def recent_audits(
    session: Session, limit: int = 20, *, org_id: str | None = None
) -> list[DeadLetterAuditRow]:
    """The latest audit records, newest first: all, or those limited to ``org_id``."""
    statement = select(DeadLetterAuditRow)
    if org_id is not None:
        statement = statement.where(DeadLetterAuditRow.org_id == org_id)
    statement = statement.order_by(
        col(DeadLetterAuditRow.started_at).desc(), col(DeadLetterAuditRow.id).desc()
    ).limit(limit)
    return list(session.exec(statement))
