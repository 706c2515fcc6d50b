"""Housekeeping that runs beside the workers: pruning the change feed, the stored raw
notifications, the settled deliveries to subscribers (kept as long as their changes) and the
hosted OAuth connection attempts past their retention periods.

A thread of each worker process wakes once an interval and prunes; several processes doing
so at once is harmless (deleting what is already deleted deletes nothing).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlmodel import Session

from domain.oauth_state import ATTEMPT_RETENTION
from storage.connect_attempts import PRUNE_BATCH, prune_connect_attempts
from storage.engine import transaction
from storage.feed import prune_changes
from storage.notifications import prune_notifications
from storage.subscriptions import prune_deliveries
from workers.context import WorkerContext

logger = logging.getLogger(__name__)

# At most this many batches of each kind per pass: a flood (of connect requests, of
# deliveries) is worked off over a few passes instead of holding one pass (and the database)
# for long.
MAX_PRUNE_BATCHES = 100

Prune = Callable[[Session, datetime, int], int]  # deletes a batch before a time; how many


class Maintenance(threading.Thread):
    """Prunes changes and settled deliveries older than ``change_retention``, raw
    notifications older than ``raw_retention`` and connection attempts older than
    ``attempt_retention`` every ``interval`` until stopped."""

    def __init__(
        self,
        context: WorkerContext,
        change_retention: timedelta,
        interval: timedelta = timedelta(hours=1),
        raw_retention: timedelta | None = None,
        attempt_retention: timedelta = ATTEMPT_RETENTION,
        prune_batch: int = PRUNE_BATCH,
    ) -> None:
        super().__init__(name="crmsync-maintenance", daemon=True)
        self.context = context
        self.change_retention = change_retention
        self.raw_retention = raw_retention
        self.attempt_retention = attempt_retention
        self.prune_batch = prune_batch
        self.interval = interval
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.wait(self.interval.total_seconds()):
            try:
                self.run_once()
            except Exception:  # logged and retried at the next interval
                logger.exception("maintenance failed")

    def run_once(self) -> int:
        """Prune once now; how many changes were deleted."""
        now = self.context.clock()
        with transaction(self.context.engine) as session:
            pruned = prune_changes(session, now - self.change_retention, now)
            raw = 0
            if self.raw_retention is not None:
                raw = prune_notifications(session, now - self.raw_retention)
        deliveries = self._in_batches(prune_deliveries, now - self.change_retention)
        attempts = self._in_batches(prune_connect_attempts, now - self.attempt_retention)
        if pruned or raw or deliveries or attempts:
            logger.info(
                "pruned %d changes, %d stored notifications, %d deliveries and %d connection "
                "attempts",
                pruned,
                raw,
                deliveries,
                attempts,
            )
        return pruned

    def _in_batches(self, prune: Prune, before: datetime) -> int:
        """What ``prune`` deletes before ``before``, a bounded batch per transaction."""
        total = 0
        for _ in range(MAX_PRUNE_BATCHES):
            with transaction(self.context.engine) as session:
                deleted = prune(session, before, self.prune_batch)
            total += deleted
            if deleted < self.prune_batch:
                break
        return total

    def stop(self) -> None:
        self._stopping.set()
