"""Queueing work recorded in the database: deliveries to subscribers (S3), and the work the
API records for the workers (calendar pushes, backfills, sends), each as a
:class:`RecordedWork`.

Each pass locks the active subscriptions (other dispatchers skip them), reads the feed after
each one's position with its type filter, creates one delivery per change (insert-or-ignore
on (subscription, change)), moves the position, commits, and only then queues the new
deliveries. A crash between the commit and the queueing leaves pending deliveries without a
message: the sweep (:data:`OVERDUE_DELIVERIES`, recorded work like the others) queues again
a pending delivery long overdue and marks it due now, so it is queued once per sweep
interval, not on every pass; the actor ignores a delivery already done or not yet due, so a
message queued twice is harmless.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from sqlmodel import Session

from storage.action_items import mark_queued, pushes_to_queue
from storage.backfills import backfills_to_queue, mark_backfills_queued
from storage.engine import transaction
from storage.feed import FeedPosition, change_json, read_changes
from storage.offboarding import mark_offboardings_queued, offboardings_to_queue
from storage.parked import mark_parked_queued, parked_to_queue
from storage.sends import mark_sends_queued, sends_to_queue
from storage.subscriptions import (
    create_deliveries,
    dispatchable_subscriptions,
    mark_deliveries_swept,
    overdue_deliveries,
)
from workers.context import WorkerContext
from workers.redis_outages import REDIS_OUTAGE

logger = logging.getLogger(__name__)

BATCH = 500
# A pending delivery whose attempt is this late lost its queue message: queue it again.
SWEEP_AFTER = timedelta(minutes=10)
# A running backfill saves its position after every page; one silent this long lost its
# message (its worker died) and is queued again, to resume from the position saved.
BACKFILL_STALLED_AFTER = timedelta(minutes=5)

Send = Callable[[int], object]  # queues one delivery (or one action item push) by id


@dataclass(frozen=True, slots=True)
class RecordedWork:
    """Work recorded in the database before it is queued: how to find what to queue (never
    queued, or queued before ``stale_after`` ago and not done: its message was lost) and how
    to mark it queued, in the same transaction, so that one dispatcher takes it."""

    name: str
    find: Callable[[Session, datetime], Sequence[int]]
    mark: Callable[[Session, Sequence[int], datetime], None]
    stale_after: timedelta


CALENDAR_PUSHES = RecordedWork("calendar pushes", pushes_to_queue, mark_queued, SWEEP_AFTER)
BACKFILLS = RecordedWork(
    "backfills", backfills_to_queue, mark_backfills_queued, BACKFILL_STALLED_AFTER
)
SENDS = RecordedWork("sends", sends_to_queue, mark_sends_queued, SWEEP_AFTER)
# Parked messages (N2) carry their own next time to look (their deadline, then again if the
# decision's message was lost), so they are due when that time has come.
PARKED_MESSAGES = RecordedWork(
    "parked messages", parked_to_queue, mark_parked_queued, stale_after=timedelta(0)
)
# An offboarding saves its progress after each grant and batch: one silent this long lost
# its message and is queued again, to resume.
OFFBOARDINGS = RecordedWork(
    "offboardings", offboardings_to_queue, mark_offboardings_queued, BACKFILL_STALLED_AFTER
)
OVERDUE_DELIVERIES = RecordedWork(
    "overdue deliveries", overdue_deliveries, mark_deliveries_swept, SWEEP_AFTER
)


def dispatch_recorded(context: WorkerContext, work: RecordedWork, send: Send) -> int:
    """Queue what ``work`` finds; how many. Marked in the transaction that finds them, sent
    after it commits: a crash in between leaves them to the next sweep, and every actor
    ignores work already done, so a message queued twice is harmless."""
    now = context.clock()
    with transaction(context.engine) as session:
        found = list(work.find(session, now - work.stale_after))
        work.mark(session, found, now)
    for work_id in found:
        send(work_id)
    return len(found)


def dispatch_once(context: WorkerContext, send: Send) -> int:
    """One pass over the active subscriptions; how many deliveries were created and queued."""
    now = context.clock()
    created: list[int] = []
    with transaction(context.engine) as session:
        for subscription in dispatchable_subscriptions(session):
            position = FeedPosition(subscription.position_txid, subscription.position_seq)
            # A subscription receives only its organization's changes.
            page = read_changes(
                session,
                position,
                BATCH,
                org_id=subscription.org_id,
                types=subscription.event_types,
            )
            if page.changes:
                changes = [change_json(row) for row in page.changes]
                created += create_deliveries(session, subscription, changes, now)
            if page.next_position != position:
                subscription.position_txid = page.next_position.txid
                subscription.position_seq = page.next_position.seq
                session.add(subscription)
    for delivery_id in created:
        send(delivery_id)
    return len(created)


class Dispatcher(threading.Thread):
    """Runs :func:`dispatch_once`, the sweep of overdue deliveries and each recorded work
    every ``interval`` until stopped."""

    def __init__(
        self,
        context: WorkerContext,
        send: Send,
        recorded: Sequence[tuple[RecordedWork, Send]] = (),
        interval: timedelta = timedelta(seconds=0.5),
    ) -> None:
        super().__init__(name="crmsync-dispatcher", daemon=True)
        self.context = context
        self.send = send
        self.recorded = ((OVERDUE_DELIVERIES, send), *recorded)
        self.interval = interval
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.wait(self.interval.total_seconds()):
            try:
                dispatch_once(self.context, self.send)
            except redis.RedisError as error:
                REDIS_OUTAGE.failed(error)  # logged once per outage, not twice a second
            except Exception:  # logged and tried again at the next interval
                logger.exception("dispatching deliveries failed")
            for work, send in self.recorded:
                try:
                    dispatch_recorded(self.context, work, send)
                except redis.RedisError as error:
                    REDIS_OUTAGE.failed(error)
                except Exception:
                    logger.exception("dispatching %s failed", work.name)

    def stop(self) -> None:
        self._stopping.set()
