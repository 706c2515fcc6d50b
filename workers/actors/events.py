"""Calendar notifications into action items (C3, C4, C5): load, decide, save.

Only events linked to an action item matter; any other event is the rep's own business and
is left alone. An event notification is first checked against what crmsync itself last
wrote (C4: our echo changes nothing), then reconciled by last writer wins (C3): a newer edit
becomes the item's content, an older one is overwritten by pushing the item again, and a
deletion unlinks the item without deleting it (C5).

Where the event comes from. A v3 notification carries it. A v2 delta carries its id only
(N1), so the event is fetched from the Events API, from the calendar the linked item was
written to (a v3 GET needs the calendar), and only for a linked event: the rep's own events
cost no call. A 404 there means the event was deleted since the delta was sent: it is
applied as the deletion it is, dated like any deletion by the notification's time, the
earliest moment it can have happened, so the deletion's own delta, coming later with the
true time, still moves the item to the same end state (C3). ``event.deleted`` needs no fetch.
From there the event goes through the same rules, whichever version brought it.

Recurring events: crmsync writes single events only. A notification about an occurrence
(``master_event_id`` set) of a series is left alone unless that occurrence itself is the
linked event, so a series is never rewritten from one of its occurrences.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class ObservedEvent:
    """The event as the calendar has it: the object a notification carried or the Events API
    returned (minimal for a deletion, with no ``updated_at``), and whether it is gone."""

    event: Mapping[str, Any]
    deleted: bool


def handle_event_notification(context: WorkerContext, notification: Notification) -> Handled:
    """The handler of the events queue: the event (carried, or fetched for a v2 delta),
    then last writer wins against its linked item."""
    if notification.trigger not in HANDLED_TRIGGERS:
        return acknowledge_only(context, notification)
    grant_id, event_id = notification.grant_id, notification.object_id
    if grant_id is None or event_id is None:
        return Handled.processed("no_event")
    if notification.api_version == "v3":
        observed = _carried(notification)
    else:
        observed = _fetched(context, notification, grant_id, event_id)
    if isinstance(observed, Handled):
        return observed
    return _reconcile(context, notification, grant_id, event_id, observed)


def _carried(notification: Notification) -> ObservedEvent | Handled:
    """The event a v3 notification carries in ``data.object``."""
    data = notification.payload.get("data")
    event = data.get("object") if isinstance(data, Mapping) else None
    if not isinstance(event, Mapping):
        return Handled.processed("no_event")
    return ObservedEvent(event, deleted=notification.trigger == "event.deleted")


def _fetched(
    context: WorkerContext, notification: Notification, grant_id: str, event_id: str
) -> ObservedEvent | Handled:
    """The event a v2 delta names: gone for ``event.deleted``, else fetched from the calendar
    its linked item was written to (no call for an event no item is linked to)."""
    gone = ObservedEvent({"id": event_id}, deleted=True)
    if notification.trigger == "event.deleted":
        return gone
    with transaction(context.engine) as session:
        rep = rep_for_grant(session, grant_id)
        if rep is None:
            return Handled.processed("unknown_grant")
        row = item_for_event(session, rep.org_id, rep.rep_id, event_id)
        if row is None:
            return Handled.processed("not_linked")
        calendar_id = row.calendar_id
    if calendar_id is None:
        # Not a state crmsync writes (a link records its calendar), and guessing one could
        # read "not in that calendar" as a deletion: nothing is done.
        return Handled.processed("no_calendar")
    event = context.nylas_for(grant_id).find_event(grant_id, event_id, calendar_id)
    return gone if event is None else ObservedEvent(event, deleted=False)


def _reconcile(
    context: WorkerContext,
    notification: Notification,
    grant_id: str,
    event_id: str,
    observed: ObservedEvent,
) -> Handled:
    """Last writer wins between the event and its linked item, saved with the change."""
    event = observed.event
    now = context.clock()
    with transaction(context.engine) as session:
        rep = rep_for_grant(session, grant_id)
        if rep is None:
            return Handled.processed("unknown_grant")
        row = item_for_event(session, rep.org_id, rep.rep_id, event_id, for_update=True)
        if row is None:
            master = event.get("master_event_id")
            return Handled.processed("occurrence_of_series" if master else "not_linked")
        if observed.deleted:
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


def _updated_at(event: Mapping[str, Any]) -> datetime | None:
    value = event.get("updated_at")
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None  # no time a calendar can hold: dated by the notification instead
    return None


def _envelope_time(notification: Notification, now: datetime) -> datetime:
    """A deletion's time (NYLAS.md 4.2: no updated_at): the envelope's (a v2 delta's
    ``date``), else now."""
    if notification.occurred_at is not None:
        return datetime.fromtimestamp(notification.occurred_at, UTC)
    return now
