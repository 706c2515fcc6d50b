"""Grant notifications into account status (A1): load, decide, save.

``grant.expired`` makes the rep invalid-credentials, a re-authentication makes it run again,
and so on (the table is :data:`domain.accounts.TRANSITIONS`). Nylas delivers in any order,
so a notification older than the last one applied is stale and changes nothing (see
:func:`storage.accounts.apply_grant_event`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from domain.accounts import event_for_notification
from domain.notifications import Notification
from storage.accounts import apply_grant_event
from storage.engine import transaction
from workers.actors.handled import Handled
from workers.context import WorkerContext


def handle_grant_notification(context: WorkerContext, notification: Notification) -> Handled:
    """The handler of the grants queue."""
    if notification.grant_id is None:
        return Handled.processed("no_grant")
    event = event_for_notification(notification.trigger, _object_of(notification))
    if event is None:
        return Handled.processed("no_status_change")
    occurred = (
        datetime.fromtimestamp(notification.occurred_at, UTC) if notification.occurred_at else None
    )
    with transaction(context.engine) as session:
        result = apply_grant_event(
            session, notification.grant_id, event, context.clock(), occurred_at=occurred
        )
    return Handled.processed(result.outcome)


def _object_of(notification: Notification) -> Mapping[str, Any]:
    data = notification.payload.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    return obj if isinstance(obj, Mapping) else {}
