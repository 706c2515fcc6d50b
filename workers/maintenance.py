"""Housekeeping that runs beside the workers: pruning the change feed and the stored raw
notifications past their retention periods.

A thread of each worker process wakes once an interval and prunes; several processes doing
so at once is harmless (deleting what is already deleted deletes nothing).
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from storage.engine import transaction
from storage.feed import prune_changes
from storage.notifications import prune_notifications
from workers.context import WorkerContext

logger = logging.getLogger(__name__)


class Maintenance(threading.Thread):
    """Prunes changes older than ``change_retention`` and raw notifications older than
    ``raw_retention`` every ``interval`` until stopped."""

    def __init__(
        self,
        context: WorkerContext,
        change_retention: timedelta,
        interval: timedelta = timedelta(hours=1),
        raw_retention: timedelta | None = None,
    ) -> None:
        super().__init__(name="crmsync-maintenance", daemon=True)
        self.context = context
        self.change_retention = change_retention
        self.raw_retention = raw_retention
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
        if pruned or raw:
            logger.info("pruned %d changes and %d stored notifications", pruned, raw)
        return pruned

    def stop(self) -> None:
        self._stopping.set()
