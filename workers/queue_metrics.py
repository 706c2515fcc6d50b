"""Queue depths, dead letters and ages as Prometheus gauges, read from Redis at scrape time.

These are facts about Redis, not about one process: counting them in a process as messages
come and go would drift (another process consumes, a dead letter expires, an operator
replays), so every scrape reads them afresh with :func:`workers.queue_status.queue_status`,
the same reading ``crmsync status`` prints. A scrape while Redis is down still answers, with
``crmsync_queue_scrape_ok 0`` and without the queue gauges, so the process's other metrics
are not lost with them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

import redis
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from workers.context import utc_now
from workers.queue_status import QueueStatus, queue_status

logger = logging.getLogger(__name__)


class QueueMetrics(Collector):
    """Collects ``crmsync_queue_messages`` and ``crmsync_queue_oldest_age_seconds`` per queue."""

    def __init__(
        self,
        client: redis.Redis,
        namespace: str,
        queues: Sequence[str],
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._client = client
        self._namespace = namespace
        self._queues = tuple(queues)
        self._clock = clock

    def describe(self) -> Iterable[Metric]:
        """Nothing: registering the collector must not read Redis (nor fail when it is down)."""
        return ()

    def collect(self) -> Iterable[Metric]:
        """Read every queue now; on any failure, only say the reading failed."""
        now = self._clock()
        try:
            statuses = [queue_status(self._client, self._namespace, q) for q in self._queues]
        except Exception as error:  # a scrape must answer whatever Redis holds or does
            logger.warning(
                "queue metrics skipped: %s: %s",
                type(error).__name__,
                error,
                exc_info=not isinstance(error, redis.RedisError),
            )
            statuses = None
        yield GaugeMetricFamily(
            "crmsync_queue_scrape_ok",
            "1 when the queue gauges could be read from Redis for this scrape, else 0.",
            value=0 if statuses is None else 1,
        )
        if statuses is not None:
            yield from _queue_families(statuses, now)


def _queue_families(statuses: Sequence[QueueStatus], now: datetime) -> Iterable[Metric]:
    messages = GaugeMetricFamily(
        "crmsync_queue_messages",
        "Messages per queue by state: ready (waiting), in_progress (fetched by a worker, not "
        "acknowledged), delayed (waiting out a retry's backoff), dead (dead letters).",
        labels=["queue", "state"],
    )
    ages = GaugeMetricFamily(
        "crmsync_queue_oldest_age_seconds",
        "Age, from first enqueue, of the oldest ready message and of the oldest dead letter "
        "per queue; 0 when there is none.",
        labels=["queue", "state"],
    )
    for status in statuses:
        for state, count in (
            ("ready", status.ready),
            ("in_progress", status.in_progress),
            ("delayed", status.delayed),
            ("dead", status.dead_letters),
        ):
            messages.add_metric([status.queue, state], count)
        for state, oldest in (
            ("ready", status.oldest_ready_at),
            ("dead", status.oldest_dead_letter_at),
        ):
            age = 0.0 if oldest is None else max((now - oldest).total_seconds(), 0.0)
            ages.add_metric([status.queue, state], age)
    return (messages, ages)
