"""The outbox (rule S1): every stored fact appends its change in the same transaction.

Callers pass the session their fact is written in, so the fact and its change commit or
roll back together: nothing is stored without a change, and no change without its fact.
The change feed and outbound webhooks read these rows; their shape is their contract.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlmodel import Session

from storage.tables import ChangeRow


def append_change(
    session: Session,
    *,
    change_type: str,
    entity: str,
    entity_id: str,
    rep_id: str | None,
    operation: str,
    entity_version: int,
    payload: dict[str, Any],
    now: datetime,
) -> ChangeRow:
    """Record one change (``email.stored``, ``contact.removed``, ...) in ``session``."""
    row = ChangeRow(
        change_id=f"chg_{uuid.uuid4().hex}",
        type=change_type,
        entity=entity,
        entity_id=entity_id,
        rep_id=rep_id,
        operation=operation,
        entity_version=entity_version,
        payload=payload,
        created_at=now,
    )
    session.add(row)
    return row
