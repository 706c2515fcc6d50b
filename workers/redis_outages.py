"""How a Redis outage is logged: once when it starts, once when it ends (with how long it
lasted), and ``critical`` only when it outlasts :data:`CRITICAL_AFTER`.

The system rides out a Redis blip by itself (RELIABILITY.md): workers reconnect, the ingress
answers 503 and Nylas retries. Dramatiq, though, logs every consumer's every reconnection
attempt as ``critical`` ("Consumer encountered a connection error") and every failed ack as a
warning: dozens of lines per worker for a few seconds, and an alert on ``critical`` pages for
nothing. :class:`RedisOutage` keeps one view per process of whether Redis is reachable, fed
by the workers' liveness timer (``workers.liveness``) and by those Dramatiq lines themselves;
:class:`DramatiqConnectionLines` lets through at most one of them per
:data:`REPEAT_EVERY`, at ``warning`` until the outage is long.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

# An outage this long is worth a page: Redis does not come back by itself, or the network.
CRITICAL_AFTER = 60.0
# While Redis stays unreachable, Dramatiq's connection lines get through at most this often.
REPEAT_EVERY = 30.0

# What Dramatiq logs when Redis cannot be reached (dramatiq.worker, version 2).
_CONNECTION_LINES = (
    "Consumer encountered a connection error",
    "due to a connection error",
)
_RESTART_LINE = "Restarting consumer in"


class RedisOutage:
    """Whether this process can reach Redis, and since when it cannot."""

    def __init__(
        self,
        *,
        critical_after: float = CRITICAL_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.critical_after = critical_after
        self._clock = clock
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._escalated = False

    def failed(self, error: object) -> None:
        """A Redis command failed: the first failure starts the outage (a warning); one that
        comes once it has lasted :attr:`critical_after` is logged ``critical``, once."""
        with self._lock:
            now = self._clock()
            if self._down_since is None:
                self._down_since = now
                starting, escalate = True, False
            else:
                starting = False
                escalate = not self._escalated and now - self._down_since >= self.critical_after
                self._escalated = self._escalated or escalate
            lasted = now - self._down_since
        if starting:
            logger.warning("Redis unreachable: %s", error, extra={"redis_outage": "started"})
        elif escalate:
            logger.critical(
                "Redis unreachable for %.0f s: %s",
                lasted,
                error,
                extra={"redis_outage": "long", "outage_seconds": round(lasted, 1)},
            )

    def succeeded(self) -> None:
        """A Redis command worked: an outage in progress is over (a warning with its length).

        Called on every notification the ingress queues: with no outage it reads one
        attribute and takes no lock (a stale read only defers the end by one call).
        """
        if self._down_since is None:
            return
        with self._lock:
            if self._down_since is None:
                return
            lasted = self._clock() - self._down_since
            self._down_since, self._escalated = None, False
        logger.warning(
            "Redis reachable again after %.1f s",
            lasted,
            extra={"redis_outage": "ended", "outage_seconds": round(lasted, 1)},
        )

    def lasted(self) -> float | None:
        """How long the outage in progress has lasted; None when Redis is reachable."""
        with self._lock:
            return None if self._down_since is None else self._clock() - self._down_since


class DramatiqConnectionLines(logging.Filter):
    """A handler filter for Dramatiq's lines about a lost Redis connection: each one counts
    as a failure of ``outage``; at most one gets through per ``repeat_every`` seconds, as a
    warning, or as ``critical`` once the outage has lasted its ``critical_after``."""

    def __init__(
        self,
        outage: RedisOutage,
        *,
        repeat_every: float = REPEAT_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.outage = outage
        self.repeat_every = repeat_every
        self._clock = clock
        self._lock = threading.Lock()
        self._last_passed: float | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("dramatiq"):
            return True
        if _is_restart_line(record):
            # Each consumer says it restarts, every few seconds: the outage's lines say it.
            return self.outage.lasted() is None
        if not _is_connection_line(record):
            return True
        self.outage.failed(record.getMessage().splitlines()[0])
        now = self._clock()
        with self._lock:
            if self._last_passed is not None and now - self._last_passed < self.repeat_every:
                return False
            self._last_passed = now
        lasted = self.outage.lasted() or 0.0
        level = logging.CRITICAL if lasted >= self.outage.critical_after else logging.WARNING
        record.levelno, record.levelname = level, logging.getLevelName(level)
        return True


def _is_restart_line(record: logging.LogRecord) -> bool:
    message = record.msg if isinstance(record.msg, str) else ""
    return message.startswith(_RESTART_LINE)


def _is_connection_line(record: logging.LogRecord) -> bool:
    message = record.msg if isinstance(record.msg, str) else ""
    return any(line in message for line in _CONNECTION_LINES)


# One view per process: the liveness timer and the log filter share it.
REDIS_OUTAGE = RedisOutage()
