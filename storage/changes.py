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
    """Record ``changes`` in ``session``, in order, in one statement."""
    if not changes:
        return
    session.execute(
        insert(_CHANGES),
        [
            {
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
