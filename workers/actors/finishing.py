"""Finishing notifications together: the saves, the records and the bookkeeping of
concurrent worker threads in one transaction (group commit, ``workers.group_commit``).

Each thread handles its own notification up to what needs no transaction of its own (the
message it carries, or fetched), then hands it here and waits. A batch is finished in one
transaction: the messages saved (``workers.actors.messages.save_messages``), every
notification recorded with its outcome (N3), and the grants heard from noted (A1). If that
transaction fails, each notification is finished alone, so one poison notification fails
its own thread (which records the failure and lets Dramatiq retry it) and no other.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from domain.notifications import Notification
from domain.triggers import WorkKind
from storage.accounts import note_successes
from storage.engine import transaction
from storage.notifications import NotificationOutcome, key_of, record_outcomes
from workers.actors.handled import Handled, MessageToSave
from workers.actors.messages import FoldersToRefresh, save_messages
from workers.context import WorkerContext
from workers.group_commit import SplitOnFailure

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Finishing:
    """A notification handled as far as it goes alone: its outcome, or its message to save."""

    context: WorkerContext
    notification: Notification
    received_at: datetime
    handled: Handled | MessageToSave


Finished = Handled | FoldersToRefresh


def _finish_together(items: list[Finishing]) -> list[Finished]:
    context = items[0].context
    results: list[Finished | None] = [
        item.handled if isinstance(item.handled, Handled) else None for item in items
    ]
    saving = [
        (index, item.handled)
        for index, item in enumerate(items)
        if isinstance(item.handled, MessageToSave)
    ]
    with transaction(context.engine) as session:
        if saving:
            saved = save_messages(session, context, [message for _, message in saving])
            for (index, _), outcome in zip(saving, saved, strict=True):
                results[index] = Handled.processed(outcome) if isinstance(outcome, str) else outcome
        now = context.clock()
        finished = [
            (item, result)
            for item, result in zip(items, results, strict=True)
            if isinstance(result, Handled)
        ]
        first_time = record_outcomes(
            session,
            [
                NotificationOutcome(
                    item.notification, item.received_at, result.state, result.outcome
                )
                for item, result in finished
            ],
            now,
        )
        note_successes(
            session,
            {
                item.notification.grant_id
                for item, _ in finished
                if item.notification.grant_id and item.notification.kind is not WorkKind.GRANTS
            },
            now,
        )
    for item, _ in finished:
        if key_of(item.notification) not in first_time:
            logger.info(
                "notification handled again",
                extra={"notification_id": item.notification.notification_id},
            )
    done: list[Finished] = []
    for result in results:
        assert result is not None  # every message to save got its outcome
        done.append(result)
    return done


finish_notifications = SplitOnFailure("notifications", _finish_together)
"""The group-commit flush of notifications: together, or each alone when together fails."""
