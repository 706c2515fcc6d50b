"""Writing action items to their rep's calendar (C1, C2, C4): load, decide, write, save.

One run takes a pending item and makes the calendar match it: create or update its event
(PUT, so the event holds exactly the item's content), delete it when the CRM deleted the
item, or nothing when the item is unflagged, outside the window, or unlinked by a deletion
in the calendar. What was written (its digest and the event's ``updated_at``) is saved so
that the notification of our own write is recognised as an echo and not bounced back.

The call to Nylas happens outside any transaction. If the CRM changed the item meanwhile,
the item stays pending and is pushed again with the newer content.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from domain.action_items import ItemContent, event_body
from domain.calendar_sync import (
    NoCalendar,
    calendar_window,
    choose_calendar,
    parse_calendar,
    why_not_pushed,
)
from domain.not_found import Missing
from domain.reps import Rep
from storage.accounts import note_grant_gone
from storage.action_items import (
    FAILED,
    IDLE,
    PENDING,
    content_from_json,
    record_push,
    sync_state,
)
from storage.engine import transaction
from storage.reps import get_rep
from storage.tables import ActionItemRow
from workers.context import WorkerContext
from workers.grant_limits import GrantThrottled
from workers.nylas_failures import NylasGrantGone, NylasNotFound, NylasRejected

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PushPlan:
    """What one push run will do, read in one transaction."""

    item_id: int
    rep: Rep
    content: ItemContent
    digest: str
    event_id: str | None
    calendar_id: str | None
    notify: bool
    delete: bool
    skip_reason: str | None


def push_action_item(context: WorkerContext, item_id: int) -> None:
    """Make the calendar match action item ``item_id``."""
    plan = _plan(context, item_id)
    if plan is None:
        return
    if plan.skip_reason is not None:
        _finish(
            context,
            item_id,
            plan,
            event_id=plan.event_id,
            calendar_id=plan.calendar_id,
            written=None,
            note=plan.skip_reason,
        )
        return
    grant_id = plan.rep.grant_id
    assert grant_id is not None
    try:
        if plan.delete:
            if plan.event_id and plan.calendar_id:
                context.nylas_for(grant_id).destroy_event(
                    grant_id, plan.event_id, plan.calendar_id, notify_participants=plan.notify
                )
            _finish(context, item_id, plan, event_id=None, calendar_id=None, written=None)
            return
        calendar_id = plan.calendar_id or _calendar_for(context, plan.rep, grant_id)
        event = _write(context, plan, grant_id, calendar_id)
    except GrantThrottled:
        raise  # not a failure: the message waits on the queue for the grant's next slot
    except NylasGrantGone as gone:
        # The grant was deleted at Nylas: the rep is invalid until it reconnects (A1).
        _fail(context, item_id, f"{Missing.GRANT.value}: {gone}", gone_grant=gone.grant_id)
        return
    except (NoCalendar, NylasRejected) as error:
        # Retrying cannot help (no calendar, a read-only one, a refused body): say why.
        _fail(context, item_id, f"{type(error).__name__}: {error}")
        return
    except Exception as error:
        _fail(context, item_id, f"{type(error).__name__}: {error}", retrying=True)
        raise
    updated_at = event.get("updated_at")
    written_at = datetime.fromtimestamp(updated_at, UTC) if isinstance(updated_at, int) else None
    _finish(
        context,
        item_id,
        plan,
        event_id=str(event["id"]),
        calendar_id=calendar_id,
        written=(plan.digest, written_at),
    )


def _plan(context: WorkerContext, item_id: int) -> PushPlan | None:
    with transaction(context.engine) as session:
        row = session.get(ActionItemRow, item_id)
        if row is None or row.push_state != PENDING:
            return None
        rep = get_rep(session, row.org_id, row.rep_id)
        assert rep is not None
        content = content_from_json(row.content)
        state = sync_state(row)
        window = calendar_window(rep.sync_from, context.clock().date(), rep.calendar_days_after)
        if state.deleted_in_crm:
            skip = None if row.event_id else "deleted, no event"
        else:
            skip = why_not_pushed(
                connected=rep.grant_id is not None,
                calendar_sync=rep.calendar_sync_enabled,
                flagged=row.sync_enabled,
                unlinked=state.unlinked,
                window=window,
                starts_at=content.starts_at(),
            )
        return PushPlan(
            item_id=item_id,
            rep=rep,
            content=content,
            digest=content.digest(),
            event_id=row.event_id,
            calendar_id=row.calendar_id,
            notify=row.notify_participants,
            delete=state.deleted_in_crm,
            skip_reason=skip,
        )


def _calendar_for(context: WorkerContext, rep: Rep, grant_id: str) -> str:
    calendars = [parse_calendar(c) for c in context.nylas_for(grant_id).list_calendars(grant_id)]
    return choose_calendar(calendars, rep.calendar_name).id


def _write(
    context: WorkerContext, plan: PushPlan, grant_id: str, calendar_id: str
) -> dict[str, object]:
    body = event_body(plan.content)
    if plan.event_id is not None:
        try:
            return context.nylas_for(grant_id).update_event(
                grant_id, plan.event_id, calendar_id, body, notify_participants=plan.notify
            )
        except NylasNotFound:
            pass  # deleted behind our back: the item still wins, so the event is created again
    # The key makes a create that timed out safe to send again: the event it may have made
    # is found and updated instead of a second one being created.
    return context.nylas_for(grant_id).create_event(
        grant_id,
        calendar_id,
        body,
        notify_participants=plan.notify,
        idempotency_key=f"crmsync-action-item-{plan.item_id}",
    )


def _finish(
    context: WorkerContext,
    item_id: int,
    plan: PushPlan,
    *,
    event_id: str | None,
    calendar_id: str | None,
    written: tuple[str, datetime | None] | None,
    note: str | None = None,
) -> None:
    with transaction(context.engine) as session:
        row = session.get(ActionItemRow, item_id, with_for_update=True)
        assert row is not None
        if written is None and event_id == row.event_id:
            row.push_state = IDLE
            row.push_queued_at = None
            row.last_push_error = None
            session.add(row)
        else:
            record_push(
                session,
                row,
                event_id=event_id,
                calendar_id=calendar_id,
                written_digest=written[0] if written else None,
                written_updated_at=written[1] if written else None,
                now=context.clock(),
            )
        if content_from_json(row.content).digest() != plan.digest and not plan.delete:
            row.push_state = PENDING  # the CRM changed it while we wrote: push the newer one
            row.push_queued_at = None
            session.add(row)
    if note:
        logger.info("action item not pushed: %s", note, extra={"item_id": item_id})


def _fail(
    context: WorkerContext,
    item_id: int,
    error: str,
    *,
    retrying: bool = False,
    gone_grant: str | None = None,
) -> None:
    with transaction(context.engine) as session:
        if gone_grant is not None:
            note_grant_gone(session, gone_grant, context.clock())
        row = session.get(ActionItemRow, item_id, with_for_update=True)
        assert row is not None
        row.last_push_error = error[:1000]
        if not retrying:
            row.push_state = FAILED
        session.add(row)
