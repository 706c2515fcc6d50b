"""The notification actors: dispatch by kind, then record the notification once (N3).

load -> decide -> save: the notification is parsed again from its payload by the same domain
code the ingress used and handed to the handler of its kind of work; what is left to write
(a message to save, the notification with its outcome) is finished together with other
worker threads' notifications in one transaction (``workers.actors.finishing``). Handlers
are idempotent, so a retry, a duplicate under another id path, or a reprocess runs them
again harmlessly.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Literal

from dramatiq import Retry
from sqlmodel import Session

from domain.accounts import AccountEvent
from domain.not_found import Missing
from domain.notifications import ApiVersion, Notification, parse_unit
from domain.org_scope import OTHER_ORGANIZATION, acts_on_grant
from domain.triggers import WorkKind
from storage.accounts import apply_grant_event, note_failure, note_grant_gone
from storage.engine import transaction
from storage.notifications import NotificationOutcome, record_outcomes
from storage.organizations import org_in_service
from storage.reps import grant_org
from storage.tables import NotificationState
from workers.actors.events import handle_event_notification
from workers.actors.finishing import Finishing, finish_notifications
from workers.actors.folders import handle_folder_notification
from workers.actors.grants import handle_grant_notification
from workers.actors.handled import Handled, Handler, MessageToSave, acknowledge_only
from workers.actors.messages import handle_message_notification
from workers.context import WorkerContext
from workers.folder_cache import refresh_folder_cache
from workers.grant_limits import GrantThrottled
from workers.nylas_failures import NylasGrantGone, NylasRateLimited, NylasRejected

logger = logging.getLogger(__name__)

HANDLERS: dict[WorkKind, Handler] = {
    **{kind: acknowledge_only for kind in WorkKind},
    WorkKind.MESSAGES: handle_message_notification,
    WorkKind.FOLDERS: handle_folder_notification,
    WorkKind.EVENTS: handle_event_notification,
    WorkKind.GRANTS: handle_grant_notification,
}


def handle_notification(
    context: WorkerContext,
    api_version: ApiVersion,
    payload: dict[str, Any],
    received_at: float,
    org_id: str | None = None,
) -> None:
    """Handle a queued notification by its kind of work, and record it with its outcome.

    ``org_id`` is the organization it came through (its URL or own Nylas application), if
    any: then it acts only on that organization's grants (``domain.org_scope``).
    """
    notification = replace(parse_unit(api_version, payload), via_org=org_id)
    received = datetime.fromtimestamp(received_at, UTC)
    log_fields = {
        "notification_id": notification.notification_id,
        "grant_id": notification.grant_id,
        "type": notification.type,
    }
    # No kind means the routing table changed since it was queued: keep it, do nothing more.
    handler = HANDLERS[notification.kind] if notification.kind else acknowledge_only
    scope = _scope(context, notification)
    if scope == "removed":
        # Came through an organization removed (or being removed) since: nothing of it is
        # handled or kept, so nothing of it comes back after its offboarding.
        logger.info("notification of a removed organization dropped", extra=log_fields)
        return
    if scope == "other":
        handler = _other_organization
    try:
        handled = _finish(
            context, Finishing(context, notification, received, handler(context, notification))
        )
    except GrantThrottled:
        raise  # not a failure: the message waits on the queue for the grant's next slot
    except NylasGrantGone as gone:
        # Not a failure either, and no retry can help: the rep must reconnect (A1).
        handled = _grant_gone(context, notification, received, gone)
    except Exception as error:
        # Recorded for operators, then re-raised so Dramatiq retries it and, once the retries
        # are spent, dead-letters it.
        now = context.clock()
        failed = NotificationOutcome(
            notification,
            received,
            NotificationState.FAILED,
            error=f"{type(error).__name__}: {error}",
        )
        with transaction(context.engine) as session:
            record_outcomes(session, [failed], now)
            _note_failure(session, notification, error, now)
        if isinstance(error, NylasRateLimited):
            # Nylas said when to come back: the queue waits that long, not a worker thread.
            logger.warning("rate limited by Nylas; retrying later", extra=log_fields)
            raise Retry(str(error), delay=int(error.retry_after_seconds * 1000)) from error
        logger.exception("notification handler failed", extra=log_fields)
        raise
    logger.info(
        "notification %s: %s",
        handled.state.value,
        handled.outcome,
        extra={**log_fields, "outcome": handled.outcome},
    )


def _scope(context: WorkerContext, notification: Notification) -> Literal["in", "other", "removed"]:
    """Whether a notification may act on its grant (``in``), concerns another
    organization's grant (``other``), or came through an organization no longer in service
    (``removed``). Read in one session, and only for one that came through an organization."""
    if notification.via_org is None:
        return "in"
    with Session(context.engine) as session:
        if not org_in_service(session, notification.via_org):
            return "removed"
        if notification.grant_id is None:
            return "in"
        owner = grant_org(session, notification.grant_id)
    return "in" if acts_on_grant(notification.via_org, owner) else "other"


def _other_organization(context: WorkerContext, notification: Notification) -> Handled:
    """The handler of a notification about another organization's grant: it is kept, as
    every notification is (N3), and does nothing."""
    logger.warning(
        "notification about another organization's grant ignored",
        extra={"notification_id": notification.notification_id, "org_id": notification.via_org},
    )
    return Handled.processed(OTHER_ORGANIZATION)


def _grant_gone(
    context: WorkerContext, notification: Notification, received: datetime, gone: NylasGrantGone
) -> Handled:
    """The grant was deleted at Nylas: the rep becomes invalid, and the notification is
    finished with outcome ``grant_gone`` (never retried, never dead-lettered)."""
    handled = Handled.processed(Missing.GRANT.value)
    now = context.clock()
    with transaction(context.engine) as session:
        note_grant_gone(session, gone.grant_id, now)
        outcome = NotificationOutcome(notification, received, handled.state, handled.outcome)
        record_outcomes(session, [outcome], now)
    return handled


def _finish(context: WorkerContext, finishing: Finishing) -> Handled:
    """Finish the notification with other threads' (``workers.actors.finishing``); when its
    message's folders must be fetched first, fetch them, outside any transaction, and again."""
    while True:
        finished = context.group_commit.submit(finish_notifications, finishing)
        if isinstance(finished, Handled):
            return finished
        refresh_folder_cache(context, finished.rep, finished.grant_id)
        assert isinstance(finishing.handled, MessageToSave)
        finishing = replace(finishing, handled=replace(finishing.handled, folders_refreshed=True))


def _note_failure(
    session: Session, notification: Notification, error: Exception, now: datetime
) -> None:
    """Count the failure against the grant's rep; a 401 from Nylas means the grant expired."""
    if notification.grant_id is None:
        return
    if isinstance(error, NylasRejected) and error.status_code == 401:
        apply_grant_event(session, notification.grant_id, AccountEvent.GRANT_EXPIRED, now)
    else:
        note_failure(session, notification.grant_id, now)
