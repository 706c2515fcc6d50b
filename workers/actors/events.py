"""Calendar notifications into action items (C3, C4, C5): load, decide, save.

Only events linked to an action item matter; any other event is the rep's own business and
is left alone. An event notification is first checked against what crmsync itself last
wrote (C4: our echo changes nothing), then reconciled by last writer wins (C3): a newer edit
becomes the item's content, an older one is overwritten by pushing the item again, and a
deletion unlinks the item without deleting it (C5).

Recurring events: crmsync writes single events only. A notification about an occurrence
(``master_event_id`` set) of a series is left alone unless that occurrence itself is the
linked event, so a series is never rewritten from one of its occurrences.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from domain.action_items import content_from_event
from domain.calendar_sync import CalendarDelete, CalendarEdit, Effect, is_echo, overwritten_since
from domain.notifications import Notification
from storage.action_items import apply_change, item_for_event, mark_pending, record_calendar_effect
from storage.engine import transaction
from storage.reps import rep_for_grant
from workers.actors.handled import Handled, acknowledge_only
from workers.context import WorkerContext

HANDLED_TRIGGERS = ("event.created", "event.updated", "event.deleted")


def handle_event_notification(context: WorkerContext, notification: Notification) -> Handled:
    """The handler of the events queue."""
    if notification.trigger not in HANDLED_TRIGGERS or notification.api_version != "v3":
        return acknowledge_only(context, notification)
    event = _object_of(notification)
    grant_id, event_id = notification.grant_id, notification.object_id
    if event is None or grant_id is None or event_id is None:
        return Handled.processed("no_event")
    now = context.clock()
    with transaction(context.engine) as session:
        rep = rep_for_grant(session, grant_id)
        if rep is None:
            return Handled.processed("unknown_grant")
        row = item_for_event(session, rep.rep_id, event_id)
        if row is None:
            master = event.get("master_event_id")
            return Handled.processed("occurrence_of_series" if master else "not_linked")
        if notification.trigger == "event.deleted":
            at = _envelope_time(notification, now)
            result = apply_change(session, row, CalendarDelete(at))
            record_calendar_effect(session, row, result.effect, now)
            return Handled.processed(result.effect.value)
        content = content_from_event(event)
        if content is None:
            return Handled.processed("unsupported_when")
        updated_at = _updated_at(event) or _envelope_time(notification, now)
        if is_echo(content.digest(), updated_at, row.written_digest, row.written_updated_at):
            return Handled.processed("echo")
        result = apply_change(session, row, CalendarEdit(updated_at, content))
        record_calendar_effect(session, row, result.effect, now)
        if result.effect is Effect.APPLY_TO_CRM and overwritten_since(
            updated_at, row.written_updated_at
        ):
            mark_pending(row)  # our later write replaced this edit in the calendar: rewrite it
            session.add(row)
        return Handled.processed(result.effect.value)


def _object_of(notification: Notification) -> Mapping[str, Any] | None:
    data = notification.payload.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    return obj if isinstance(obj, Mapping) else None


def _updated_at(event: Mapping[str, Any]) -> datetime | None:
    value = event.get("updated_at")
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    return None


def _envelope_time(notification: Notification, now: datetime) -> datetime:
    """A deletion's time (NYLAS.md 4.2: no updated_at): the envelope's, else now."""
    if notification.occurred_at is not None:
        return datetime.fromtimestamp(notification.occurred_at, UTC)
    return now
