"""The outbox (rule S1): every stored fact appends its change in the same transaction.

Callers pass the session their fact is written in, so the fact and its change commit or
roll back together: nothing is stored without a change, and no change without its fact.
The change feed and outbound webhooks read these rows; their shape is their contract.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, insert
from sqlmodel import Session

from storage.feed_positions import positions_for, settle, unsettled
from storage.tables import ChangeRow

_CHANGES: Table = ChangeRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Change:
    """One change to record: ``email.stored``, ``contact.removed``, ..."""

    org_id: str
    change_type: str
    entity: str
    entity_id: str
    rep_id: str | None
    operation: str
    entity_version: int
    payload: Mapping[str, Any]


def append_change(
    session: Session,
    *,
    org_id: str,
    change_type: str,
    entity: str,
    entity_id: str,
    rep_id: str | None,
    operation: str,
    entity_version: int,
    payload: Mapping[str, Any],
    now: datetime,
) -> None:
    """Record one change in ``session``."""
    append_changes(
        session,
        [
            Change(
                org_id, change_type, entity, entity_id, rep_id, operation, entity_version, payload
            )
        ],
        now,
    )


def append_changes(session: Session, changes: Sequence[Change], now: datetime) -> None:
    """Record ``changes`` in ``session``, in order, in one statement; on PostgreSQL at each
    organization's feed position (``storage.feed_positions``)."""
    if not changes:
        return
    orgs = [change.org_id for change in changes]
    positions = positions_for(session, orgs) if _is_postgres(session) else {}
    if positions and unsettled(session, orgs):
        # A savepoint's own transaction id, taken by this insert, puts the next id above
        # these positions, so the changes can be read as soon as the transaction commits.
        with session.begin_nested():
            _insert(session, changes, positions, now)
        settle(session)
    else:
        _insert(session, changes, positions, now)


def claim_feed_positions(session: Session, org_ids: Sequence[str]) -> None:
    """Take the feed positions of the changes ``session``'s transaction will append for
    these organizations now, before its first write if it can (``storage.feed_positions``):
    writers that know whose changes they will append call it first. Nothing on SQLite."""
    if _is_postgres(session):
        positions_for(session, org_ids)


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _insert(
    session: Session, changes: Sequence[Change], positions: Mapping[str, int], now: datetime
) -> None:
    session.execute(
        insert(_CHANGES),
        [
            {
                **({"txid": positions[change.org_id]} if positions else {}),
                "change_id": f"chg_{uuid.uuid4().hex}",
                "org_id": change.org_id,
                "type": change.change_type,
                "entity": change.entity,
                "entity_id": change.entity_id,
                "rep_id": change.rep_id,
                "operation": change.operation,
                "entity_version": change.entity_version,
                "payload": change.payload,
                "created_at": now,
            }
            for change in changes
        ],
    )
