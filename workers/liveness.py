"""A worker process's heartbeat and the requeue of dead workers' messages, on a timer.

Dramatiq's Redis broker puts back the messages a killed worker had fetched during its
"maintenance", which runs with each broker command with a chance of
``maintenance_chance`` in a million: on its defaults a killed worker's messages came back
minutes after a restart. And a worker heartbeats only when one of its consumers polls, so a
process whose threads are all busy may look dead. :class:`WorkerLiveness` runs in every
worker process: every :data:`INTERVAL` it heartbeats for the process and puts back the
messages of every worker silent for the heartbeat timeout (``workers/requeue.lua``), so on
the defaults (15 s) they are back within about 20 s of the kill (RELIABILITY.md). Its result
also tells :data:`workers.redis_outages.REDIS_OUTAGE` whether Redis is reachable.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import timedelta
from importlib.resources import files

import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis, dq_name

from workers.redis_outages import REDIS_OUTAGE, RedisOutage

logger = logging.getLogger(__name__)

INTERVAL = timedelta(seconds=5)
_SCRIPT = files("workers").joinpath("requeue.lua").read_text()


def beat_interval(heartbeat_timeout: timedelta) -> timedelta:
    """How often a live worker beats: :data:`INTERVAL`, or a third of the heartbeat timeout
    when that is shorter, so that a live worker misses two beats before it looks dead."""
    return min(INTERVAL, heartbeat_timeout / 3)


class WorkerLiveness(threading.Thread):
    """Heartbeats for ``broker`` and requeues silent workers' messages on ``queues`` (and
    their delay queues) every ``interval`` until stopped."""

    def __init__(
        self,
        broker: RedisBroker,
        queues: Sequence[str],
        interval: timedelta | None = None,
        outage: RedisOutage = REDIS_OUTAGE,
    ) -> None:
        super().__init__(name="crmsync-liveness", daemon=True)
        self.broker = broker
        self.queue_names = [name for queue in queues for name in (queue, dq_name(queue))]
        self.interval = interval or beat_interval(timedelta(milliseconds=broker.heartbeat_timeout))
        self.outage = outage
        self._script = broker.client.register_script(_SCRIPT)
        self._stopping = threading.Event()

    def run(self) -> None:
        while True:
            try:
                self.run_once()
            except redis.RedisError as error:
                self.outage.failed(error)
            except Exception:  # logged and tried again at the next interval
                logger.exception("requeueing dead workers' messages failed")
            if self._stopping.wait(self.interval.total_seconds()):
                return

    def run_once(self) -> int:
        """Heartbeat and requeue once now; how many messages were put back."""
        requeued = int(
            self._script(
                keys=[f"{self.broker.namespace}:__heartbeats__"],
                args=[
                    self.broker.namespace,
                    current_millis(),
                    self.broker.heartbeat_timeout,
                    self.broker.broker_id,
                    *self.queue_names,
                ],
            )
        )
        self.outage.succeeded()
        if requeued:
            logger.warning(
                "requeued %d messages of worker processes that stopped",
                requeued,
                extra={"requeued": requeued},
            )
        return requeued

    def stop(self) -> None:
        self._stopping.set()
