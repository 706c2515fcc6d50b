"""The notification actors: store the raw notification once (N3), then dispatch by kind.

load -> decide -> save: the notification is parsed again from its payload by the same domain
code the ingress used, stored unless already stored, and handed to the handler of its kind
of work. Handlers are idempotent, so a retry, a duplicate under another id path, or a
reprocess runs them again harmlessly.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from dramatiq import Retry
from sqlmodel import Session

from domain.accounts import AccountEvent
from domain.notifications import ApiVersion, Notification, parse_unit
from domain.triggers import WorkKind
from storage.accounts import apply_grant_event, note_failure, note_success
from storage.engine import transaction
from storage.notifications import mark_notification, record_notification
from storage.tables import NotificationState
from workers.actors.events import handle_event_notification
from workers.actors.folders import handle_folder_notification
from workers.actors.grants import handle_grant_notification
from workers.actors.handled import Handler, acknowledge_only
from workers.actors.messages import handle_message_notification
from workers.context import WorkerContext
from workers.grant_limits import GrantThrottled
from workers.nylas_client import NylasRateLimited, NylasRejected

logger = logging.getLogger(__name__)

HANDLERS: dict[WorkKind, Handler] = {
    **{kind: acknowledge_only for kind in WorkKind},
    WorkKind.MESSAGES: handle_message_notification,
    WorkKind.FOLDERS: handle_folder_notification,
    WorkKind.EVENTS: handle_event_notification,
    WorkKind.GRANTS: handle_grant_notification,
}


def handle_notification(
    context: WorkerContext, api_version: ApiVersion, payload: dict[str, Any], received_at: float
) -> None:
    """Store a queued notification and run the handler of its kind of work."""
    notification = parse_unit(api_version, payload)
    log_fields = {
        "notification_id": notification.notification_id,
        "grant_id": notification.grant_id,
        "type": notification.type,
    }
    with transaction(context.engine) as session:
        stored = record_notification(
            session, notification, datetime.fromtimestamp(received_at, UTC)
        )
    if not stored:
        logger.info("notification already stored; handling again", extra=log_fields)
    # No kind means the routing table changed since it was queued: keep it, do nothing more.
    handler = HANDLERS[notification.kind] if notification.kind else acknowledge_only
    try:
        handled = handler(context, notification)
    except GrantThrottled:
        raise  # not a failure: the message waits on the queue for the grant's next slot
    except Exception as error:
        # Recorded for operators, then re-raised so Dramatiq retries it and, once the retries
        # are spent, dead-letters it.
        with transaction(context.engine) as session:
            mark_notification(
                session,
                notification.notification_id,
                NotificationState.FAILED,
                context.clock(),
                error=f"{type(error).__name__}: {error}",
            )
            _note_failure(session, notification, error, context.clock())
        if isinstance(error, NylasRateLimited):
            # Nylas said when to come back: the queue waits that long, not a worker thread.
            logger.warning("rate limited by Nylas; retrying later", extra=log_fields)
            raise Retry(str(error), delay=int(error.retry_after_seconds * 1000)) from error
        logger.exception("notification handler failed", extra=log_fields)
        raise
    with transaction(context.engine) as session:
        mark_notification(
            session,
            notification.notification_id,
            handled.state,
            context.clock(),
            outcome=handled.outcome,
        )
        if notification.grant_id and notification.kind is not WorkKind.GRANTS:
            note_success(session, notification.grant_id, context.clock())
    logger.info(
        "notification %s: %s",
        handled.state.value,
        handled.outcome,
        extra={**log_fields, "outcome": handled.outcome},
    )


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
