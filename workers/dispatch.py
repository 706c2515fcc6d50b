"""Queueing work recorded in the database: deliveries to subscribers (S3), calendar pushes.

Each pass locks the active subscriptions (other dispatchers skip them), reads the feed after
each one's position with its type filter, creates one delivery per change (insert-or-ignore
on (subscription, change)), moves the position, commits, and only then queues the new
deliveries. A crash between the commit and the queueing leaves pending deliveries without a
message: the sweep queues again any pending delivery long overdue, and the actor ignores a
delivery already done, so a message queued twice is harmless.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from storage.action_items import mark_queued, pushes_to_queue
from storage.engine import transaction
from storage.feed import FeedPosition, change_json, read_changes
from storage.subscriptions import create_deliveries, dispatchable_subscriptions, overdue_deliveries
from workers.context import WorkerContext

logger = logging.getLogger(__name__)

BATCH = 500
# A pending delivery whose attempt is this late lost its queue message: queue it again.
SWEEP_AFTER = timedelta(minutes=10)

Send = Callable[[int], object]  # queues one delivery (or one action item push) by id


def dispatch_pushes(context: WorkerContext, send: Send) -> int:
    """Queue the action items waiting to be written to a calendar; how many were queued.

    Marked queued in the same transaction that finds them, and queued after it commits; an
    item queued long ago and still pending without an error lost its message and goes again.
    """
    now = context.clock()
    with transaction(context.engine) as session:
        item_ids = pushes_to_queue(session, now - SWEEP_AFTER)
        mark_queued(session, item_ids, now)
    for item_id in item_ids:
        send(item_id)
    return len(item_ids)


def dispatch_once(context: WorkerContext, send: Send) -> int:
    """One pass over the active subscriptions; how many deliveries were queued."""
    now = context.clock()
    created: list[int] = []
    with transaction(context.engine) as session:
        for subscription in dispatchable_subscriptions(session):
            position = FeedPosition(subscription.position_txid, subscription.position_seq)
            page = read_changes(session, position, BATCH, types=subscription.event_types)
            if page.changes:
                changes = [change_json(row) for row in page.changes]
                created += create_deliveries(session, subscription, changes, now)
            if page.next_position != position:
                subscription.position_txid = page.next_position.txid
                subscription.position_seq = page.next_position.seq
                session.add(subscription)
        overdue = overdue_deliveries(session, now - SWEEP_AFTER)
    for delivery_id in [*created, *overdue]:
        send(delivery_id)
    return len(created) + len(overdue)


class Dispatcher(threading.Thread):
    """Runs :func:`dispatch_once` every ``interval`` until stopped."""

    def __init__(
        self,
        context: WorkerContext,
        send: Send,
        push: Send | None = None,
        interval: timedelta = timedelta(seconds=0.5),
    ) -> None:
        super().__init__(name="crmsync-dispatcher", daemon=True)
        self.context = context
        self.send = send
        self.push = push
        self.interval = interval
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.wait(self.interval.total_seconds()):
            try:
                dispatch_once(self.context, self.send)
                if self.push is not None:
                    dispatch_pushes(self.context, self.push)
            except Exception:  # logged and tried again at the next interval
                logger.exception("dispatching deliveries failed")

    def stop(self) -> None:
        self._stopping.set()
