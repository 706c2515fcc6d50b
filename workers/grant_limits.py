"""Per-grant limits on calls to Nylas (A3), shared by every worker through Redis.

Nylas allows about 200 requests per second per grant, and Microsoft mailboxes serve at most
4 requests at once; one large mailbox (a backfill, a flood of notifications) must not use
those up, nor hold every worker thread while it waits. Each grant gets two of Dramatiq's
rate limiters on Redis: a window of calls per second and a number of calls in flight. A
call that finds no slot waits a moment, then gives up with :class:`GrantThrottled`: the
actor puts its message back on the queue with a short delay (:func:`defer`), freeing the
thread for other grants' work, and without spending a retry (being throttled is not a
failure).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import redis
from dramatiq import Broker
from dramatiq.middleware import CurrentMessage
from dramatiq.rate_limits import ConcurrentRateLimiter, RateLimiter, WindowRateLimiter
from dramatiq.rate_limits.backends import RedisBackend

# How long one call may wait for a slot before giving the thread back.
PATIENCE_SECONDS = 0.5
_POLL_SECONDS = 0.02


class GrantThrottled(Exception):
    """No slot for this grant now: the work goes back on the queue for ``delay_ms``."""

    def __init__(self, grant_id: str, delay_ms: int) -> None:
        super().__init__(f"grant {grant_id!r} is at its call limit; retrying in {delay_ms} ms")
        self.grant_id = grant_id
        self.delay_ms = delay_ms


@dataclass(frozen=True, slots=True)
class GrantLimits:
    """How much of Nylas one grant may use."""

    calls_per_second: int = 20
    concurrent_calls: int = 4


class GrantLimiter:
    """Acquires a slot for a grant's call under its rate and concurrency limits."""

    def __init__(
        self,
        client: redis.Redis,
        namespace: str,
        limits: GrantLimits,
        *,
        patience_seconds: float = PATIENCE_SECONDS,
    ) -> None:
        self._backend = RedisBackend(client=client)
        self._namespace = namespace
        self.limits = limits
        self._patience = patience_seconds
        self._limiters: dict[str, tuple[RateLimiter, RateLimiter]] = {}
        self._lock = threading.Lock()

    @contextmanager
    def slot(self, grant_id: str) -> Iterator[None]:
        """Hold a slot for one call of ``grant_id``.

        Raises:
            GrantThrottled: no slot came free within the patience.
        """
        concurrent, window = self._limiters_of(grant_id)
        deadline = time.monotonic() + self._patience
        while True:
            with ExitStack() as stack:
                if stack.enter_context(concurrent.acquire(raise_on_failure=False)) and (
                    stack.enter_context(window.acquire(raise_on_failure=False))
                ):
                    yield
                    return
            if time.monotonic() >= deadline:
                raise GrantThrottled(grant_id, delay_ms=1000)
            time.sleep(_POLL_SECONDS)

    def _limiters_of(self, grant_id: str) -> tuple[RateLimiter, RateLimiter]:
        with self._lock:
            found = self._limiters.get(grant_id)
            if found is None:
                prefix = f"{self._namespace}:nylas-limit:{grant_id}"
                found = (
                    ConcurrentRateLimiter(  # type: ignore[no-untyped-call]
                        self._backend,
                        f"{prefix}:in-flight",
                        limit=self.limits.concurrent_calls,
                        ttl=120_000,  # a slot a crashed worker held frees itself
                    ),
                    WindowRateLimiter(  # type: ignore[no-untyped-call]
                        self._backend,
                        f"{prefix}:per-second",
                        limit=self.limits.calls_per_second,
                        window=1,
                    ),
                )
                self._limiters[grant_id] = found
            return found


def defer(broker: Broker, throttled: GrantThrottled) -> None:
    """Put the message being processed back on its queue after ``throttled.delay_ms``.

    The copy is enqueued before the current message is acknowledged (the actor returns
    normally after this), so the work is never lost; its retry count is unchanged.
    """
    message: Any = CurrentMessage.get_current_message()
    if message is None:
        raise throttled
    broker.enqueue(message.copy(), delay=throttled.delay_ms)
